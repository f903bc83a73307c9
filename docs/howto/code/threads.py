"""Blocking work in threads, and other threads handing work to the kernel."""

import threading
import time

import yieldloop as yl


def blocking_io(n):
    time.sleep(0.01)  # a blocking call: it must not run in the kernel's thread
    return n * n


async def main():
    # 1. to_thread(): the task waits, the other tasks keep running.
    results = await yl.gather(*[yl.to_thread(blocking_io, n) for n in range(4)])
    print("to_thread:", results)

    # 2. From another thread: wake the kernel and set an event it owns.
    kernel = yl.current_kernel()
    ready = yl.Event()
    threading.Thread(target=lambda: kernel.call_soon_threadsafe(ready.set)).start()
    await ready.wait()
    print("event set from a thread")

    # 3. From another thread: run a coroutine as a task and wait for its result.
    async def double(x):
        await yl.sleep(0.01)
        return 2 * x

    answer = []
    worker = threading.Thread(
        target=lambda: answer.append(kernel.run_coroutine_threadsafe(double(21)).result(timeout=5)))
    worker.start()
    while worker.is_alive():  # the kernel must keep running for the task to finish
        await yl.sleep(0.005)
    print("run_coroutine_threadsafe:", answer[0])


yl.run(main)
