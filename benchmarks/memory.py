"""Memory per sleeping task: the resident memory 100,000 sleeping tasks take.

Each task is a coroutine sleeping for an hour; once they all sleep, the
growth of the process's resident set size, divided by the number of tasks,
is the figure: what a task, its coroutine, its context and its pending
sleep cost. Measured in a fresh process, with no warm-up.
"""

import gc
import os

TITLE = "memory per sleeping task"
UNIT = "bytes/task"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
PARAMS = {"quick": {"tasks": 100000}, "full": {"tasks": 100000}}
WARMUP = False


def _rss():
    """Resident set size in bytes (Linux /proc, else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


async def _sleeper(sleep):
    await sleep(3600)


def yieldloop(tasks):
    import yieldloop as yl

    async def main():
        gc.collect()
        before = _rss()
        started = [yl.spawn(_sleeper(yl.sleep)) for _ in range(tasks)]
        await yl.sleep(0)            # let every task reach its sleep
        gc.collect()
        per_task = (_rss() - before) / tasks
        for t in started:
            t.cancel()
        return per_task

    return yl.run(main)


def _asyncio(runtime, tasks):
    import asyncio

    from .runtimes import run_asyncio

    async def main():
        gc.collect()
        before = _rss()
        started = [asyncio.ensure_future(_sleeper(asyncio.sleep)) for _ in range(tasks)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        gc.collect()
        per_task = (_rss() - before) / tasks
        for t in started:
            t.cancel()
        await asyncio.gather(*started, return_exceptions=True)
        return per_task

    return run_asyncio(runtime, main)


def asyncio(tasks):
    return _asyncio("asyncio", tasks)


def uvloop(tasks):
    return _asyncio("uvloop", tasks)


def yieldloop_loop(tasks):
    return _asyncio("yieldloop-loop", tasks)


def trio(tasks):
    import trio as _trio

    async def main():
        result = []
        async with _trio.open_nursery() as nursery:
            gc.collect()
            before = _rss()
            for _ in range(tasks):
                nursery.start_soon(_sleeper, _trio.sleep)
            await _trio.sleep(0.01)
            gc.collect()
            result.append((_rss() - before) / tasks)
            nursery.cancel_scope.cancel()
        return result[0]

    return _trio.run(main)
