# cython: language_level=3
"""asyncio's eager task factory on yieldloop.Loop: ``loop.set_task_factory(
asyncio.eager_task_factory)`` makes yieldloop's Task (_aiotask.pyx), eager
as that factory's, where asyncio's factory would make asyncio's own."""
import sys

from asyncio import base_events, tasks

from yieldloop.aio._aiotask cimport Task, new_task
from yieldloop.aio._loopbase cimport LoopBase

cdef bint _PY314 = sys.version_info >= (3, 14)

# asyncio's eager task factory (3.12+), whose tasks are made ours.
cdef object _eager_task_factory = getattr(tasks, "eager_task_factory", None)
cdef object _base_create_task = base_events.BaseEventLoop.create_task


cdef bint is_eager_task_factory(object factory):
    """``factory`` is asyncio.eager_task_factory."""
    return factory is _eager_task_factory and factory is not None


cdef object create_eager_task(LoopBase loop, object coro, dict kwargs):
    """What loop.create_task(coro, **kwargs) returns with asyncio's eager
    task factory set: asyncio's factory would make asyncio's own Task; it
    is ours instead, eager as that factory's."""
    cdef Task t
    if _PY314:
        eager = kwargs.pop("eager_start", True)
        if kwargs.keys() - {"name", "context"}:
            kwargs["eager_start"] = eager
            return _base_create_task(loop, coro, **kwargs)   # its error
        loop._check_open()
        t = new_task(loop, coro, kwargs.get("name"), kwargs.get("context"))
        t._start(eager)
        return t
    # Before 3.14 asyncio's create_task names a factory's task after making
    # it, each version its own way: its own code does that here too, called
    # with our factory in place of the loop's.
    return _base_create_task(_EagerFactoryCall(loop), coro, **kwargs)


class _EagerFactoryCall:
    """What asyncio's create_task (before 3.14) is called on to make an
    eager task of ours: the loop's closed check, and a task factory making
    our task eagerly."""

    __slots__ = ("_loop",)

    def __init__(self, loop):
        self._loop = loop

    def _check_closed(self):
        self._loop._check_closed()

    @property
    def _task_factory(self):
        return self._make

    def _make(self, proxy, coro, context=None):
        cdef Task t = new_task(self._loop, coro, None, context)
        t._start(True)
        return t

