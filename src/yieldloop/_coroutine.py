"""``@coroutine``: generator functions usable with ``await``."""

import types

_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


def coroutine(func):
    """Make a generator function awaitable from ``async def`` code.

    The asyncio-3.4 style: the body uses ``yield from`` on other coroutines
    and yieldloop awaitables, and callers may ``await`` it. The same thing as
    ``types.coroutine``, with a clear error for what it cannot take.

        @yieldloop.coroutine
        def fetch(n):
            yield from yieldloop.sleep(0.1)
            return n

        async def main():
            assert await fetch(3) == 3
    """
    if not callable(func):
        raise TypeError(f"coroutine() needs a generator function, got {type(func).__name__}")
    code = getattr(func, "__code__", None)
    if code is not None and code.co_flags & _CO_COROUTINE:
        raise TypeError(f"coroutine(): {func.__qualname__} is already an async function")
    return types.coroutine(func)
