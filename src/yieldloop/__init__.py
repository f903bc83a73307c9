"""yieldloop: a coroutine runtime for CPython with its scheduler core in Cython.

One kernel runs every generation of Python coroutine side by side: plain
generators that ``yield``, Tornado-style ``x = yield awaitable`` generators,
``yield from`` generator coroutines and ``async def`` coroutines.

    import yieldloop

    async def main():
        await yieldloop.sleep(0.1)
        return "done"

    yieldloop.run(main)

``import yieldloop`` does not import asyncio; ``yieldloop.CancelledError``
(which *is* ``asyncio.CancelledError``) loads it on first use.
"""

from ._coroutine import coroutine
from ._errors import BusyResourceError
from ._kernel import Kernel, Task, current_task, run, spawn, stats, time
from ._poller import BACKEND as POLL_BACKEND
from ._traps import sleep, wait_readable, wait_writable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # at run time they come from __getattr__ below, on first use
    from asyncio import CancelledError, InvalidStateError

__version__ = "0.1.0"

__all__ = [
    "POLL_BACKEND",
    "BusyResourceError",
    "CancelledError",
    "InvalidStateError",
    "Kernel",
    "Task",
    "__version__",
    "coroutine",
    "current_task",
    "run",
    "sleep",
    "spawn",
    "stats",
    "time",
    "wait_readable",
    "wait_writable",
]


def __getattr__(name):
    # asyncio's exceptions, imported on first use (asyncio is slow to import).
    if name in ("CancelledError", "InvalidStateError"):
        import asyncio

        value = getattr(asyncio, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'yieldloop' has no attribute {name!r}")
