"""Timers: many tasks sleep for random short delays at once.

The delays are tiny (under a millisecond), so the figure, the time per
sleeper from the first spawn to the last wake-up, is the cost of the timer
machinery itself: scheduling, the heap, and waking in deadline order.
"""

import random
import time

TITLE = "timers"
UNIT = "ns/timer"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
PARAMS = {"quick": {"tasks": 20000}, "full": {"tasks": 100000}}


def ops(tasks):
    return tasks


def _delays(tasks):
    rng = random.Random(42)
    return [rng.random() * 0.001 for _ in range(tasks)]


def yieldloop(tasks):
    import yieldloop as yl

    sleep = yl.sleep
    delays = _delays(tasks)

    async def sleeper(d):
        await sleep(d)

    async def main():
        t0 = time.perf_counter()
        await yl.gather(*[sleeper(d) for d in delays])
        return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, tasks):
    import asyncio

    from .runtimes import run_asyncio

    sleep = asyncio.sleep
    delays = _delays(tasks)

    async def sleeper(d):
        await sleep(d)

    async def main():
        t0 = time.perf_counter()
        await asyncio.gather(*[sleeper(d) for d in delays])
        return time.perf_counter() - t0

    return run_asyncio(runtime, main)


def asyncio(tasks):
    return _asyncio("asyncio", tasks)


def uvloop(tasks):
    return _asyncio("uvloop", tasks)


def yieldloop_loop(tasks):
    return _asyncio("yieldloop-loop", tasks)


def trio(tasks):
    import trio as _trio

    delays = _delays(tasks)

    async def main():
        t0 = time.perf_counter()
        async with _trio.open_nursery() as nursery:
            for d in delays:
                nursery.start_soon(_trio.sleep, d)
        return time.perf_counter() - t0

    return _trio.run(main)
