"""An async generator consumed with async for: it awaits between its values.

Python 3.6 (PEP 525) allowed ``yield`` inside ``async def``: an async
generator. It talks on two channels. What it *awaits* (here, sleep traps)
goes up to the kernel, which suspends the whole task; what it *yields* goes
to the ``async for`` loop. Underneath, ``async for`` calls ``__anext__()``,
which returns an awaitable; awaiting it runs the generator body until its
next ``yield value``, and the value comes out as the await's result. At the
end, ``__anext__`` raises StopAsyncIteration and the loop stops.

A loop that stops early should close the generator with ``aclose()``
(``contextlib.aclosing`` does it), so that its ``finally`` block runs right
away, inside the task, where it may still await. Without it, the kernel
closes the generator later, in a task of its own: when the generator is
collected, or at the latest when run() ends (as asyncio does).
"""

import contextlib

import yieldloop as yl


async def ticks(n, interval):
    """Yield 1..n, waiting ``interval`` seconds before each."""
    try:
        for i in range(1, n + 1):
            await yl.sleep(interval)  # to the kernel: suspend this task for a while
            yield i  # to the async for: the next value
    finally:
        await yl.sleep(0)  # cleanup may await, when aclose() or the end runs it
        print("  ticks: cleaned up")


async def consume():
    """Three ways to consume ticks()."""
    print("1. async for, to the end:")
    async for i in ticks(3, 0.02):
        print(f"  got tick {i}")

    print("2. An async comprehension:")
    squares = [i * i async for i in ticks(4, 0.01)]
    print(f"  squares: {squares}")

    print("3. Stopping early, with aclose() done by contextlib.aclosing:")
    async with contextlib.aclosing(ticks(100, 0.01)) as agen:
        async for i in agen:
            print(f"  got tick {i}")
            if i == 2:
                break  # leaving the `async with` awaits agen.aclose()
    print("  stopped at 2 of 100")


def main():
    """Run the example."""
    yl.run(consume)


if __name__ == "__main__":
    main()
