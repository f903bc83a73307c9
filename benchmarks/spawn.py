"""Spawn + join: start N short tasks, then wait for each of them.

The figure is the time per task, from spawn to joined. Each task does one
``sleep(0)`` so that it really is scheduled, suspended and resumed.
"""

import time

TITLE = "spawn + join"
UNIT = "ns/task"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio", "floor")
PARAMS = {"quick": {"tasks": 20000}, "full": {"tasks": 100000}}


def ops(tasks):
    return tasks


def yieldloop(tasks):
    import yieldloop as yl

    sleep, spawn = yl.sleep, yl.spawn

    async def child(i):
        await sleep(0)
        return i

    async def main():
        t0 = time.perf_counter()
        started = [spawn(child, i) for i in range(tasks)]
        for t in started:
            await t
        return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, tasks):
    import asyncio

    from .runtimes import run_asyncio

    sleep = asyncio.sleep

    async def child(i):
        await sleep(0)
        return i

    async def main():
        create = asyncio.get_running_loop().create_task
        t0 = time.perf_counter()
        started = [create(child(i)) for i in range(tasks)]
        for t in started:
            await t
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

    async def child(i):
        await _trio.sleep(0)

    async def main():
        t0 = time.perf_counter()
        async with _trio.open_nursery() as nursery:
            for i in range(tasks):
                nursery.start_soon(child, i)
        return time.perf_counter() - t0

    return _trio.run(main)


def floor(tasks):
    """Create each coroutine, step it to its first yield, then finish it."""

    class GiveWay:
        __slots__ = ()

        def __await__(self):
            yield

    give_way = GiveWay()

    async def child(i):
        await give_way
        return i

    t0 = time.perf_counter()
    started = [child(i) for i in range(tasks)]
    for c in started:
        c.send(None)
    for c in started:
        try:
            c.send(None)
        except StopIteration:
            pass
    return time.perf_counter() - t0
