# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The kernel's traps: how it performs what a task asks, and answers it.

TrapHost is the base of the kernel (Kernel derives from Scheduler, which
derives from it). A task that yields a Trap (sleep, wait for an fd, join a
task, park on a wait list) is blocked on it here (``_take_trap``): the
trap goes to the timer heap, to the poller, to the target's joiners, or
stays with whoever will wake() it. The scheduler core hands back a trap
whose timer or fd came (``trap_ready``); a finishing task's joiners, a
primitive's wake(), a closed fd (``close_fd``) or a cancellation
(``_cancel``, which takes the trap back first: ``_unblock``) answer the
others. ``_answer`` is the only way a blocked task becomes ready again: it
leaves the answer in the trap (an awaited trap returns it from __next__)
or in the task (``x = yield trap``). Also here: callbacks and timers on
the kernel's clock (call_soon, call_later, call_at, time).

A trap may be awaited by a task of the other front end, an asyncio Task of
yieldloop.Loop (_bridge.pyx): ``_answer_any`` then leaves the answer in the
trap and wakes that task through the function the Loop registered
(set_foreign_waker), as the kernel knows nothing of asyncio.

Invariants:
- a blocked task has ``_trap`` set and ``trap.task`` is that task; the
  trap is held by exactly one of the timer heap, the poller, its target's
  joiners, or (PARK) whoever will wake() it: a wait list, a thread, an
  asyncio future's done-callback;
- an fd side has at most one waiting trap; a trap that came for an object
  whose fd number was reused is evicted with ClosedResourceError;
- cancelling a blocked task unregisters its trap first (``_unblock``).
"""
from yieldloop.core._poller cimport YL_READ, YL_WRITE
from yieldloop.core._core cimport Core
from yieldloop.core._handles cimport new_handle
from yieldloop.core._traps cimport (
    trap_done, TRAP_YIELD, TRAP_SLEEP, TRAP_READ, TRAP_WRITE,
    TRAP_JOIN, TRAP_PARK, TS_FRESH, TS_AWAITING, TS_BARE, TS_READY, TS_DONE)
from yieldloop.native._task cimport (
    TASK_PENDING, TASK_DONE, retrieve, waiter_name, new_cancelled_error)
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._tracer cimport (
    EV_YIELD, EV_WAKE, W_TIMER, W_FD, W_TASK, W_CLOSED, W_CALLBACK, W_CANCEL)
from yieldloop.includes.capi cimport yl_monotonic

from yieldloop._errors import BusyResourceError, ClosedResourceError


cdef object _park_label(Trap trap):
    """What a PARK trap waits for: its wait list's label, or its own."""
    if isinstance(trap.arg, WaitList):
        return (<WaitList>trap.arg).label
    return trap.arg if isinstance(trap.arg, str) else None


