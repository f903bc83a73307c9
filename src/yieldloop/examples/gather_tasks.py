"""Three delayed tasks run at once: the total time is the longest, not the sum.

Awaiting coroutines one after another adds their waits up (the async_def
example takes 0.3 s for three 0.1 s fetches). gather() spawns them as tasks,
which lets their waits overlap: each task parks its sleep trap in the kernel's timer
heap, and while all three wait, the kernel sleeps in the poller until the
nearest deadline. Timers fire in (deadline, order scheduled) order, so the
tasks finish in the order of their delays, whatever order they started in.
"""

import yieldloop as yl

JOBS = (("slow", 0.3), ("fast", 0.1), ("medium", 0.2))


async def job(name, delay, start):
    """Wait ``delay`` seconds, then return a result naming the job."""
    print(f"  {name:6s} starts, sleeps {delay} s")
    await yl.sleep(delay)  # parks this task in the timer heap; the others run meanwhile
    print(f"  {name:6s} done at {yl.time() - start:.1f} s")
    return f"{name}!"


async def gather_all():
    """Start every job, then collect their results in the order they were asked for."""
    start = yl.time()
    # gather() spawns a task per coroutine right away and, once they are all
    # done, returns their results in the order given.
    results = await yl.gather(*[job(name, delay, start) for name, delay in JOBS])
    return results, yl.time() - start


def main():
    """Run the example."""
    print("Three tasks sleep 0.3 s, 0.1 s and 0.2 s at the same time:")
    results, took = yl.run(gather_all)
    total = sum(delay for _, delay in JOBS)
    longest = max(delay for _, delay in JOBS)
    print(f"  results, in the order asked for: {results}")
    print(f"  took {took:.1f} s (the longest, {longest} s, not the sum {total:.1f} s)")


if __name__ == "__main__":
    main()
