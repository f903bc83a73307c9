# cython: language_level=3, boundscheck=False, wraparound=False
"""yieldloop.Loop's Task: asyncio's Task, stepped by the loop's core.

``loop.create_task(coro)`` returns one. It follows asyncio's C Task step for
step (_asynciomodule.c's task_step and task_wakeup): the same states, the
same errors for a bad yield, the same cancellation counting and messages;
it registers itself, and enters and leaves the running task, where
asyncio's own functions do (_taskreg.pyx), so ``asyncio.current_task()`` and
``asyncio.all_tasks()`` see it on every Python; ``isinstance(t,
asyncio.Task)`` is true (its ``__class__`` is asyncio's, as for Future).
While it waits in the ready queue of a running loop, the cyclic GC does not
walk it (_taskgc.pxd).

The difference is how a step is scheduled. asyncio's Task calls
``loop.call_soon(step)``, which costs a Handle, a bound step object and a
call through Python for every step, and a future wakes it through another
callback and Handle. Here the task itself goes into the loop's ready queue
(``push_ready``) and the loop calls ``run_ready()``, which resumes the
coroutine with PyIter_Send inside the task's context. A yieldloop Future
(or Task) the coroutine awaits keeps the task as a waiter and queues it
when done; any other future (asyncio's own, a gather, a wrapped
concurrent future) gets a wake-up callable as asyncio's Task gives it.

In debug mode, steps go through Handles as in asyncio (the slow-callback
warning names the task; exceptions carry the handle's traceback), and so
they do on a loop other than yieldloop.Loop (asyncio's own, a test's): the
class then works as asyncio's Task does, through the loop's call_soon().

Invariants: a pending task is in at most one of: the ready queue (at most
once), running, or waiting on ``_fut_waiter_v``; ``_step_exc`` is set only
while it is queued to have an error thrown in.
"""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from yieldloop.aio._loopbase cimport LoopBase, push_ready
from yieldloop.aio._aiofuture cimport (
    Future, ST_PENDING, ST_CANCELLED, ST_FINISHED, yl_type_drop, yl_aio_steal)
from yieldloop.core._throw cimport throw_into
from yieldloop.core._traps cimport Trap, YieldTrap, TS_AWAITING, TS_READY
from yieldloop.native._traphost cimport set_foreign_waker
from yieldloop.native._kernel cimport Kernel
from yieldloop.native._api cimport kernel_of_core
from yieldloop.aio._bridge cimport take_foreign_trap, cancel_foreign_wait
from yieldloop.includes.capi cimport (
    PySendResult, PYGEN_RETURN, PYGEN_ERROR, PYGEN_NEXT,
    PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit, PyCoro_CheckExact, yl_send)
from yieldloop.aio._taskgc cimport HID_TASK, HID_STEPPING, gc_hide, gc_show
from yieldloop.aio._taskreg cimport (
    REG_NONE, REG_STRONG, REG_WEAK, enter_task, leave_task, swap_current_task, add_strong,
    discard_strong, add_weak, strong_possible)

import sys
import types
from contextvars import Context as _Context

from asyncio import base_events, coroutines, exceptions, tasks

from yieldloop._aio_private import (
    extract_stack, task_get_stack, task_print_stack, task_repr, task_repr_info)

cdef object _CancelledError = exceptions.CancelledError
cdef object _InvalidStateError = exceptions.InvalidStateError
cdef object _AioTask = tasks.Task
cdef object _iscoroutine = coroutines.iscoroutine
cdef object _GeneratorType = types.GeneratorType
cdef object _task_repr = task_repr
cdef object _task_repr_info = task_repr_info
cdef object _task_get_stack = task_get_stack
cdef object _task_print_stack = task_print_stack
cdef str _STEP = "__step()" if sys.version_info >= (3, 14) else "_step()"
cdef bint _PY312 = sys.version_info >= (3, 12)
# 3.15+: a context= that is not a contextvars.Context is refused.
cdef bint _PY315 = sys.version_info >= (3, 15)
# A task runs hidden the step it was queued hidden for (_taskgc.pxd) up to
# 3.13. On 3.15 CPython's test_streams then finds the running coroutine among
# gc.get_referrers() of an exception it holds (happy-eyeballs refcycles
# test), which asyncio's loop does not: from 3.14 on it is shown to run.
cdef bint _HIDE_STEPPING = sys.version_info < (3, 14)
# 3.13+: uncancel() down to zero also drops a pending cancellation.
cdef bint _PY313 = sys.version_info >= (3, 13)
cdef set _coro_types = set()      # non-native types iscoroutine() accepted
cdef unsigned long long _task_counter = 0


