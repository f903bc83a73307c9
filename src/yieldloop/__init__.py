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
from ._errors import (
    BusyResourceError,
    ClosedResourceError,
    IncompleteReadError,
    LimitOverrunError,
)
from .core._poller import BACKEND as POLL_BACKEND
from .core._traps import sleep, wait_readable, wait_writable
from .native._api import (
    current_kernel,
    current_task,
    notify_closing,
    run,
    spawn,
    stats,
    time,
)
from .native._kernel import Kernel
from .native._queues import LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull, QueueShutDown
from .native._sockets import (
    getaddrinfo,
    sock_accept,
    sock_connect,
    sock_recv,
    sock_recv_into,
    sock_recvfrom,
    sock_recvfrom_into,
    sock_sendall,
    sock_sendto,
)
from .native._servers import Server, start_server, start_unix_server
from .native._streams import Stream, open_connection, open_unix_connection
from .native._signals import SignalReceiver, open_signal_receiver
from .native._structured import TaskGroup, Timeout, gather, shield, timeout, timeout_at, wait_for
from .native._subprocess import Process, open_process, run_process
from .native._sync import BoundedSemaphore, Condition, Event, Lock, Semaphore
from .native._task import Task
from .native._threads import to_thread
from .native._tracer import Tracer

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # at run time they come from __getattr__ below, on first use
    from asyncio import CancelledError, InvalidStateError

    from .loop import EventLoopPolicy, Loop, install, run_asyncio
    from .native._tls import TLSStream

__version__ = "0.1.0"

__all__ = [
    "BoundedSemaphore",
    "BusyResourceError",
    "EventLoopPolicy",
    "CancelledError",
    "ClosedResourceError",
    "Condition",
    "Event",
    "IncompleteReadError",
    "InvalidStateError",
    "Kernel",
    "LifoQueue",
    "Loop",
    "LimitOverrunError",
    "Lock",
    "POLL_BACKEND",
    "PriorityQueue",
    "Process",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "Semaphore",
    "Server",
    "SignalReceiver",
    "Stream",
    "TLSStream",
    "Task",
    "TaskGroup",
    "Tracer",
    "Timeout",
    "coroutine",
    "current_kernel",
    "current_task",
    "gather",
    "install",
    "new_event_loop",
    "getaddrinfo",
    "notify_closing",
    "open_connection",
    "open_process",
    "open_signal_receiver",
    "open_unix_connection",
    "run",
    "run_asyncio",
    "run_process",
    "shield",
    "sleep",
    "sock_accept",
    "sock_connect",
    "sock_recv",
    "sock_recv_into",
    "sock_recvfrom",
    "sock_recvfrom_into",
    "sock_sendall",
    "sock_sendto",
    "spawn",
    "start_server",
    "start_unix_server",
    "stats",
    "time",
    "timeout",
    "timeout_at",
    "to_thread",
    "wait_for",
    "wait_readable",
    "wait_writable",
    "__version__",
]


def new_event_loop():
    """A new yieldloop.Loop: an asyncio event loop on yieldloop's core.

        asyncio.run(main(), loop_factory=yieldloop.new_event_loop)
    """
    from .loop import Loop

    return Loop()


_FROM_ASYNCIO = ("CancelledError", "InvalidStateError")
_FROM_LOOP = ("Loop", "EventLoopPolicy", "install", "run_asyncio")
_FROM_TLS = ("TLSStream",)


def __getattr__(name):
    # asyncio's exceptions, the asyncio front end and TLS (the ssl module),
    # imported on first use: slow to import, and most programs do not need them.
    if name in _FROM_ASYNCIO:
        import asyncio

        value = getattr(asyncio, name)
    elif name in _FROM_LOOP:
        from . import loop

        value = getattr(loop, name)
    elif name in _FROM_TLS:
        from .native import _tls

        value = getattr(_tls, name)
    elif name == "testing":  # yieldloop.testing.MockClock without its own import
        import importlib  # (`from . import testing` would come back here)

        value = importlib.import_module(".testing", __name__)
    else:
        raise AttributeError(f"module 'yieldloop' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    # dir() lists the names loaded on first use too: help(yieldloop) and
    # other tools that walk dir() then document them (getting one imports
    # asyncio then, and only then). The module's own hooks are left out, so
    # that help() does not list them with the API.
    names = set(globals()) | set(_FROM_ASYNCIO) | set(_FROM_LOOP) | set(_FROM_TLS)
    return sorted(names - {"__getattr__", "__dir__"})
