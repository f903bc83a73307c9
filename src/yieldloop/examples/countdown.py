"""A countdown generator: lazy iteration, each value made when asked for.

The first generation (Python 2.2, PEP 255). A function containing ``yield``
returns a generator when called, and none of its body runs yet. Each
``next(gen)`` runs the body up to the next ``yield``, which hands a value out
and freezes the frame; the following ``next()`` resumes it right there. When
the body ends, ``next()`` raises StopIteration (a ``for`` loop stops on it),
and a ``return`` value travels on that StopIteration.

yieldloop's kernel is built on exactly this: a task is a generator (or a
coroutine) that the kernel resumes one step at a time.
"""

import itertools

import yieldloop as yl


def countdown(n):
    """Yield n, n-1, ..., 1, saying when each value is made."""
    print(f"  countdown({n}) starts")  # runs at the first next(), not at the call
    while n > 0:
        print(f"  making {n}")
        yield n  # hand n out; the frame freezes here...
        n -= 1  # ...and resumes here at the next next()
    print("  countdown ends")  # falling off the end raises StopIteration


def launch(n):
    """A kernel task: count down with bare yields, then return a value."""
    while n > 0:
        print(f"  T-{n}")
        n -= 1
        yield  # yields None: the kernel puts the task back in its ready queue
    return "liftoff"  # becomes StopIteration("liftoff"); run() returns it


def main():
    """Run the example."""
    print("1. Calling countdown(3) runs none of its body:")
    gen = countdown(3)
    print(f"  got a {type(gen).__name__} object, and nothing else happened")

    print("2. A for loop calls next() on it; each value is made when asked for:")
    for n in gen:
        print(f"  the loop got {n}")

    print("3. By hand: next() runs to the next yield; at the end, StopIteration:")
    gen = countdown(1)
    print(f"  next(gen) -> {next(gen)}")
    try:
        next(gen)
    except StopIteration:
        print("  next(gen) -> StopIteration")

    print("4. Lazy, so a countdown from a billion costs only the values taken:")
    big = (n for n in itertools.count(10**9, -1))  # a generator expression: lazy too
    print(f"  first three: {list(itertools.islice(big, 3))}")

    print("5. yieldloop.run() drives a generator the same way, step by step:")
    result = yl.run(launch, 3)
    print(f"  run() returned {result!r}, the generator's return value")


if __name__ == "__main__":
    main()