cdef class Task(Future):
    """An asyncio.Task of yieldloop.Loop (see the module docstring)."""

    def __init__(self, coro, *, loop=None, name=None, context=None, eager_start=False):
        if eager_start and not _PY312:
            raise TypeError("Task() got an unexpected keyword argument 'eager_start'")
        self._init(loop)
        _set_coro(self, coro)
        _set_fields(self, name, context)
        self._start(eager_start)

    # --- what a program sees: asyncio's class and API

    @property
    def __class__(self):
        return _AioTask

    def __repr__(self):
        if _task_repr is not None:
            return _task_repr(self)
        return "<%s %s>" % (self.__class__.__name__, " ".join(_task_repr_info(self)))

    def _repr_info(self):
        return _task_repr_info(self)

    def get_coro(self):
        """Return the coroutine object wrapped by the task."""
        return self._coro_v

    def get_context(self):
        """Return the contextvars.Context the task runs in."""
        return self._context_v

    def get_name(self):
        """Return the task's name."""
        if self._name_v is None:
            self._name_v = "Task-%d" % self._name_no
        return self._name_v

    def set_name(self, value, /):
        """Set the task's name."""
        self._name_v = value if type(value) is str else str(value)

    def set_result(self, result, /):
        raise RuntimeError("Task does not support set_result operation")

    def set_exception(self, exception, /):
        raise RuntimeError("Task does not support set_exception operation")

    def get_stack(self, *, limit=None):
        """Return the list of stack frames for this task's coroutine.

        If the coroutine is not done, this returns the stack where it is
        suspended.  If the coroutine has completed successfully or was
        cancelled, this returns an empty list.  If the coroutine was
        terminated by an exception, this returns the list of traceback
        frames.
        """
        return _task_get_stack(self, limit)

    def print_stack(self, *, limit=None, file=None):
        """Print the stack or traceback for this task's coroutine.

        The limit argument is passed to get_stack(); the file argument is
        an I/O stream to which the output is written (sys.stderr by default).
        """
        return _task_print_stack(self, limit, file)

    def cancel(self, msg=None):
        """Request that this task cancel itself.

        This arranges for a CancelledError to be thrown into the wrapped
        coroutine on the next cycle through the event loop; the coroutine
        may clean up, or even deny the request. This also increases the
        task's count of cancellation requests.
        """
        return self._cancel_task(msg)

    def cancelling(self):
        """Return the count of the task's cancellation requests."""
        return self._num_cancels

    def uncancel(self):
        """Decrement the task's count of cancellation requests; return the
        remaining count."""
        if self._num_cancels > 0:
            self._num_cancels -= 1
            if _PY313 and self._num_cancels == 0:
                self._must_cancel = False
        return self._num_cancels

    @property
    def _log_destroy_pending(self):
        return self._log_destroy_pending

    @_log_destroy_pending.setter
    def _log_destroy_pending(self, value):
        self._log_destroy_pending = bool(value)

    @_log_destroy_pending.deleter
    def _log_destroy_pending(self):
        raise AttributeError("cannot delete attribute")

    @property
    def _must_cancel(self):
        return self._must_cancel

    @property
    def _coro(self):
        return self._coro_v

    @property
    def _fut_waiter(self):
        return self._fut_waiter_v

    # --- the machinery

    cdef int _finalize(self) except -1:
        if self._loop_obj is None:
            return 0
        if self._state == ST_PENDING and self._log_destroy_pending:
            context = {"message": "Task was destroyed but it is pending!", "task": self}
            if self._source_tb:
                context["source_traceback"] = self._source_tb
            self._loop_obj.call_exception_handler(context)
        return Future._finalize(self)

    cdef object _wakeup_callable(self):
        if self._wakeup_cb is None:
            self._wakeup_cb = _TaskCall.__new__(_TaskCall, self, None, True)
        return self._wakeup_cb

    cdef object _wake_context(self):
        return self._context_v

    cdef int _wake(self, Future fut) except -1:
        """``fut``, which this task awaits, is done: queue the task."""
        if self._core is None or self._core._debug_c:
            self._unqueued()
            self._call_soon(self._wakeup_callable(), (fut,), self._context_v)
        else:
            push_ready(self._core, self)
            if self._core._gc_hide_c:
                gc_hide(self)
        return 0

    cdef int _start(self, bint eager) except -1:
        if eager and _loop_is_running(self):
            self._eager_start()
            return 0
        self._schedule_step(None)
        if self._hidden and strong_possible:
            add_strong(self)
            self._reg = REG_STRONG
        else:
            add_weak(self)
            self._reg = REG_WEAK
        return 0

    cdef int _unqueued(self) except -1:
        """The task, pending, leaves the ready queue of a running loop
        other than to run: it is to be found through asyncio's WeakSet."""
        if self._reg == REG_STRONG:
            discard_strong(self)
            add_weak(self)
            self._reg = REG_WEAK
        return 0

    cdef int _schedule_step(self, object exc) except -1:
        """Run a step soon (throwing ``exc`` in, unless None)."""
        if self._core is None or self._core._debug_c:
            self._unqueued()
            self._call_soon(_TaskCall.__new__(_TaskCall, self, exc, False), (), self._context_v)
        else:
            push_ready(self._core, self)
            self._step_exc = exc
            if self._core._gc_hide_c:
                gc_hide(self)
        return 0

    cdef int run_ready(self) except -1:
        """The loop's call for a task it took from its ready queue; if it
        raises, the loop calls step_failed()."""
        cdef object exc = self._step_exc, w
        if self._hidden:
            if _HIDE_STEPPING:
                # It runs hidden (_taskgc.pxd): shown after the step unless
                # the step queued it again, which clears the flag.
                self._hidden |= HID_STEPPING
            else:
                gc_show(self)
        if exc is not None:
            self._step_exc = None
        else:
            w = self._fut_waiter_v
            if (type(w) is Future or type(w) is Task) and (<Future>w)._state != ST_PENDING:
                # Woken by the yieldloop future it awaited.
                exc = (<Future>w)._outcome()
            w = None        # the step must not keep the future alive
        self._step(exc, True)
        if self._hidden & HID_STEPPING:
            gc_show(self)
        return 0

    cdef int step_failed(self) except -1:
        """run_ready() raised (before, in or after the step): the task is
        shown to the collector and, pending but not queued again, found
        through asyncio's WeakSet."""
        if self._hidden & HID_STEPPING:
            gc_show(self)
        if self._state == ST_PENDING and not self._hidden:
            self._unqueued()      # not stepped, not queued again
        return 0

    cdef int _step(self, object exc, bint enter) except -1:
        cdef object ctx = self._context_v, loop = self._loop_obj
        if self._state != ST_PENDING:
            raise _InvalidStateError("%s: already done: %r %r" % (_STEP, self, exc))
        if self._must_cancel:
            if exc is None or not isinstance(exc, _CancelledError):
                exc = self._make_cancelled_error_c()
            self._must_cancel = False
        self._fut_waiter_v = None
        if enter:
            PyContext_Enter(ctx)
        try:
            enter_task(loop, self)
            try:
                self._step_body(exc)
            finally:
                leave_task(loop, self)
        finally:
            if enter:
                PyContext_Exit(ctx)
        return 0

    cdef int _step_body(self, object exc) except -1:
        """Resume the coroutine (throwing ``exc`` in, unless None) and act
        on what it did: returned, raised, or yielded."""
        cdef PyObject* out = NULL
        cdef PySendResult status
        cdef object res
        if self._coro_v is None:
            raise RuntimeError("uninitialized Task object")
        if exc is None:
            status = yl_send(self._coro_v, None, &out)
        else:
            status = throw_into(self._coro_v, exc, &out)
        res = yl_aio_steal(out)
        if status == PYGEN_NEXT:
            return self._handle_yield(res)
        if self._reg == REG_STRONG:
            discard_strong(self)
            self._reg = REG_NONE
        if status == PYGEN_RETURN:
            if self._must_cancel:
                # Cancelled right before the coroutine returned.
                self._must_cancel = False
                Future._cancel(self, self._cancel_msg)
            else:
                Future._set_result(self, res)
            return 0
        if isinstance(res, _CancelledError):
            self._cancelled_exc = res
            Future._cancel(self, None)
            return 0
        Future._set_exception(self, res)
        if isinstance(res, (KeyboardInterrupt, SystemExit)):
            raise res
        return 0

    cdef int _handle_yield(self, object result) except -1:
        cdef Future fut
        cdef object blocking
        if result is self:
            return self._schedule_step(RuntimeError(
                "Task cannot await on itself: %r" % (self,)))
        if type(result) is Future or type(result) is Task:
            fut = <Future>result
            if fut._loop_obj is not self._loop_obj:
                return self._schedule_step(RuntimeError(
                    "Task %r got Future %r attached to a different loop" % (self, fut)))
            if not fut._blocking:
                return self._schedule_step(RuntimeError(
                    "yield was used instead of yield from in task %r with %r" % (self, fut)))
            fut._blocking = False
            self._unqueued()
            self._fut_waiter_v = fut
            fut._add_waiter(self)
            if self._must_cancel:
                if type(fut) is Task:
                    if (<Task>fut)._cancel_task(self._cancel_msg):
                        self._must_cancel = False
                elif fut._cancel(self._cancel_msg):
                    self._must_cancel = False
            return 0
        if result is None:
            # A bare yield: run again in the next iteration.
            return self._schedule_step(None)
        if type(result) is YieldTrap and self._core is not None:
            # A native sleep(0): answered at once, as the kernel does
            # (_bridge.pyx does the same for a Trap of this kind).
            if (<YieldTrap>result).state != TS_AWAITING:
                return self._schedule_step(RuntimeError(
                    "task %r awaited %r, which was already awaited" % (self.get_name(), result)))
            (<YieldTrap>result).state = TS_READY
            return self._schedule_step(None)
        if type(result) is Trap and self._core is not None:
            return self._await_trap(<Trap>result)
        blocking = getattr(result, "_asyncio_future_blocking", None)
        if blocking is not None:
            # A future of another kind (asyncio's own, a gather...).
            if _get_loop(result) is not self._loop_obj:
                return self._schedule_step(RuntimeError(
                    "Task %r got Future %r attached to a different loop" % (self, result)))
            if not blocking:
                return self._schedule_step(RuntimeError(
                    "yield was used instead of yield from in task %r with %r" % (self, result)))
            result._asyncio_future_blocking = False
            self._unqueued()
            result.add_done_callback(self._wakeup_callable(), context=self._context_v)
            self._fut_waiter_v = result
            if self._must_cancel:
                if result.cancel(self._cancel_msg):
                    self._must_cancel = False
            return 0
        if isinstance(result, _GeneratorType):
            return self._schedule_step(RuntimeError(
                "yield was used instead of yield from for generator in task %r with %r"
                % (self, result)))
        return self._schedule_step(RuntimeError("Task got bad yield: %r" % (result,)))

    cdef int _await_trap(self, object trap) except -1:
        """A native awaitable's trap: the kernel of the loop's core performs
        it with this task as its waiter (_bridge.pyx)."""
        cdef Kernel k = kernel_of_core(self._core._sched)
        exc = take_foreign_trap(k, self, <Trap>trap)
        if exc is not None:
            return self._schedule_step(exc)
        self._unqueued()
        self._fut_waiter_v = trap
        if self._must_cancel:
            if cancel_foreign_wait(k, <Trap>trap, self._cancel_msg):
                self._must_cancel = False
        return 0

    cdef bint _cancel_task(self, object msg) except -1:
        cdef object w
        self._log_tb = False
        if self._state != ST_PENDING:
            return False
        self._num_cancels += 1
        w = self._fut_waiter_v
        if w is not None:
            if type(w) is Task:
                if (<Task>w)._cancel_task(msg):
                    return True
            elif type(w) is Future:
                if (<Future>w)._cancel(msg):
                    return True
            elif type(w) is Trap:
                if cancel_foreign_wait(kernel_of_core(self._core._sched), <Trap>w, msg):
                    return True
            elif w.cancel(msg):
                return True
        self._must_cancel = True
        self._cancel_msg = msg
        return True

    cdef int _eager_start(self) except -1:
        """Run the first step now, inside create_task(), as asyncio's eager
        tasks do; a task that does not finish there is registered and goes
        on as any other."""
        cdef object loop = self._loop_obj, ctx = self._context_v
        prev = swap_current_task(loop, self)
        try:
            add_strong(self)
            try:
                PyContext_Enter(ctx)
                try:
                    self._step_body(None)
                finally:
                    PyContext_Exit(ctx)
            finally:
                discard_strong(self)
        finally:
            swap_current_task(loop, prev)
            if self._state != ST_PENDING:
                self._coro_v = None
            else:
                add_weak(self)
                self._reg = REG_WEAK
        return 0

    def __dealloc__(self):
        # Only if a queued task was let go of without its loop's knowledge:
        # the deallocators of coroutines and contexts need them tracked.
        if self._hidden:
            self._hidden &= ~HID_TASK
            gc_show(self)


