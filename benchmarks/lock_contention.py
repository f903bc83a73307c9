"""Lock contention: N tasks take turns on one lock, yielding inside it.

Every acquisition but the first of a round has to wait, so the figure (time
per acquisition) is the cost of a contended lock: park, release, FIFO
hand-over and wake-up.
"""

import time

TITLE = "lock contention"
UNIT = "ns/acquire"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
PARAMS = {"quick": {"tasks": 50, "rounds": 200}, "full": {"tasks": 100, "rounds": 500}}


def ops(tasks, rounds):
    return tasks * rounds


def yieldloop(tasks, rounds):
    import yieldloop as yl

    sleep = yl.sleep

    async def worker(lock):
        for _ in range(rounds):
            async with lock:
                await sleep(0)

    async def main():
        lock = yl.Lock()
        t0 = time.perf_counter()
        await yl.gather(*[worker(lock) for _ in range(tasks)])
        return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, tasks, rounds):
    import asyncio

    from .runtimes import run_asyncio

    sleep = asyncio.sleep

    async def worker(lock):
        for _ in range(rounds):
            async with lock:
                await sleep(0)

    async def main():
        lock = asyncio.Lock()
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(lock) for _ in range(tasks)])
        return time.perf_counter() - t0

    return run_asyncio(runtime, main)


def asyncio(tasks, rounds):
    return _asyncio("asyncio", tasks, rounds)


def uvloop(tasks, rounds):
    return _asyncio("uvloop", tasks, rounds)


def yieldloop_loop(tasks, rounds):
    return _asyncio("yieldloop-loop", tasks, rounds)


def trio(tasks, rounds):
    import trio as _trio

    async def worker(lock):
        for _ in range(rounds):
            async with lock:
                await _trio.sleep(0)

    async def main():
        lock = _trio.Lock()
        t0 = time.perf_counter()
        async with _trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(worker, lock)
        return time.perf_counter() - t0

    return _trio.run(main)
