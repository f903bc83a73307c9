"""An asyncio-3.4-style @yieldloop.coroutine generator using yield from.

Python 3.4's asyncio (PEP 3156) wrote coroutines as generators decorated
with ``@asyncio.coroutine``, waiting with ``yield from``: on another
coroutine (delegation, as in the yield_from example) or on the event loop's
own awaitables. ``@yieldloop.coroutine`` is the same decorator (it is
``types.coroutine``): the generator works as before, and ``async def`` code
may also ``await`` it.

Underneath ``yield from yl.sleep(0.1)``: sleep() returns a trap, a small
request object; ``yield from`` iterates it, the trap yields itself, and the
whole chain of generators suspends with the trap arriving in the kernel.
The kernel puts it in its timer heap and resumes the task when it is due.

The async_def example is this same program written with async def / await.
"""

import yieldloop as yl

PAGES = {"/": "welcome home", "/about": "about this small site", "/news": "no news is good news"}


@yl.coroutine
def fetch(path):
    """Pretend to download ``path``: wait 0.1 s, then return its text."""
    yield from yl.sleep(0.1)  # the sleep trap travels up the chain to the kernel
    return PAGES[path]


@yl.coroutine
def crawl(paths):
    """Fetch each page in turn and count its words."""
    words = {}
    for path in paths:
        text = yield from fetch(path)  # delegate; fetch's return value comes back
        words[path] = len(text.split())
        print(f"  {path}: {words[path]} words")
    return words


def undecorated():
    """A generator without @coroutine: async def code cannot await it."""
    yield from yl.sleep(0)


async def modern():
    """async def code awaiting the decorated generator, and then an undecorated one."""
    words = await crawl(["/news"])  # fine: @coroutine marks the generator as awaitable
    try:
        await undecorated()
    except TypeError as e:
        print(f"  awaiting an undecorated generator: TypeError: {e}")
    return words


def main():
    """Run the example."""
    print("1. Three fetches, one after another, with yield from:")
    start = yl.time()
    words = yl.run(crawl, ["/", "/about", "/news"])
    took = yl.time() - start
    print(f"  {sum(words.values())} words in {took:.1f} s (3 fetches of 0.1 s, one after another)")

    print("2. async def code may await the decorated generator:")
    print(f"  await crawl(['/news']) returned {yl.run(modern)}")


if __name__ == "__main__":
    main()
