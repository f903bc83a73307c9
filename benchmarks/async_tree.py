"""Async tree: pyperformance's async_tree, a recursive fan-out of gathers.

Each node gathers ``branches`` children, ``levels`` deep; a leaf gives way
once with ``sleep(0)``. It creates and joins many short tasks in bursts,
like a server fanning out requests. The figure is the time per node.
"""

import time

TITLE = "async tree (gather)"
UNIT = "ns/node"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
PARAMS = {"quick": {"levels": 5, "branches": 6}, "full": {"levels": 6, "branches": 6}}


def ops(levels, branches):
    return sum(branches ** k for k in range(levels + 1))


def yieldloop(levels, branches):
    import yieldloop as yl

    async def recurse(depth):
        if depth == 0:
            await yl.sleep(0)
            return
        await yl.gather(*[recurse(depth - 1) for _ in range(branches)])

    async def main():
        t0 = time.perf_counter()
        await recurse(levels)
        return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, levels, branches):
    import asyncio

    from .runtimes import run_asyncio

    async def recurse(depth):
        if depth == 0:
            await asyncio.sleep(0)
            return
        await asyncio.gather(*[recurse(depth - 1) for _ in range(branches)])

    async def main():
        t0 = time.perf_counter()
        await recurse(levels)
        return time.perf_counter() - t0

    return run_asyncio(runtime, main)


def asyncio(levels, branches):
    return _asyncio("asyncio", levels, branches)


def uvloop(levels, branches):
    return _asyncio("uvloop", levels, branches)


def yieldloop_loop(levels, branches):
    return _asyncio("yieldloop-loop", levels, branches)


def trio(levels, branches):
    import trio as _trio

    async def recurse(depth):
        if depth == 0:
            await _trio.sleep(0)
            return
        async with _trio.open_nursery() as nursery:
            for _ in range(branches):
                nursery.start_soon(recurse, depth - 1)

    async def main():
        t0 = time.perf_counter()
        await recurse(levels)
        return time.perf_counter() - t0

    return _trio.run(main)