cdef object _base_is_running = base_events.BaseEventLoop.is_running


cdef inline bint _loop_is_running(Task t) except -1:
    """t's loop.is_running(), read from the loop unless a subclass has
    its own."""
    if t._core is not None and getattr(type(t._loop_obj), "is_running", None) is _base_is_running:
        return t._core._running_c
    return bool(t._loop_obj.is_running())


cdef Task new_task(object loop, object coro, object name, object context):
    """A new Task of ``coro`` on ``loop`` (a LoopBase), not yet started."""
    cdef Task t = Task.__new__(Task)
    t._loop_obj = loop
    t._core = <LoopBase>loop
    if t._core._debug_c:
        t._source_tb = extract_stack(sys._getframe(0))
    _set_coro(t, coro)
    _set_fields(t, name, context)
    return t


cdef int run_ready_fn(Task t) except -1:
    """t.run_ready() as a function, for a caller that checks its result
    itself (LoopCore.step: no try/except on every step)."""
    return t.run_ready()


cdef object task_step_callable(Task t):
    """The task's step as a callable (what asyncio's Task schedules)."""
    return _TaskCall.__new__(_TaskCall, t, None, False)


cdef int _set_coro(Task t, object coro) except -1:
    if not PyCoro_CheckExact(coro) and type(coro) not in _coro_types:
        if not _iscoroutine(coro):
            t._log_destroy_pending = False
            raise TypeError("a coroutine was expected, got %r" % (coro,))
        if len(_coro_types) < 100:
            _coro_types.add(type(coro))
    t._coro_v = coro
    return 0


