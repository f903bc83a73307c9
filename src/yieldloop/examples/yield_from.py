"""yield from delegates to a sub-generator and gets its return value.

PEP 380 (Python 3.3). ``result = yield from sub()`` runs ``sub()`` to its
end as if its body were pasted in place: every value it yields goes straight
out to whoever drives the outer generator, every ``send()`` goes straight
in, and when ``sub()`` returns, its return value (carried by StopIteration)
becomes the value of the ``yield from`` expression. Generator code could at
last be split into functions that return results.

On yieldloop's kernel, a bare ``yield`` deep inside a ``yield from`` chain
reaches the kernel directly: the whole chain is one task, and other tasks
run while it is suspended.
"""

import yieldloop as yl

FILES = (("a.txt", ["alpha", "beta"]), ("b.txt", ["gamma", "delta", "epsilon"]))


def averager():
    """Sub-generator: average the numbers sent in, until None is sent."""
    total = count = 0
    while True:
        value = yield  # send() on the *outer* generator lands here
        if value is None:
            return total / count  # the value of the caller's `yield from`
        total += value
        count += 1


def report(name):
    """Delegating generator: hand the work to averager(), then print its result."""
    average = yield from averager()  # resumes here only when averager() returns
    print(f"  {name}: average {average}")


def read_lines(name, lines):
    """A task's sub-generator: "read" one line per step and return how many."""
    for line in lines:
        print(f"  {name}: {line}")
        yield  # passes through copy_all's `yield from` straight to the kernel
    return len(lines)


def copy_all(files):
    """Read every file by delegating to read_lines(); return the total."""
    total = 0
    for name, lines in files:
        n = yield from read_lines(name, lines)
        print(f"  {name}: {n} lines")
        total += n
    return total


def spinner(turns):
    """Another task, to show that it runs between the delegated steps."""
    for frame in "|/-\\"[:turns]:
        print(f"  spinner {frame}")
        yield


def copier():
    """The main task: a spinner runs while the copy delegates."""
    spin = yl.spawn(spinner, 4)
    total = yield from copy_all(FILES)
    yield spin  # join the spinner
    print(f"  copied {total} lines")


def main():
    """Run the example."""
    print("1. send() goes through `yield from` to the sub-generator:")
    gen = report("temperatures")
    next(gen)  # prime: runs into averager() up to its first yield
    for t in (18, 21, 24):
        gen.send(t)
    try:
        gen.send(None)  # averager returns, report prints, report ends
    except StopIteration:
        pass

    print("2. On the kernel, a bare yield inside `yield from` lets other tasks run:")
    yl.run(copier)


if __name__ == "__main__":
    main()
