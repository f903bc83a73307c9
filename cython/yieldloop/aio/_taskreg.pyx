# cython: language_level=3
"""Where asyncio finds yieldloop.Loop's tasks: asyncio.current_task() while
a task steps, asyncio.all_tasks() while it is pending. The Task
(_aiotask.pyx) calls these where asyncio's C Task calls asyncio's own
_enter_task, _leave_task and _register_task.

all_tasks() reads two registries: a WeakSet of tasks, and (3.12+) a set of
eager tasks, which holds them strongly. The WeakSet costs a Python-level
add, a weak reference the collector walks, and a Python callback when the
task is freed: most of a short task's cost after the collector's walks (see
_taskgc.pxd). A task queued in a running loop is held by the loop anyway, so
from 3.12 on it is registered in the set of eager tasks as long as it is
queued or running, where the strong reference changes nothing; it moves to
the WeakSet when it leaves the queue otherwise (it waits on something, its
loop leaves run_forever(), debug mode steps it through a Handle:
Task._unqueued), and leaves the set when it finishes.

Up to 3.13 asyncio's current tasks (loop -> task) and eager tasks are a dict
and a set of its C module that its functions fill: here they are filled
directly, as those functions do, without a call through Python. 3.14 keeps
both in its C module's state: its functions are called.
"""
from cpython.object cimport PyObject
from cpython.dict cimport PyDict_GetItemWithError, PyDict_SetDefault

from yieldloop import _aio_private as _private

cdef dict _current_tasks = _private.current_tasks
cdef set _eager_tasks = _private.eager_tasks
cdef object _register_task = _private.register_task
cdef object _register_eager_task = _private.register_eager_task
cdef object _unregister_eager_task = _private.unregister_eager_task
cdef object _enter_task_fn = _private.enter_task
cdef object _leave_task_fn = _private.leave_task
cdef object _swap_current_task_fn = _private.swap_current_task

#: Whether this Python has a set of eager tasks (3.12+).
strong_possible = _register_eager_task is not None


cdef int enter_task(object loop, object task) except -1:
    """asyncio's _enter_task(loop, task)."""
    cdef PyObject* cur
    if _current_tasks is None:
        _enter_task_fn(loop, task)
        return 0
    cur = PyDict_SetDefault(_current_tasks, loop, task)
    if cur != <PyObject*>task:
        raise RuntimeError("Cannot enter into task %r while another task %r is being executed."
                           % (task, <object>cur))
    return 0


cdef int leave_task(object loop, object task) except -1:
    """asyncio's _leave_task(loop, task)."""
    cdef PyObject* cur
    if _current_tasks is None:
        _leave_task_fn(loop, task)
        return 0
    cur = PyDict_GetItemWithError(_current_tasks, loop)
    if cur != <PyObject*>task:
        raise RuntimeError("Leaving task %r does not match the current task %r."
                           % (task, <object>cur if cur != NULL else None))
    del _current_tasks[loop]
    return 0


cdef object swap_current_task(object loop, object task):
    """asyncio's _swap_current_task(loop, task) (3.12+): ``task`` (None:
    none) is the current task of ``loop``; returns the one it replaces."""
    cdef PyObject* cur
    if _current_tasks is None:
        return _swap_current_task_fn(loop, task)
    cur = PyDict_GetItemWithError(_current_tasks, loop)
    prev = <object>cur if cur != NULL else None
    if task is None:
        if cur != NULL:
            del _current_tasks[loop]
    else:
        _current_tasks[loop] = task
    return prev


cdef int add_strong(object task) except -1:
    """asyncio's _register_eager_task(task) (3.12+)."""
    if _eager_tasks is not None:
        _eager_tasks.add(task)
    else:
        _register_eager_task(task)
    return 0


cdef int discard_strong(object task) except -1:
    """asyncio's _unregister_eager_task(task) (3.12+)."""
    if _eager_tasks is not None:
        _eager_tasks.discard(task)
    else:
        _unregister_eager_task(task)
    return 0


cdef int add_weak(object task) except -1:
    """asyncio's _register_task(task)."""
    _register_task(task)
    return 0
