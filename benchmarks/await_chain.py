"""Await-chain depth: a switch from the bottom of a chain of nested coroutines.

Each task awaits a coroutine that awaits another, ``depth`` levels down;
the innermost gives way with ``sleep(0)`` again and again. Every switch
travels up through all the frames of the chain and back down, which is
the Python part of a switch; the figure is the time per switch.
"""

import time

TITLE = "await chain"
UNIT = "ns/switch"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
CASES = {
    "depth 10": {
        "quick": {"tasks": 20, "depth": 10, "switches": 1000},
        "full": {"tasks": 20, "depth": 10, "switches": 5000},
    },
    "depth 100": {
        "quick": {"tasks": 20, "depth": 100, "switches": 300},
        "full": {"tasks": 20, "depth": 100, "switches": 1500},
    },
}


def ops(tasks, depth, switches):
    return tasks * switches


def _chain(sleep, depth, switches):
    async def level(n):
        if n == 0:
            for _ in range(switches):
                await sleep(0)
        else:
            await level(n - 1)

    return level(depth)


def yieldloop(tasks, depth, switches):
    import yieldloop as yl

    async def main():
        started = [yl.spawn(_chain(yl.sleep, depth, switches)) for _ in range(tasks)]
        t0 = time.perf_counter()
        for t in started:
            await t
        return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, tasks, depth, switches):
    import asyncio

    from .runtimes import run_asyncio

    async def main():
        started = [asyncio.ensure_future(_chain(asyncio.sleep, depth, switches))
                   for _ in range(tasks)]
        t0 = time.perf_counter()
        for t in started:
            await t
        return time.perf_counter() - t0

    return run_asyncio(runtime, main)


def asyncio(tasks, depth, switches):
    return _asyncio("asyncio", tasks, depth, switches)


def uvloop(tasks, depth, switches):
    return _asyncio("uvloop", tasks, depth, switches)


def yieldloop_loop(tasks, depth, switches):
    return _asyncio("yieldloop-loop", tasks, depth, switches)


def trio(tasks, depth, switches):
    import trio as _trio

    async def run_chain():
        await _chain(_trio.sleep, depth, switches)

    async def main():
        t0 = time.perf_counter()
        async with _trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(run_chain)
        return time.perf_counter() - t0

    return _trio.run(main)
