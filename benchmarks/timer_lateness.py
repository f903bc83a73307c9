"""Timer lateness: how long after its deadline a sleeping task runs again.

1,000 tasks sleep random delays between 5 and 50 ms; each notes how late
it woke (its clock after the sleep minus the deadline). The figure is the
median lateness: what the loop adds to a sleep while it is busy waking
the others.
"""

import random
import statistics
import time

TITLE = "timer lateness"
UNIT = "us late (median)"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
PARAMS = {"quick": {"tasks": 1000}, "full": {"tasks": 5000}}
WARMUP = False


def _delays(tasks):
    rng = random.Random(7)
    return [0.005 + rng.random() * 0.045 for _ in range(tasks)]


def _median_us(lateness):
    return statistics.median(lateness) * 1e6


def yieldloop(tasks):
    import yieldloop as yl

    late = []

    async def sleeper(d):
        deadline = time.monotonic() + d
        await yl.sleep(d)
        late.append(time.monotonic() - deadline)

    async def main():
        await yl.gather(*[sleeper(d) for d in _delays(tasks)])

    yl.run(main)
    return _median_us(late)


def _asyncio(runtime, tasks):
    import asyncio

    from .runtimes import run_asyncio

    late = []

    async def sleeper(d):
        deadline = time.monotonic() + d
        await asyncio.sleep(d)
        late.append(time.monotonic() - deadline)

    async def main():
        await asyncio.gather(*[sleeper(d) for d in _delays(tasks)])

    run_asyncio(runtime, main)
    return _median_us(late)


def asyncio(tasks):
    return _asyncio("asyncio", tasks)


def uvloop(tasks):
    return _asyncio("uvloop", tasks)


def yieldloop_loop(tasks):
    return _asyncio("yieldloop-loop", tasks)


def trio(tasks):
    import trio as _trio

    late = []

    async def sleeper(d):
        deadline = time.monotonic() + d
        await _trio.sleep(d)
        late.append(time.monotonic() - deadline)

    async def main():
        async with _trio.open_nursery() as nursery:
            for d in _delays(tasks):
                nursery.start_soon(sleeper, d)

    _trio.run(main)
    return _median_us(late)
