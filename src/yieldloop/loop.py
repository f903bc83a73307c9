"""yieldloop.Loop: an asyncio event loop on yieldloop's Cython core.

    import asyncio, yieldloop

    asyncio.run(main(), loop_factory=yieldloop.new_event_loop)   # Python 3.12+
    with asyncio.Runner(loop_factory=yieldloop.new_event_loop) as runner:
        runner.run(main())                                        # 3.11+
    yieldloop.run_asyncio(main())                                 # any version
    yieldloop.install()                                           # old code, policy based

Scheduling, timers, fd callbacks, tasks and futures and the run loop are
yieldloop's (the kernel's ready queue, timer heap and poller, in C; its Task
and Future are asyncio's in every way a program can see); asyncio's own code
does the rest on top of them: servers and connections, subprocesses,
signals, executors, the exception handler and debug mode.
"""

import asyncio
import sys
import warnings

from ._aio_private import UnixDefaultEventLoopPolicy, UnixSelectorEventLoop, get_running_loop
from .aio._loop import LoopCore
from .aio._loopbase import _make_on_core
from .aio._selector import _PollerSelector
from .aio._transport import SocketTransport

__all__ = ["EventLoopPolicy", "Loop", "install", "new_event_loop", "run_asyncio"]


class Loop(LoopCore, UnixSelectorEventLoop):
    """An asyncio event loop (asyncio.AbstractEventLoop) on yieldloop's core."""

    def __init__(self):
        super().__init__(selector=_PollerSelector(self))

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None,
                               context=None):
        # TCP and Unix stream connections: yieldloop's Cython transport.
        # (`context`: the connection's, passed by asyncio from 3.15 on.)
        return SocketTransport(self, sock, protocol, waiter, extra, server, context)

    def __repr__(self):
        return (f"<yieldloop.Loop running={self.is_running()} closed={self.is_closed()} "
                f"debug={self.get_debug()}>")


def _loop_on_core(core):
    """A Loop on ``core``, a kernel's: yieldloop.run() gives asyncio code
    this loop, on the kernel's own ready queue, timers and poller."""
    return _make_on_core(Loop, core)


def new_event_loop():
    """A new yieldloop.Loop (use as asyncio's loop_factory)."""
    return Loop()


class EventLoopPolicy(UnixDefaultEventLoopPolicy):
    """An asyncio event loop policy whose loops are yieldloop.Loop.

    Event loop policies are deprecated from Python 3.14 on: prefer
    ``asyncio.run(main(), loop_factory=yieldloop.new_event_loop)``.
    """

    def _loop_factory(self):
        return Loop()


def install():
    """Make yieldloop.Loop asyncio's default loop (sets the policy).

    Deprecated on Python 3.14+, like asyncio's policies: use
    ``asyncio.run(main(), loop_factory=yieldloop.new_event_loop)``.
    """
    if sys.version_info >= (3, 14):
        warnings.warn("yieldloop.install() relies on asyncio's event loop policies, "
                      "deprecated in Python 3.14: use asyncio.run(main(), "
                      "loop_factory=yieldloop.new_event_loop)", DeprecationWarning, stacklevel=2)
    asyncio.set_event_loop_policy(EventLoopPolicy())


def run_asyncio(main, *, debug=None):
    """Run coroutine ``main`` on a new yieldloop.Loop, as asyncio.run() does
    (the asyncio front end; yieldloop.run() is the native kernel).

        yieldloop.run_asyncio(main())
    """
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    return _run_310(main, debug)


def _run_310(main, debug):
    # asyncio.run() of Python 3.10, with our loop.
    if get_running_loop() is not None:
        raise RuntimeError("run_asyncio() cannot be called from a running event loop")
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    loop.call_exception_handler({
                        "message": "unhandled exception during run_asyncio() shutdown",
                        "exception": task.exception(), "task": task})
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