cdef class TrapHost(FrontEnd):
    """The base of Kernel that performs traps (see the module docstring).
    Not made on its own: use yieldloop.Kernel."""

    def __cinit__(self):
        self._sched = Core()
        self._ready = self._sched.ready
        self._timers = self._sched.timers

    cdef double _now(self) except? -1.0:
        # The default path is one compare: no clock, the C monotonic clock.
        if self._clock is None:
            return yl_monotonic()
        return self._clock_time()

    cdef double _clock_time(self) except? -1.0:
        return self._clock.current_time()

    # --- callbacks and timers on the kernel's clock

    def call_soon(self, fn, *args, context=None):
        """Call ``fn(*args)`` from the loop soon (after the tasks now ready);
        return a Handle that can cancel it."""
        return self._call_soon(fn, args, context)

    def call_later(self, delay, fn, *args, context=None):
        """Call ``fn(*args)`` after ``delay`` seconds; return a Handle."""
        return self._call_at(self._now() + float(delay), fn, args, context)

    def time(self):
        """Seconds on this kernel's clock: while it runs with a clock (run's
        ``clock=``), that clock's time; otherwise the monotonic clock's
        (time.monotonic's). Deadlines of call_at() and timers are on it."""
        return self._now()

    def call_at(self, when, fn, *args, context=None):
        """Call ``fn(*args)`` at ``when`` on the kernel's clock (time());
        return a Handle."""
        return self._call_at(float(when), fn, args, context)

    cdef Handle _call_soon(self, object fn, tuple args, object context):
        cdef Handle h = new_handle(fn, args, context)
        self._ready.push(h)
        return h

    cdef Handle _call_at(self, double when, object fn, tuple args, object context):
        cdef Handle h = new_handle(fn, args, context)
        h.timer.when = when
        self._timers.push(h, &h.timer)
        h.heap = self._timers
        return h

    # --- what the core calls back (FrontEnd, see _core.pxd)

    cdef double clock_now(self) except? -1.0:
        return self._clock_time()

    cdef int trap_ready(self, Trap trap, bint by_timer) except -1:
        if type(trap.task) is not Task:
            return self._answer_any(trap, None, None)      # an asyncio Task's (_bridge.pyx)
        if self._tracer is not None:
            if by_timer:
                self._tracer.record(EV_WAKE, W_TIMER, (<Task>trap.task)._id, 0,
                                    trap.timer.when, None)
            else:
                self._tracer.record(EV_WAKE, W_FD, (<Task>trap.task)._id, 0, trap.fd, None)
        return self._answer(<Task>trap.task, trap, None, None)

    # --- fds

    cdef int close_fd(self, int fd) except -1:
        """``fd`` is about to be closed: wake the tasks waiting on it with
        ClosedResourceError, drop I/O callbacks and the OS registration."""
        cdef object w
        cdef Trap trap
        for side in (YL_READ, YL_WRITE):
            w = self._poller.unwatch(fd, side)
            if type(w) is Trap:
                trap = <Trap>w
                if self._tracer is not None and type(trap.task) is Task:
                    self._tracer.record(EV_WAKE, W_CLOSED, (<Task>trap.task)._id, 0, fd, None)
                self._answer_any(trap, None, ClosedResourceError(
                    "fd %d was closed while task %r waited for it"
                    % (fd, waiter_name(trap.task))))
            elif w is not None:
                (<Handle>w).cancel()
        self._poller.forget(fd)
        return 0

    cdef bint _evict_stale(self, Trap trap, int side) except -1:
        """The fd of ``trap`` has a waiter already. If that waiter came for
        an owner object that no longer has this fd (it was closed behind our
        back and the number reused), wake it with ClosedResourceError and
        return True: the slot is free. Bare fd numbers cannot be told apart."""
        cdef object w = self._poller.waiter(trap.fd, side)
        cdef Trap old
        if type(w) is not Trap:
            return False
        old = <Trap>w
        if old.arg is None or old.arg is trap.arg:
            return False
        try:
            still_there = old.arg.fileno() == trap.fd
        except Exception:
            still_there = False
        if still_there:
            return False
        self._poller.unwatch(trap.fd, side)
        if self._tracer is not None and type(old.task) is Task:
            self._tracer.record(EV_WAKE, W_CLOSED, (<Task>old.task)._id, 0, trap.fd, None)
        self._answer_any(old, None, ClosedResourceError(
            "%r was closed while task %r waited for it" % (old.arg, waiter_name(old.task))))
        return True

    # --- traps

    cdef int _take_trap(self, Task t, Trap trap) except -1:
        """``t`` yielded ``trap``: block ``t`` on it, or answer it at once."""
        cdef int kind = trap.kind
        cdef int side
        cdef Task target
        if trap.state == TS_FRESH:
            if kind == TRAP_PARK:
                # Parked from a primitive's own code, never yielded bare.
                return self._fail_trap(t, trap, RuntimeError(
                    "a PARK trap must be awaited, not yielded"))
            trap.state = TS_BARE
        elif trap.state == TS_READY:
            # An already answered awaitable, yielded bare: answer at once.
            return self._deliver_ready(t, trap)
        elif trap.state != TS_AWAITING or trap.task is not None:
            # Done, or held for another task already (two tasks sharing one
            # awaitable): refuse it, as a reused coroutine is refused.
            t._throw = RuntimeError("task %r yielded %r, which was already awaited"
                                    % (t._get_name(), trap))
            self._ready.push(t)
            return 0
        if t._must_cancel:
            # cancel() came while the task ran: the wait does not start
            # (a parked trap counts as cancelled, as a cancelled future).
            trap.state = TS_DONE
            trap.cancelled = True
            self._ready.push(t)
            return 0
        if self._tracer is not None:
            self._trace_trap(t, trap)
        if kind == TRAP_YIELD:
            return self._answer(t, trap, None, None)
        if kind == TRAP_SLEEP:
            if self._clock is None:
                trap.timer.when = yl_monotonic() + trap.delay
            else:
                try:
                    trap.timer.when = self._clock_time() + trap.delay
                except Exception as e:       # a broken clock fails this sleep, as a bad fd does
                    return self._fail_trap(t, trap, e)
            self._timers.push(trap, &trap.timer)
        elif kind == TRAP_READ or kind == TRAP_WRITE:
            side = YL_READ if kind == TRAP_READ else YL_WRITE
            other = self._poller.waiter(trap.fd, side)
            if other is not None and self._evict_stale(trap, side):
                other = None
            if other is not None and type(other) is not Trap:
                return self._fail_trap(t, trap, BusyResourceError(
                    "task %r cannot wait for fd %d: a stream is using it"
                    % (t._get_name(), trap.fd)))
            if other is not None:
                return self._fail_trap(t, trap, BusyResourceError(
                    "task %r cannot wait for fd %d to become %s: task %r is already waiting"
                    % (t._get_name(), trap.fd, "readable" if side == YL_READ else "writable",
                       waiter_name((<Trap>other).task))))
            try:
                self._poller.watch(trap.fd, side, trap, trap.arg)
            except Exception as e:
                return self._fail_trap(t, trap, e)
        elif kind == TRAP_JOIN:
            target = trap.arg
            if target._state != TASK_PENDING:
                retrieve(target)
                if target._state == TASK_DONE:
                    return self._answer(t, trap, target._result, None)
                return self._answer(t, trap, None, target._exception)
            if target is t:
                return self._fail_trap(t, trap, RuntimeError(
                    "task %r cannot join itself (it would wait forever)" % t._get_name()))
            if target._kernel is not self:
                return self._fail_trap(t, trap, RuntimeError(
                    "task %r belongs to another kernel" % target._get_name()))
            # Most tasks have one joiner at most: no list for it.
            if target._joiners is None:
                target._joiners = trap
            elif type(target._joiners) is list:
                (<list>target._joiners).append(trap)
            else:
                target._joiners = [target._joiners, trap]
        elif kind == TRAP_PARK:
            pass                     # woken by wake() (a primitive, a thread)
        else:
            return self._fail_trap(t, trap, RuntimeError("unknown trap %r" % trap))
        trap.task = t
        t._trap = trap
        return 0

    cdef int _take_yield(self, Task t, YieldTrap trap) except -1:
        """``t`` yielded sleep(0)'s trap and the scheduler's fast path did
        not take it: _take_trap's checks for the one kind answered at once,
        with nothing (the task is resumed with send(None) either way)."""
        if trap.state == TS_FRESH or trap.state == TS_READY:
            # `x = yield sleep(0)`: consumed here (not yielded through __next__).
            if trap.state == TS_FRESH and self._tracer is not None and not t._must_cancel:
                self._tracer.record(EV_YIELD, TRAP_YIELD, t._id, 0, 0, None)
            trap.state = TS_DONE
        elif trap.state != TS_AWAITING:
            t._throw = RuntimeError("task %r yielded %r, which was already awaited"
                                    % (t._get_name(), trap))
        elif t._must_cancel:
            trap.state = TS_DONE     # the wait does not start (see _take_trap)
        else:
            if self._tracer is not None:
                self._tracer.record(EV_YIELD, TRAP_YIELD, t._id, 0, 0, None)
            trap.state = TS_READY    # __next__ ends the await
        self._ready.push(t)
        return 0

    cdef int _trace_trap(self, Task t, Trap trap) except -1:
        """Record what the trap ``t`` yielded asks for."""
        cdef int kind = trap.kind
        cdef double number = 0
        cdef unsigned long long other = 0
        if kind == TRAP_SLEEP:
            number = trap.delay
        elif kind == TRAP_READ or kind == TRAP_WRITE:
            number = trap.fd
        elif kind == TRAP_JOIN:
            other = (<Task>trap.arg)._id
        return self._tracer.record(EV_YIELD, kind, t._id, other, number,
                                   _park_label(trap) if kind == TRAP_PARK else None)

    cdef int _answer(self, Task t, Trap trap, object result, object exc) except -1:
        """Make ``t``, blocked on ``trap``, ready with ``result`` or ``exc``."""
        trap.task = None
        t._trap = None
        if trap.state == TS_AWAITING:
            # __next__ delivers it when the task is resumed with send(None).
            trap.result = result
            trap.exc = exc
            trap.state = TS_READY
        else:
            trap.state = TS_DONE
            if exc is None:
                t._send = result
            else:
                t._throw = exc
        self._ready.push(t)
        return 0

    cdef int _answer_any(self, Trap trap, object result, object exc) except -1:
        """Answer ``trap``, whichever front end's task waits on it: a native
        task becomes ready (_answer); another's (an asyncio Task awaiting a
        native awaitable) gets the answer through the trap, as an awaiting
        native task does, and is woken by its front end."""
        cdef object waiter = trap.task
        if type(waiter) is Task:
            return self._answer(<Task>waiter, trap, result, exc)
        trap.task = None
        trap.result = result
        trap.exc = exc
        trap.state = TS_READY
        return wake_foreign(waiter)

    cdef int _fail_trap(self, Task t, Trap trap, object exc) except -1:
        return self._answer(t, trap, None, exc)

    cdef int _deliver_ready(self, Task t, Trap trap) except -1:
        """``x = yield trap`` of a trap answered before it was yielded."""
        trap.state = TS_DONE
        if trap.exc is None:
            t._send = trap.result
        else:
            t._throw = trap.exc
        trap.result = trap.exc = None
        self._ready.push(t)
        return 0

    cdef int _unblock(self, Trap trap) except -1:
        """Remove ``trap`` from whatever holds it (timer heap, poller, joiners)."""
        cdef int kind = trap.kind
        cdef Task target
        if kind == TRAP_SLEEP:
            self._timers.cancel(&trap.timer)
        elif kind == TRAP_READ:
            self._poller.unwatch(trap.fd, YL_READ)
        elif kind == TRAP_WRITE:
            self._poller.unwatch(trap.fd, YL_WRITE)
        elif kind == TRAP_JOIN:
            target = <Task>trap.arg
            if target._joiners is trap:
                target._joiners = None
            else:
                (<list>target._joiners).remove(trap)
        elif kind == TRAP_PARK:
            # As a cancelled future: the primitive that parked the task sees
            # it when the task resumes, and takes the trap off its list.
            trap.cancelled = True
        return 0

    cdef bint _cancel(self, Task t, object msg) except -1:
        cdef Trap trap
        if t._state != TASK_PENDING:
            return False
        t._num_cancels += 1
        t._cancel_msg = msg
        trap = t._trap
        if trap is not None:
            self._unblock(trap)
            if trap.kind == TRAP_PARK and type(trap.arg) is not WaitList and hasattr(
                    trap.arg, "_asyncio_future_blocking"):
                trap.arg.cancel(msg)       # an asyncio future it awaits: cancelled too
            if self._tracer is not None:
                self._tracer.record(EV_WAKE, W_CANCEL, t._id,
                                    self._current._id if self._current is not None else 0, 0, None)
            self._answer(t, trap, None, new_cancelled_error(msg))
        else:
            t._must_cancel = True
        return True


