# cython: language_level=3, boundscheck=False, wraparound=False
"""Mixing: native awaitables in asyncio Tasks, asyncio futures in native tasks.

The kernel and yieldloop.Loop run on one scheduler core (_core.pyx), so a
task of either front end can wait on what the other offers:

- An asyncio Task of yieldloop.Loop that awaits a native awaitable
  (``yl.sleep``, a native Task, ``yl.Event().wait()``, ``yl.sock_recv``...)
  receives the Trap it yields. It hands the trap to the kernel of its core
  (the kernel yieldloop.run() is running, or a guest kernel made for the
  Loop on first use) with itself as the waiter (``take_foreign_trap``); the
  kernel performs it as for a native task (timer heap, poller, joiners, wait
  lists). When the trap is answered the answer stays in the trap, which the
  task's coroutine reads when it is resumed, and the Loop queues the task
  (the waker _aiotask.pyx registers). Cancelling such a task withdraws the
  trap from whatever holds it and answers it with CancelledError
  (``cancel_foreign_wait``); a native primitive waking a cancelled waiter
  finds the trap done and does nothing.
- A native task that awaits an asyncio future of the Loop on its core (the
  one yieldloop.run() gives asyncio code while asyncio is imported) parks on
  a PARK trap that the future's done-callback answers (Kernel._park_on_future);
  cancelling the task cancels the future as asyncio's Task does. While a Loop
  shares the core, a native task's step is entered as asyncio's current task,
  so asyncio.timeout(), wait_for() and TaskGroup find it; yieldloop's
  current_task() in asyncio code gives asyncio's current task.

Invariants: a trap has at most one waiter (``trap.task``: a native Task or
an asyncio Task); an asyncio Task waiting on a trap has it as its
``_fut_waiter``; the answer goes through ``Kernel._answer_any``.
"""
cimport cython
from yieldloop.native._task cimport Task, TASK_PENDING, new_cancelled_error, waiter_name
from yieldloop.native._traphost cimport wake_foreign
from yieldloop.native._kernel cimport Kernel
from yieldloop.core._traps cimport (
    Trap, TRAP_YIELD, TRAP_SLEEP, TRAP_READ, TRAP_WRITE, TRAP_JOIN, TRAP_PARK,
    TS_AWAITING, TS_READY, TS_DONE)
from yieldloop.core._poller cimport YL_READ, YL_WRITE
from yieldloop.includes.capi cimport yl_monotonic

from yieldloop._errors import BusyResourceError


cdef object take_foreign_trap(Kernel k, object waiter, Trap trap):
    """``waiter`` (an asyncio Task) yielded ``trap``: perform it for it on
    ``k``. Returns None once the trap waits (or was answered: the waiter is
    woken), or the exception to throw into the waiter at once."""
    cdef int kind = trap.kind, side
    cdef Task target
    if trap.state != TS_AWAITING or trap.task is not None:
        return RuntimeError("task %r awaited %r, which was already awaited"
                            % (waiter_name(waiter), trap))
    if kind == TRAP_YIELD:
        trap.task = waiter
        return _answered(k, trap, None, None)
    if kind == TRAP_SLEEP:
        trap.timer.when = (yl_monotonic() if k._sched.clock is None
                           else k._sched.now()) + trap.delay
        k._timers.push(trap, &trap.timer)
    elif kind == TRAP_READ or kind == TRAP_WRITE:
        side = YL_READ if kind == TRAP_READ else YL_WRITE
        other = k._poller.waiter(trap.fd, side)
        if other is not None and k._evict_stale(trap, side):
            other = None
        if other is not None:
            return BusyResourceError(
                "task %r cannot wait for fd %d: %s is already waiting for it"
                % (waiter_name(waiter), trap.fd,
                   "task %r" % waiter_name((<Trap>other).task) if type(other) is Trap
                   else "a callback"))
        try:
            k._poller.watch(trap.fd, side, trap, trap.arg)
        except Exception as e:
            return e
    elif kind == TRAP_JOIN:
        target = trap.arg
        if target._state != TASK_PENDING:
            target._fill(trap)          # done already: the answer is there
            wake_foreign(waiter)
            return None
        if target._kernel is not k:
            return RuntimeError("task %r belongs to another kernel" % target._get_name())
        if target._joiners is None:
            target._joiners = []
        target._joiners.append(trap)
    elif kind != TRAP_PARK:
        return RuntimeError("unknown trap %r" % trap)
    trap.task = waiter
    return None


cdef object _answered(Kernel k, Trap trap, object result, object exc):
    k._answer_any(trap, result, exc)
    return None


cdef bint cancel_foreign_wait(Kernel k, Trap trap, object msg) except -1:
    """The asyncio Task waiting on ``trap`` is cancelled: take the trap from
    what holds it and answer it with CancelledError(msg); False if it was
    answered already."""
    if trap.state != TS_AWAITING or trap.task is None:
        return False
    k._unblock(trap)
    k._answer_any(trap, None, new_cancelled_error(msg))
    return True
