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
    if not _only_name_and_context(kwargs):
        if _PY314:
            kwargs["eager_start"] = eager
        return _base_create_task(loop, coro, **kwargs)   # its error
    loop._check_open()
    if _PY314:
        t = new_task(loop, coro, kwargs.get("name"), kwargs.get("context"))
        t._start(eager)
        return t
    # Before 3.14 asyncio's create_task has the factory make the task, then
    # names it, each version its own way (_NAMES_UNNAMED).
    t = new_task(loop, coro, None, kwargs.get("context"))
    t._start(True)
    name = kwargs.get("name")
    if name is not None:
        t._name_v = name if type(name) is str else str(name)
    elif _NAMES_UNNAMED:
        t._name_v = "None"
    return t


cdef inline bint _only_name_and_context(dict kwargs):
    for key in kwargs:
        if key != "name" and key != "context":
            return False
    return True


def _names_unnamed():
    """Whether this Python's BaseEventLoop.create_task, given no name, still
    calls set_name(None) on the task its factory made (3.13.0 does: the
    task is named "None"), found by calling it on a stand-in loop."""

    class Made:
        named = False

        def set_name(self, value):
            self.named = True

    made = Made()

    class StandIn:
        def _check_closed(self):
            pass

        @staticmethod
        def _task_factory(loop, coro, context=None):
            return made

    _base_create_task(StandIn(), None)
    return made.named


cdef bint _NAMES_UNNAMED = not _PY314 and _eager_task_factory is not None and _names_unnamed()