cdef foreign_wake_fn _foreign_waker = NULL


cdef int set_foreign_waker(foreign_wake_fn fn) except -1:
    global _foreign_waker
    _foreign_waker = fn
    return 0


cdef int wake_foreign(object waiter) except -1:
    """Queue ``waiter`` (a task of another front end) whose trap was answered."""
    if _foreign_waker == NULL:
        raise RuntimeError("no front end wakes %r" % (waiter,))
    return _foreign_waker(waiter)


cdef int wake(Trap trap, object value, object exc) except -1:
    """Answer a PARK trap with ``value`` or ``exc``, as Future.set_result /
    set_exception; nothing happens if it is already done."""
    cdef Task t, by
    cdef TrapHost k
    if trap_done(trap):
        return 0
    if trap.task is None:
        # Not yet awaited: it returns at once when it is.
        trap.result = value
        trap.exc = exc
        trap.state = TS_READY
        return 0
    if type(trap.task) is not Task:
        # An asyncio Task awaiting a native primitive (_bridge.pyx).
        waiter, trap.task = trap.task, None
        trap.result = value
        trap.exc = exc
        trap.state = TS_READY
        return wake_foreign(waiter)
    t = <Task>trap.task
    if t._kernel is None:
        return 0                 # abandoned by a hard stop (Scheduler._abandon_all)
    k = t._kernel
    if k._tracer is not None:
        by = k._current
        k._tracer.record(EV_WAKE, W_TASK if by is not None else W_CALLBACK, t._id,
                         by._id if by is not None else 0, 0, _park_label(trap))
    return k._answer(t, trap, value, exc)


cdef int discard(Trap trap) except -1:
    """As Future.cancel() on a PARK trap nobody will wait on any more."""
    if trap_done(trap):
        return 0
    if trap.task is not None:
        if type(trap.task) is Task:
            (<Task>trap.task)._trap = None
        trap.task = None
    trap.cancelled = True
    trap.state = TS_DONE
    return 0
