"""Context switch: N tasks each give way K times with ``sleep(0)``.

The figure is the time per switch. The floor is a pure-Python scheduler at
its barest: a deque of coroutines resumed with ``send(None)``, each awaiting
a minimal awaitable that yields once; no timers, no I/O, no Python-level
dispatch. A C run loop should beat it.
"""

import collections
import time

TITLE = "context switch"
UNIT = "ns/switch"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio", "floor")
PARAMS = {"quick": {"tasks": 100, "switches": 1000}, "full": {"tasks": 100, "switches": 5000}}


def ops(tasks, switches):
    return tasks * switches


def yieldloop(tasks, switches):
    import yieldloop as yl

    sleep = yl.sleep

    async def worker():
        for _ in range(switches):
            await sleep(0)

    async def main():
        started = [yl.spawn(worker) for _ in range(tasks)]
        t0 = time.perf_counter()
        for t in started:
            await t
        return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, tasks, switches):
    import asyncio

    from .runtimes import run_asyncio

    sleep = asyncio.sleep

    async def worker():
        for _ in range(switches):
            await sleep(0)

    async def main():
        started = [asyncio.ensure_future(worker()) for _ in range(tasks)]
        t0 = time.perf_counter()
        for t in started:
            await t
        return time.perf_counter() - t0

    return run_asyncio(runtime, main)


def asyncio(tasks, switches):
    return _asyncio("asyncio", tasks, switches)


def uvloop(tasks, switches):
    return _asyncio("uvloop", tasks, switches)


def yieldloop_loop(tasks, switches):
    return _asyncio("yieldloop-loop", tasks, switches)


def trio(tasks, switches):
    import trio as _trio

    async def worker():
        for _ in range(switches):
            await _trio.sleep(0)

    async def main():
        t0 = time.perf_counter()
        async with _trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(worker)
        return time.perf_counter() - t0

    return _trio.run(main)


class _GiveWay:
    __slots__ = ()

    def __await__(self):
        yield


def floor(tasks, switches):
    give_way = _GiveWay()

    async def worker():
        for _ in range(switches):
            await give_way

    ready = collections.deque(worker() for _ in range(tasks))
    pop, push = ready.popleft, ready.append
    t0 = time.perf_counter()
    while ready:
        coro = pop()
        try:
            coro.send(None)
        except StopIteration:
            continue
        push(coro)
    return time.perf_counter() - t0
