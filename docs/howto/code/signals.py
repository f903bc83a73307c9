"""Signals received by a task: reload on SIGHUP, stop cleanly on SIGTERM."""

import os
import signal

import yieldloop as yl


async def operator():
    # What an operator does from a shell: kill -HUP <pid>, later kill -TERM <pid>.
    await yl.sleep(0.01)
    os.kill(os.getpid(), signal.SIGHUP)
    await yl.sleep(0.01)
    os.kill(os.getpid(), signal.SIGTERM)


async def main():
    version = 1
    async with yl.open_signal_receiver(signal.SIGHUP, signal.SIGTERM) as sigs:
        print("handler installed:", signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)
        yl.spawn(operator)
        async for signum in sigs:
            if signum == signal.SIGHUP:
                version += 1
                print("SIGHUP: configuration reloaded, now version", version)
            else:
                print("SIGTERM: shutting down cleanly")
                break
    print("previous handler back:", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)


def generator_main():
    # The same from a plain generator: `with`, and `yield from` (or `yield`).
    with yl.open_signal_receiver(signal.SIGUSR1) as sigs:
        os.kill(os.getpid(), signal.SIGUSR1)
        signum = yield from sigs.receive()
        print("generator received", signal.Signals(signum).name)


yl.run(main)
yl.run(generator_main)
