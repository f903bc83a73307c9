# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The kernel's scheduler: spawns native tasks, steps them, finishes them.

Scheduler derives from TrapHost (_traphost.pyx, the traps a task yields)
and is the base of Kernel (_kernel.pyx, what a run is). Each time a task
runs it is resumed with PyIter_Send on the iterator it runs (a coroutine,
a generator, or the iterator of an awaitable), and what comes back decides
what happens next:

- ``None`` (a bare ``yield``): the task goes to the back of the ready queue;
- a Trap (what every awaitable of the API yields): the kernel performs it;
  the task is resumed when the trap is answered;
- a Task: the task waits for it to finish (``x = yield task``);
- any other awaitable: the kernel runs its iterator for the task and sends
  the outcome back (Tornado style ``x = yield fetch()``), keeping the
  enclosing iterators on the task's stack;
- anything else: a TypeError is thrown into that task alone.

The run loop is the scheduler core's (_core.pyx), which the kernel drives
as one of its front ends: one iteration polls (without waiting if tasks are
ready, and only when some fd has a waiter), answers due timers, then runs
the tasks that were ready when the iteration began; the core calls back
``step`` for each native task. Also here: the kernel's live list (it owns
one reference to each live task, and hides live tasks from the cyclic GC),
joiners and done-callbacks of a finished task, and the native side of
mixing with asyncio (a native task awaiting an asyncio future, a step seen
as asyncio's current task; see _bridge.pyx).

The methods on these paths are final: calls between them are direct C
calls (a call into TrapHost, another module, goes through the vtable).

Invariants:
- a live task is referenced by the kernel (its live list) and is in exactly
  one place: the ready queue, running, or blocked on one trap (``_trap``);
- a task leaves the live list once, by ``_finish`` (or ``_abandon_all``
  after a hard stop), which puts back what spawn took from the cyclic GC.
"""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from yieldloop.core._readyqueue cimport _steal
from yieldloop.core._traps cimport (
    YieldTrap, make_trap, trap_done, TRAP_JOIN, TRAP_PARK, TS_AWAITING, TS_BARE, TS_READY,
    TS_DONE)
from yieldloop.core._throw cimport throw_into
from yieldloop.native._task cimport (
    TASK_DONE, TASK_FAILED, TASK_CANCELLED, _ErrorReport,
    new_cancelled_error, is_cancelled_error, short_repr)
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._traphost cimport wake
from yieldloop.native._tracer cimport (
    EV_SPAWN, EV_RESUME, EV_YIELD, EV_WAKE, EV_FINISH, Y_BARE, Y_AWAITABLE, Y_BAD,
    W_TASK)
from yieldloop.includes.capi cimport (
    PySendResult, PYGEN_RETURN, PYGEN_NEXT, PyContext_CopyCurrent, PyContext_Enter,
    PyContext_Exit, PyCoro_CheckExact, PyGen_CheckExact, yl_send, yl_is_awaitable,
    yl_await_iter, visitproc, traverseproc, yl_hook_traverse, yl_gc_untrack, yl_gc_track,
    PyObject_GC_UnTrack)

from yieldloop._errors import explain_foreign_error

cdef enum:
    MAX_AWAIT_DEPTH = 1000   # awaitables nested by `x = yield awaitable`

cdef enum:
    # What _gc_hide took out of the cyclic GC (Task._untracked).
    UNTRACKED_TASK = 1
    UNTRACKED_CORO = 2
    UNTRACKED_CONTEXT = 4


cdef class Scheduler(TrapHost):
    """The base of Kernel that runs its tasks (see the module docstring).
    Not made on its own: use yieldloop.Kernel."""

    cdef Task _spawn(self, object coro, object name, object context=None):
        cdef Task t = Task.__new__(Task)
        t._kernel = self
        t._coro = coro
        t._context = PyContext_CopyCurrent() if context is None else context
        _gc_hide(t, context is None)
        self.spawned += 1
        t._id = self.spawned
        if name is not None:
            t._name = str(name)
        Py_INCREF(t)                 # the kernel's reference, until _finish
        t._prev = self._live_tail
        if self._live_tail != NULL:
            (<Task>self._live_tail)._next = <PyObject*>t
        else:
            self._live_head = <PyObject*>t
        self._live_tail = <PyObject*>t
        self.live_tasks += 1
        self._ready.push(t)
        if self._tracer is not None:
            self._tracer.task_spawned(t._id, t)
            self._tracer.record(EV_SPAWN, 0, t._id,
                                self._current._id if self._current is not None else 0, 0, None)
        return t

    # --- what the core calls back (FrontEnd, see _core.pxd)

    cdef int step(self, object task) except -1:
        if self._aio is None:
            return self._step(<Task>task)
        return self._step_entered(<Task>task)

    cdef int _step_entered(self, Task t) except -1:
        """A step while a yieldloop.Loop shares the core: asyncio's
        current_task() is the native task meanwhile (asyncio.timeout,
        wait_for and TaskGroup ask for it)."""
        cdef dict current
        if _current_tasks is not None:
            # Python 3.10-3.13: asyncio's own map of current tasks, which
            # its _enter_task/_leave_task fill, set directly (the cheap way).
            current = <dict>_current_tasks
            current[self._aio] = t
            try:
                return self._step(t)
            finally:
                del current[self._aio]
        _enter_task(self._aio, t)
        try:
            return self._step(t)
        finally:
            _leave_task(self._aio, t)

    cdef int _step(self, Task t) except -1:
        """Resume ``t`` once and act on what it yields, returns or raises."""
        cdef PyObject* out = NULL
        cdef PySendResult status
        cdef object value
        cdef list stack
        if t._must_cancel:
            t._must_cancel = False
            t._send = None
            t._throw = new_cancelled_error(t._cancel_msg)
        self._current = t
        self.switches += 1
        if self._tracer is not None:
            self._tracer.record(EV_RESUME, t._throw is not None, t._id, 0, 0,
                                t._send if t._throw is None else t._throw)
        PyContext_Enter(t._context)
        if t._throw is None:
            value = t._send
            if value is not None:
                t._send = None
            status = yl_send(t._coro, value, &out)
        else:
            value = t._throw
            t._throw = None
            status = throw_into(t._coro, value, &out)
        # An inner iterator finished: its outcome goes to the enclosing one.
        while status != PYGEN_NEXT:
            stack = t._stack
            if not stack:
                break
            t._coro = stack.pop()
            value = <object>_steal(out)
            out = NULL
            if status == PYGEN_RETURN:
                status = yl_send(t._coro, value, &out)
            else:
                status = throw_into(t._coro, value, &out)
        PyContext_Exit(t._context)
        self._current = None
        value = <object>_steal(out)
        if status == PYGEN_NEXT:
            return self._dispatch(t, value)
        if status == PYGEN_RETURN:
            return self._finish(t, value, None)
        return self._finish(t, None, value)

    cdef int _dispatch(self, Task t, object value) except -1:
        cdef Trap trap
        if value is None:
            if self._tracer is not None:
                self._tracer.record(EV_YIELD, Y_BARE, t._id, 0, 0, None)
            self._ready.push(t)
            return 0
        if type(value) is YieldTrap:
            # `await sleep(0)`, the commonest trap: answered at once.
            if (<YieldTrap>value).state == TS_AWAITING and not t._must_cancel \
                    and self._tracer is None:
                (<YieldTrap>value).state = TS_READY
                self._ready.push(t)
                return 0
            return self._take_yield(t, <YieldTrap>value)
        if type(value) is Trap:
            return self._take_trap(t, <Trap>value)
        if type(value) is Task:
            trap = make_trap(TRAP_JOIN)
            trap.arg = value
            return self._take_trap(t, trap)
        return self._await_other(t, value)

    cdef int _await_other(self, Task t, object value) except -1:
        """``x = yield awaitable``: run the awaitable's iterator for the task."""
        cdef object exc = None
        if self._tracer is not None:
            self._tracer.record(EV_YIELD, Y_AWAITABLE if yl_is_awaitable(value) else Y_BAD,
                                t._id, 0, 0, value)
        if hasattr(value, "_asyncio_future_blocking"):
            if self._aio is not None and _future_loop(value) is self._aio:
                return self._park_on_future(t, value)
            exc = TypeError(
                "task %r awaits %s, an asyncio future: the yieldloop kernel cannot "
                "wait on asyncio objects; run asyncio code on yieldloop.Loop"
                % (t._get_name(), short_repr(value)))
        elif not yl_is_awaitable(value):
            exc = TypeError(
                "task %r yielded %s (type %s), which yieldloop cannot wait on: a task "
                "may yield None (let other tasks run), a yieldloop awaitable such as "
                "sleep(), or an awaitable (coroutine, Task, object with __await__)"
                % (t._get_name(), short_repr(value), type(value).__name__))
        elif t._stack is not None and len(t._stack) >= MAX_AWAIT_DEPTH:
            exc = RecursionError("task %r nests more than %d yielded awaitables"
                                 % (t._get_name(), MAX_AWAIT_DEPTH))
        else:
            try:
                it = yl_await_iter(value)
            except Exception as e:
                exc = e
            else:
                if t._stack is None:
                    t._stack = []
                t._stack.append(t._coro)
                t._coro = it
        if exc is not None:
            t._throw = exc
        self._ready.push(t)
        return 0

    cdef int _park_on_future(self, Task t, object fut) except -1:
        """``t`` awaits an asyncio future of the Loop on this core: it waits
        on a PARK trap that the future's done-callback answers; it is then
        resumed with send(None), and the future's __await__ returns its
        result or raises its exception, as under an asyncio Task."""
        cdef Trap trap
        if not fut._asyncio_future_blocking:
            t._throw = RuntimeError("yield was used instead of yield from in task %r with %r"
                                    % (t._get_name(), fut))
            self._ready.push(t)
            return 0
        fut._asyncio_future_blocking = False
        trap = make_trap(TRAP_PARK)
        trap.arg = fut
        trap.state = TS_BARE
        trap.task = t
        t._trap = trap
        fut.add_done_callback(_FutureWaker_new(trap))
        if t._must_cancel:
            # cancel() came while the task ran: the future is cancelled too.
            t._must_cancel = False
            t._num_cancels -= 1
            self._cancel(t, t._cancel_msg)
        return 0

    cdef int _finish(self, Task t, object result, object exc) except -1:
        cdef object joiners
        cdef _ErrorReport report
        cdef PyObject* prev
        cdef PyObject* nxt
        _gc_show(t)                  # the kernel is about to let go of it
        if exc is None:
            if t._must_cancel:       # cancelled right before it returned
                t._must_cancel = False
                t._state = TASK_CANCELLED
                t._exception = new_cancelled_error(t._cancel_msg)
            else:
                t._state = TASK_DONE
                t._result = result
        elif is_cancelled_error(exc):
            t._state = TASK_CANCELLED
            t._exception = exc
        else:
            t._state = TASK_FAILED
            if type(exc) is RuntimeError:
                explain_foreign_error(exc)   # asyncio code in a native task: say so
            t._exception = exc
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                # Stop; run() re-raises it. Any other BaseException
                # (GeneratorExit, a library's own) fails this task alone,
                # as in asyncio.
                t._retrieved = True
                self._stop_now = False   # a second Ctrl-C, if it was one: not lost
                if self._abort is None:
                    self._abort = exc
        t._stack = None
        t._kernel = None             # a finished task does not keep its kernel alive
        if self._tracer is not None:
            self._tracer.record(EV_FINISH, t._state, t._id, 0, 0,
                                t._result if t._state == TASK_DONE else t._exception)
            self._tracer.task_finished(t._id, t._get_name())
        joiners = t._joiners
        t._joiners = None
        if type(joiners) is Trap:
            t._retrieved = True
            self._wake_joiner(t, <Trap>joiners)
        elif joiners:
            t._retrieved = True
            for j in <list>joiners:
                self._wake_joiner(t, j)
        if t._callbacks:
            for fn, context in t._callbacks:
                self._call_soon(fn, (t,), context)
            t._callbacks = None
        if t._state == TASK_FAILED and not t._retrieved:
            # An exception nobody joined or asked for is reported when the
            # task is freed, never lost.
            report = _ErrorReport.__new__(_ErrorReport)
            report.exc = t._exception
            report.name = t._get_name()
            t._report = report
        prev = t._prev
        nxt = t._next
        if prev != NULL:
            (<Task>prev)._next = nxt
        else:
            self._live_head = nxt
        if nxt != NULL:
            (<Task>nxt)._prev = prev
        else:
            self._live_tail = prev
        t._prev = t._next = NULL
        self.live_tasks -= 1
        Py_DECREF(t)                 # the caller still holds one reference
        return 0

    cdef int _wake_joiner(self, Task t, Trap j) except -1:
        """Answer the JOIN trap ``j`` with the outcome of ``t``, just finished."""
        # j.task may be a yieldloop.Loop task joining a native one (mixing)
        if self._tracer is not None and type(j.task) is Task:
            self._tracer.record(EV_WAKE, W_TASK, (<Task>j.task)._id, t._id, 0, None)
        if t._state == TASK_DONE:
            return self._answer_any(j, t._result, None)
        return self._answer_any(j, None, t._exception)

    cdef int _cancel_all(self) except -1:
        """Cancel every live task not already asked to stop."""
        cdef list tasks = []
        cdef PyObject* p = self._live_head
        cdef Task t
        while p != NULL:
            tasks.append(<Task>p)
            p = (<Task>p)._next
        for t in tasks:
            if t._num_cancels == 0 and not t._must_cancel:
                self._cancel(t, None)
        return 0

    cdef int _abandon_all(self) except -1:
        """Let go of every live task, and of every trap they wait on, so
        that a primitive woken later finds nobody there: after a run that
        was stopped hard (a second Ctrl-C during cleanup, or a fork)."""
        cdef PyObject* p
        cdef Task t
        while self._live_head != NULL:
            p = self._live_head
            t = <Task>p
            _gc_show(t)
            self._live_head = t._next
            t._prev = t._next = NULL
            t._state = TASK_CANCELLED
            t._retrieved = True
            t._exception = new_cancelled_error("the kernel stopped before this task finished")
            t._kernel = None
            _abandon_trap(t)
            t._joiners = None
            t._callbacks = None
            self.live_tasks -= 1
            Py_DECREF(t)
        self._live_tail = NULL
        self._current = None
        return 0


# --- the cyclic GC and live tasks. The kernel holds each live task (its
# --- live list) until it finishes, and the kernel is held by run(): a live
# --- task and what only it holds are reachable, so the collector can never
# --- free any of it, yet walked them all at each collection, which was most
# --- of the cost of a spawn. So a live task, its coroutine and the context
# --- spawn made for it are taken out of the collector's lists, and put back
# --- when the kernel lets go of the task (_finish, _abandon_all): from then on a
# --- cycle through them is collected as usual. Untracked objects look like
# --- roots to the collector, so what they refer to stays alive: right, as
# --- all of it is reachable through the kernel meanwhile.

cdef inline void _gc_hide(Task t, bint own_context) noexcept:
    """Untrack a new task, its coroutine (a CPython coroutine or generator:
    kinds whose deallocation we know) and, if spawn made it, its context."""
    # The task and a context just made are tracked for sure: no need to ask.
    cdef unsigned char off = UNTRACKED_TASK
    PyObject_GC_UnTrack(t)
    if (PyCoro_CheckExact(t._coro) or PyGen_CheckExact(t._coro)) and yl_gc_untrack(t._coro):
        off |= UNTRACKED_CORO
    if own_context:
        PyObject_GC_UnTrack(t._context)
        off |= UNTRACKED_CONTEXT
    t._untracked = off


cdef inline void _gc_show(Task t) noexcept:
    """Track again what _gc_hide untracked. The coroutine is the one the
    task was spawned with: the bottom of its stack while it awaits
    another iterator (``x = yield awaitable``), else ``_coro``."""
    cdef unsigned char off = t._untracked
    if off == 0:
        return
    t._untracked = 0
    if off & UNTRACKED_CORO:
        yl_gc_track(t._stack[0] if t._stack else t._coro)
    if off & UNTRACKED_CONTEXT:
        yl_gc_track(t._context)
    if off & UNTRACKED_TASK:
        yl_gc_track(t)


cdef int _abandon_trap(Task t) except -1:
    """Detach the trap an abandoned task waits on: a wait list drops it, and
    it counts as cancelled, so waking it later does nothing."""
    cdef Trap trap = t._trap
    if trap is None:
        return 0
    t._trap = None
    trap.task = None
    trap.cancelled = True
    trap.state = TS_DONE
    if trap.wl_owner != NULL:
        (<WaitList>trap.wl_owner).remove(trap)
    return 0


# --- mixing: native tasks and asyncio futures of a yieldloop.Loop on the
# --- same core (see _bridge.pyx for the other way round)

cdef object _future_loop(object fut):
    """asyncio.futures._get_loop: get_loop(), or else the _loop attribute."""
    get_loop = getattr(fut, "get_loop", None)
    if get_loop is not None:
        return get_loop()
    return getattr(fut, "_loop", None)


@cython.final
cdef class _FutureWaker:
    """The done-callback an asyncio future gets from the native task that
    awaits it: answers the task's PARK trap (nothing if it is done, e.g.
    the task was cancelled first)."""
    cdef Trap _trap

    def __call__(self, fut):
        if not trap_done(self._trap):
            wake(self._trap, None, None)


cdef object _FutureWaker_new(Trap trap):
    cdef _FutureWaker w = _FutureWaker.__new__(_FutureWaker)
    w._trap = trap
    return w


# asyncio's _enter_task / _leave_task, loaded with the first Loop attached.
cdef object _enter_task = None
cdef object _leave_task = None


cdef object _current_tasks = None     # asyncio's dict loop -> current task (3.10-3.13)


cdef int load_task_hooks() except -1:
    global _enter_task, _leave_task, _current_tasks
    if _enter_task is None:
        from yieldloop._aio_private import enter_task, leave_task, current_tasks
        _enter_task = enter_task
        _leave_task = leave_task
        _current_tasks = current_tasks
    return 0


# --- garbage collection: the kernel owns one reference to each live task
# --- through the intrusive live list, which Cython's traverse cannot see.

cdef traverseproc _base_traverse = NULL


cdef int _traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    cdef PyObject* p = (<Scheduler>o)._live_head
    cdef int r = _base_traverse(o, visit, arg)
    while r == 0 and p != NULL:
        r = visit(p, arg)
        p = (<Task>p)._next
    return r


_base_traverse = yl_hook_traverse(Scheduler, _traverse)
if _base_traverse == NULL:
    raise ImportError("yieldloop.native._scheduler: Scheduler has no GC support")
