"""Timer schedule + cancel: many timeouts set, then all called off.

``timers`` call_later(delay, callback) calls, with delays spread between
1 and 60 seconds (like the timeouts of pending reads), then ``cancel()``
on each of the handles; none of the callbacks ever runs. What is timed
runs from the first call_later() to the moment the loop is idle again:
after the last cancel() one more timer is scheduled with a delay of zero
and the clock stops when its callback runs. By then each loop has gone
through one more iteration and dropped the cancelled timers its own way:
asyncio rebuilds its heap in that iteration (more than half its timers
are cancelled), uvloop took each out of libuv's heap at cancel(), and
yieldloop's timer heap compacts itself while the cancels come in. The
figure is the time per timer (one schedule and one cancel).

The native kernel takes part through its own public timer calls
(``yieldloop.current_kernel().call_later()``, whose handle cancels the
same way); trio has no callback timers and is left out.
"""

import random
import time

TITLE = "timer schedule + cancel"
UNIT = "ns/timer"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop")
PARAMS = {"quick": {"timers": 20000}, "full": {"timers": 200000}}


def ops(timers):
    return timers


def _delays(timers):
    rng = random.Random(11)
    return [1.0 + rng.random() * 59.0 for _ in range(timers)]


def _never():  # the cancelled timers' callback
    raise AssertionError("a cancelled timer ran")


def _schedule_and_cancel(call_later, delays):
    handles = [call_later(d, _never) for d in delays]
    for h in handles:
        h.cancel()


def yieldloop(timers):
    import yieldloop as yl

    delays = _delays(timers)

    async def main():
        kernel = yl.current_kernel()
        idle = yl.Event()
        end = []

        def last():
            end.append(time.perf_counter())
            idle.set()

        t0 = time.perf_counter()
        _schedule_and_cancel(kernel.call_later, delays)
        kernel.call_later(0, last)
        await idle.wait()
        return end[0] - t0

    return yl.run(main)


def _asyncio(runtime, timers):
    import asyncio

    from .runtimes import run_asyncio

    delays = _delays(timers)

    async def main():
        loop = asyncio.get_running_loop()
        idle = loop.create_future()

        def last():
            idle.set_result(time.perf_counter())

        t0 = time.perf_counter()
        _schedule_and_cancel(loop.call_later, delays)
        loop.call_later(0, last)
        return await idle - t0

    return run_asyncio(runtime, main)


def asyncio(timers):
    return _asyncio("asyncio", timers)


def uvloop(timers):
    return _asyncio("uvloop", timers)


def yieldloop_loop(timers):
    return _asyncio("yieldloop-loop", timers)
