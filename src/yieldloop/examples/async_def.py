"""The same program in async def / await, and what await hands the kernel.

Python 3.5 (PEP 492) gave coroutines their own syntax: ``async def`` makes a
native coroutine and ``await`` replaces ``yield from``. Underneath it is the
same machine: ``await x`` takes x's iterator (``x.__await__()``, or the
coroutine itself) and delegates to it exactly as ``yield from`` would, so
whatever the innermost awaitable yields travels up the chain to whoever
drives the outermost coroutine with ``send()``. What is new: coroutines are
not iterators, so they cannot be mixed up with generators, and ``await``
only takes awaitables.

This is the generator_coroutine example's program, rewritten.
"""

import yieldloop as yl

PAGES = {"/": "welcome home", "/about": "about this small site", "/news": "no news is good news"}


async def fetch(path):
    """Pretend to download ``path``: wait 0.1 s, then return its text."""
    await yl.sleep(0.1)  # the sleep trap travels up the await chain to the kernel
    return PAGES[path]


async def crawl(paths):
    """Fetch each page in turn and count its words."""
    words = {}
    for path in paths:
        text = await fetch(path)  # was: text = yield from fetch(path)
        words[path] = len(text.split())
        print(f"  {path}: {words[path]} words")
    return words


def main():
    """Run the example."""
    print("1. Three fetches, one after another, with await:")
    start = yl.time()
    words = yl.run(crawl, ["/", "/about", "/news"])
    took = yl.time() - start
    print(f"  {sum(words.values())} words in {took:.1f} s (3 fetches of 0.1 s, one after another)")

    print("2. Driving a coroutine by hand shows what the kernel receives:")
    coro = fetch("/")
    print(f"  coro is a {type(coro).__name__}")
    trap = coro.send(None)  # runs fetch to its await; sleep's trap comes out
    print(f"  coro.send(None) -> {trap!r}")
    print("  (the kernel would put it in the timer heap and resume coro when it is due)")
    coro.close()  # never resumed: close it so Python does not warn


if __name__ == "__main__":
    main()