cdef int _set_fields(Task t, object name, object context) except -1:
    global _task_counter
    t._own_context = context is None
    if context is None:
        context = PyContext_CopyCurrent()
    elif _PY315 and type(context) is not _Context:
        t._log_destroy_pending = False
        raise TypeError("a contextvars.Context was expected, got %s"
                        % type(context).__name__)
    t._context_v = context
    t._fut_waiter_v = t._step_exc = None
    t._must_cancel = False
    t._num_cancels = 0
    t._name_v = None
    if name is None:
        _task_counter += 1
        t._name_no = _task_counter
    else:
        t._name_v = name if type(name) is str else str(name)
    t._log_destroy_pending = True
    return 0


cdef object _get_loop(object fut):
    """asyncio.futures._get_loop: get_loop(), or else the _loop attribute."""
    get_loop = getattr(fut, "get_loop", None)
    if get_loop is not None:
        return get_loop()
    return fut._loop


@cython.final
cdef class _TaskCall:
    """A task's step or wake-up as a callable, for where a callback is
    needed: asyncio's futures call a task's wake-up, and in debug mode
    each step is a Handle's callback (asyncio's slow-callback warning finds
    the task as its ``__self__``)."""

    cdef Task _task
    cdef object _exc
    cdef bint _wakeup

    def __cinit__(self, Task task, exc, bint wakeup):
        self._task = task
        self._exc = exc
        self._wakeup = wakeup

    def __call__(self, *args):
        cdef object fut, exc = None
        if not self._wakeup:
            self._task._step(self._exc, False)
            return
        fut, = args
        if type(fut) is Future or type(fut) is Task:
            exc = (<Future>fut)._outcome()
        else:
            try:
                fut.result()
            except BaseException as e:
                exc = e
        self._task._step(exc, False)

    @property
    def __self__(self):
        return self._task

    @property
    def __name__(self):
        return "task_wakeup" if self._wakeup else "task_step"

    @property
    def __qualname__(self):
        return "Task.task_wakeup" if self._wakeup else "Task.task_step"


cdef int _wake_on_trap(object waiter) except -1:
    """The kernel answered the trap an asyncio Task of ours awaits: queue
    its next step (nothing if it is done, or its loop closed)."""
    cdef Task t
    if type(waiter) is not Task:
        return 0
    t = <Task>waiter
    if t._state != ST_PENDING or t._core is None or t._core._closed_c:
        return 0
    return t._schedule_step(None)


set_foreign_waker(_wake_on_trap)


# asyncio's Task has these from some version on; so do we.
if sys.version_info >= (3, 11):
    yl_type_drop(Task, "_repr_info")
if sys.version_info < (3, 11):
    yl_type_drop(Task, "cancelling")
    yl_type_drop(Task, "uncancel")
if sys.version_info < (3, 12):
    yl_type_drop(Task, "get_context")
