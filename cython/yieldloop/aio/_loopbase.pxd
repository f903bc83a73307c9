# What yieldloop.Loop's futures and tasks schedule on (see _loopbase.pyx):
# the ready queue of the scheduler core, and the flags the fast paths read.
# LoopCore (_loop.pxd) derives from it and adds timers, fds and running.
from yieldloop.core._readyqueue cimport ReadyQueue
from yieldloop.core._handles cimport Handle
from yieldloop.core._core cimport Core, FrontEnd


cdef class LoopBase(FrontEnd):
    # The scheduler core the loop runs on (_core.pyx); _ready_c is its
    # ready queue (the same object), named for the hot paths.
    cdef Core _sched
    cdef ReadyQueue _ready_c
    cdef bint _closed_c
    cdef bint _debug_c          # mirrors asyncio's _debug for the fast paths
    # Inside run_forever(): a queued task is held by the loop, which is held
    # by the call (see "the cyclic GC" in _aiotask.pyx).
    cdef bint _gc_hide_c
    # asyncio's _thread_id (what is_running() tells), kept here: a Task asks
    # whether its loop runs without a Python call.
    cdef object _thread_id_v
    cdef bint _running_c

    cdef _check_open(self)
    cdef object _context(self, object context)
    cdef _drain_inbox(self)
    cdef Handle _handle(self, callback, tuple args, context, unsigned char kind)
    cdef Handle _soon(self, callback, tuple args, context)
    cdef Handle _call_soon_c(self, callback, tuple args, context)


cdef inline int push_ready(LoopBase core, object item) except -1:
    """Queue a task (or handle) to run in the loop's next pass, as
    call_soon() would: refused once the loop is closed, and after anything
    other threads queued first."""
    if core._closed_c:
        core._check_open()
    if core._sched.inbox_pending:
        core._sched.drain_inbox()
    core._ready_c.push(item)
    return 0
