# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The native Task: what spawn() returns, what the kernel steps, what a
joiner gets.

A Task holds the iterator the kernel resumes (a coroutine, a generator, or
the iterator of an awaitable), the contextvars context each step runs in,
and, once it finished, its outcome: a result, an exception, or
CancelledError (asyncio's class, imported on first use so that importing
yieldloop does not import asyncio). The kernel (_scheduler.pyx) drives it;
this module holds what the task is on its own: its Python API, the join of
a finished task (its __await__ is its own iterator), and the report of an
exception nobody retrieved, which lives in a separate object so that a
Task has no finalizer and can come from a freelist. Also here: what a task
runs for the target given to run() or spawn() (coroutine_of), checked
before the task exists.

Invariants:
- ``_state`` is TASK_PENDING until the kernel finishes the task, once;
- a finished task has no kernel, no trap, no stack, no joiners;
- ``_report`` is set only for a failed task whose exception was not yet
  retrieved (result(), exception(), a join), and cleared by retrieval.

A task refers to its kernel as a TrapHost, the kernel's base class
(_traphost.pyx), whose module cimports this one: the two import each other,
which Cython allows as long as neither needs the other's type as a base
(each module makes its own types before it imports the others'). Nothing
else above is cimported here: a module whose type derives from the
kernel's would then be imported halfway through making it.
"""
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._traps cimport Trap, make_trap, TRAP_JOIN
from yieldloop.includes.capi cimport (
    PyContext_CopyCurrent, PyCoro_CheckExact, PyGen_Check,
    yl_is_awaitable, yl_await_iter, yl_stop_iteration, yl_raise, yl_set_iternext)

import sys

cdef kernel_finder _find_kernel = NULL


cdef int set_kernel_finder(kernel_finder fn) except -1:
    global _find_kernel
    _find_kernel = fn
    return 0


cdef TrapHost _need_kernel(str what):
    if _find_kernel == NULL:
        raise RuntimeError("%s needs a running yieldloop kernel" % what)
    return _find_kernel(what)


# --- CancelledError is asyncio's, loaded only when first needed, so that
# --- importing yieldloop does not import asyncio.

cdef object _CancelledError = None


cdef object _cancelled_error_class():
    global _CancelledError
    if _CancelledError is None:
        from asyncio import CancelledError
        _CancelledError = CancelledError
    return _CancelledError


cdef object new_cancelled_error(object msg):
    """A CancelledError(msg) (asyncio's class, imported on first use)."""
    cls = _cancelled_error_class()
    return cls() if msg is None else cls(msg)


cdef bint is_cancelled_error(object exc) except -1:
    """isinstance(exc, CancelledError), without importing asyncio."""
    global _CancelledError
    if _CancelledError is None:
        # No asyncio, no CancelledError: nothing can be one yet.
        mod = sys.modules.get("asyncio.exceptions")
        if mod is None:
            return False
        _CancelledError = mod.CancelledError
    return isinstance(exc, _CancelledError)


cdef object _invalid_state(str message):
    from asyncio import InvalidStateError
    return InvalidStateError(message)


cdef PyObject* _task_next(PyObject* o) noexcept:
    """Task's tp_iternext, reached through the __await__ of a finished task:
    return its result (StopIteration) or raise its exception."""
    cdef Task t = <Task>o
    if t._state == TASK_PENDING:
        return yl_raise(RuntimeError(
            "task %r is not done: join it with await or yield from" % t._get_name()))
    retrieve(t)
    if t._state == TASK_DONE:
        return yl_stop_iteration(t._result)
    return yl_raise(t._exception)


cdef str short_repr(object value):
    try:
        r = repr(value)
    except BaseException:
        r = "<%s object>" % type(value).__name__
    return r if len(r) <= 80 else r[:77] + "..."


cdef object _log = None


cdef object logger():
    """The "yieldloop" logger. Imported when a kernel starts, not when it is
    first needed: a report may be due when no fd is left to import with."""
    global _log
    if _log is None:
        import logging
        _log = logging.getLogger("yieldloop")
    return _log


@cython.final
cdef class _ErrorReport:
    """Logs the exception of a failed task that nobody retrieved, when it is
    freed: with the task, which alone refers to it (a retrieval disarms it
    first). Apart from the Task, so that a Task has no finalizer: a task
    that succeeds is freed without one, and can come from a freelist."""

    def __del__(self):
        if self.exc is None:
            return
        exc, self.exc = self.exc, None
        try:
            logger().error("Task exception was never retrieved: %s",
                           "<Task %r failed exception=%s>" % (self.name, short_repr(exc)),
                           exc_info=exc)
        except BaseException:
            pass


@cython.final
@cython.freelist(256)          # safe: a Task has no finalizer (see _ErrorReport)
cdef class Task:
    """A coroutine or generator run by the kernel; made by ``spawn()``.

    Join it with ``await task``, ``yield from task`` or ``x = yield task``:
    you get its return value, or its exception is raised. Each task runs in
    its own copy of the spawner's ``contextvars`` context.

        task = yieldloop.spawn(fetch(url), name="fetch")
        ...
        page = await task
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("Task objects are made by yieldloop.spawn()")

    cdef str _get_name(self):
        # Formatted on demand: most tasks are never asked for their name.
        if self._name is None:
            self._name = "Task-%d" % self._id
        return self._name

    @property
    def name(self):
        """The task's name (``"Task-N"`` unless given to spawn())."""
        return self._get_name()

    @name.setter
    def name(self, value):
        self.set_name(value)

    def get_name(self):
        """The task's name (as asyncio.Task.get_name)."""
        return self._get_name()

    def set_name(self, value):
        """Rename the task (as asyncio.Task.set_name)."""
        self._name = str(value)
        if self._report is not None:
            (<_ErrorReport>self._report).name = self._name

    def get_coro(self):
        """The coroutine or generator the task was spawned with."""
        return self._stack[0] if self._stack else self._coro

    def get_context(self):
        """The contextvars.Context the task runs in."""
        return self._context

    def done(self):
        """True once the task has returned, raised or been cancelled."""
        return self._state != TASK_PENDING

    def cancelled(self):
        """True if the task finished by CancelledError."""
        return self._state == TASK_CANCELLED

    def result(self):
        """The return value; raises the task's exception, CancelledError if it
        was cancelled, or InvalidStateError if it is not done."""
        if self._state == TASK_PENDING:
            raise _invalid_state("Result is not set.")
        retrieve(self)
        if self._state == TASK_DONE:
            return self._result
        raise self._exception

    def exception(self):
        """The exception the task raised, or None; raises CancelledError if it
        was cancelled, InvalidStateError if it is not done."""
        if self._state == TASK_PENDING:
            raise _invalid_state("Exception is not set.")
        retrieve(self)
        if self._state == TASK_CANCELLED:
            raise self._exception
        return self._exception

    def cancel(self, msg=None):
        """Request cancellation: CancelledError(msg) is raised in the task at
        its current wait, or at its next one if it is ready or running. A
        task blocked on a timer, an fd or a join is unregistered from it.
        Returns False if the task is already done (nothing happens)."""
        if self._state != TASK_PENDING or self._kernel is None:
            return False
        return self._kernel._cancel(self, msg)

    def cancelling(self):
        """Number of pending cancel() requests (as asyncio.Task.cancelling)."""
        return self._num_cancels

    def uncancel(self):
        """Undo one cancel() request; returns the remaining count."""
        if self._num_cancels > 0:
            self._num_cancels -= 1
            if self._num_cancels == 0:
                self._must_cancel = False
        return self._num_cancels

    def add_done_callback(self, fn, *, context=None):
        """Call ``fn(task)`` soon after the task finishes (at once if it has),
        in ``context`` (default: a copy of the current one)."""
        if context is None:
            context = PyContext_CopyCurrent()
        if self._state != TASK_PENDING:
            _need_kernel("add_done_callback() on a finished task")._call_soon(
                fn, (self,), context)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append((fn, context))

    def remove_done_callback(self, fn):
        """Remove every registration of ``fn``; return how many there were."""
        if not self._callbacks:
            return 0
        kept = [(f, c) for f, c in self._callbacks if f != fn]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def __await__(self):
        # A finished task is its own iterator: its tp_iternext (_task_next)
        # gives the outcome at once, with no trap to make. A pending one
        # hands the kernel a JOIN trap.
        cdef Trap trap
        if self._state != TASK_PENDING:
            return self
        trap = make_trap(TRAP_JOIN)
        trap.arg = self
        return trap

    def __iter__(self):
        return self.__await__()

    def __repr__(self):
        if self._state == TASK_PENDING:
            if self._kernel is not None and self._kernel._current is self:
                info = "running"
            elif self._trap is not None:
                info = "waiting on %s" % self._trap._describe()
            else:
                info = "ready"
        elif self._state == TASK_DONE:
            info = "done result=%s" % short_repr(self._result)
        elif self._state == TASK_FAILED:
            info = "failed exception=%s" % short_repr(self._exception)
        else:
            info = "cancelled"
        return "<Task %r %s>" % (self._get_name(), info)


# --- what a task runs

cdef int discard_coroutine(object main) except -1:
    """Close a coroutine or generator that will never run (no warning)."""
    if PyCoro_CheckExact(main) or PyGen_Check(main):
        main.close()
    return 0


cdef object coroutine_of(object target, tuple args, str what):
    """What a task runs for ``target``: a coroutine, a generator, or the
    iterator of an awaitable; functions are called with ``args`` first."""
    cdef object obj = target
    if args or (callable(target) and not yl_is_awaitable(target)):
        if not callable(target):
            raise TypeError("%s(): arguments were given but %s is not callable"
                            % (what, short_repr(target)))
        obj = target(*args)
    return checked_coroutine(obj, target, what)


cdef object checked_coroutine(object obj, object target, str what):
    """``obj`` (``target`` or what calling it gave) as what a task runs."""
    if PyCoro_CheckExact(obj):
        return obj
    if PyGen_Check(obj):
        if obj.gi_frame is None:
            # It would return None at once: say so, as CPython does for a
            # coroutine awaited twice.
            raise RuntimeError("%s() got a generator that has already finished; "
                               "give it a new one" % what)
        return obj
    if isinstance(obj, Task):
        raise TypeError("%s() got a Task, which is already running; await it instead" % what)
    if yl_is_awaitable(obj):
        return yl_await_iter(obj)
    if obj is target:
        raise TypeError("%s() needs a coroutine, a generator, or a function returning "
                        "one; got %s" % (what, type(obj).__name__))
    raise TypeError("%s() needs a coroutine, a generator, or a function returning one; "
                    "%s returned %s" % (what, short_repr(target), type(obj).__name__))


cdef str waiter_name(object waiter):
    """The name of the task waiting on a trap, whichever its front end."""
    if type(waiter) is Task:
        return (<Task>waiter)._get_name()
    try:
        return waiter.get_name()
    except Exception:
        return short_repr(waiter)


cdef class _GenAwaitable:
    """Makes a plain generator awaitable from ``async def`` code."""
    cdef object _gen

    def __await__(self):
        return self._gen


cdef object as_awaitable(object aw):
    """``aw``, or a wrapper that lets ``async def`` code await it if it is a
    plain generator (the kernel runs those as generator-based coroutines)."""
    cdef _GenAwaitable w
    if PyGen_Check(aw):
        w = _GenAwaitable.__new__(_GenAwaitable)
        w._gen = aw
        return w
    return aw


yl_set_iternext(Task, _task_next)
