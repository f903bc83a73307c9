"""What happens under await: a small program and the kernel's trace of it.

main spawns a task, then awaits a coroutine of its own: both sleep, so
both park a sleep trap in the timer heap, and the kernel waits until the
first deadline (here on a virtual clock, which jumps to it). The trace
shows each step the kernel takes: who it resumes, what each task yields
(which trap), what wakes it (its timer, or the task it joins) and how
each one ends.
"""

import yieldloop as yl
from yieldloop import trace
from yieldloop.testing import MockClock


async def fetch(name, delay):
    """Sleep, then answer: the sleep is a trap the kernel puts in its heap."""
    await yl.sleep(delay)
    return name.upper()


async def main_async():
    other = yl.spawn(fetch, "a", 0.01, name="fetch-a")  # runs once main yields
    mine = await fetch("b", 0.02)  # a plain call: runs inside main itself
    theirs = await other  # a join: main parks until fetch-a is done (it is already)
    return theirs, mine


def main():
    """Run the example."""
    tracer = yl.Tracer()
    # A virtual clock that jumps to the next timer whenever every task
    # waits: the same trace on every run. On the real clock, a machine
    # that stalls for more than 10 ms wakes both sleepers in one pass.
    clock = MockClock(autojump_threshold=0)
    result = yl.run(main_async, trace=tracer, clock=clock)
    print(f"run() returned {result}; the kernel's trace of it:")
    print(trace.text(tracer, times=False), end="")


if __name__ == "__main__":
    main()
