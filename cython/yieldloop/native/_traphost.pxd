# The kernel's traps (see _traphost.pyx): the base of Scheduler and Kernel.
cimport cython
from yieldloop.core._readyqueue cimport ReadyQueue
from yieldloop.core._timerheap cimport TimerHeap
from yieldloop.core._poller cimport Poller
from yieldloop.core._traps cimport Trap, YieldTrap
from yieldloop.core._handles cimport Handle
from yieldloop.core._core cimport Core, FrontEnd
from yieldloop.native._task cimport Task
from yieldloop.native._tracer cimport Tracer


cdef class TrapHost(FrontEnd):
    # The scheduler core the kernel runs on (_core.pyx); _ready, _timers
    # and _poller are the core's own (same objects), named for the hot paths.
    cdef Core _sched
    cdef ReadyQueue _ready
    cdef TimerHeap _timers
    cdef Poller _poller
    cdef Task _current               # the task being stepped, or None
    cdef Tracer _tracer              # records what the kernel does, or None
    cdef object _clock               # run(clock=...): the run's clock, or None (C monotonic)

    # Final: called directly within this module, never overridden.
    @cython.final
    cdef double _now(self) except? -1.0

    @cython.final
    cdef double _clock_time(self) except? -1.0

    @cython.final
    cdef Handle _call_soon(self, object fn, tuple args, object context)

    @cython.final
    cdef Handle _call_at(self, double when, object fn, tuple args, object context)

    @cython.final
    cdef int _take_trap(self, Task t, Trap trap) except -1

    @cython.final
    cdef int _take_yield(self, Task t, YieldTrap trap) except -1

    @cython.final
    cdef int _trace_trap(self, Task t, Trap trap) except -1

    @cython.final
    cdef int _answer(self, Task t, Trap trap, object result, object exc) except -1

    @cython.final
    cdef int _answer_any(self, Trap trap, object result, object exc) except -1

    @cython.final
    cdef int _fail_trap(self, Task t, Trap trap, object exc) except -1

    @cython.final
    cdef int _deliver_ready(self, Task t, Trap trap) except -1

    @cython.final
    cdef int _unblock(self, Trap trap) except -1

    @cython.final
    cdef bint _cancel(self, Task t, object msg) except -1

    @cython.final
    cdef bint _evict_stale(self, Trap trap, int side) except -1

    # ``fd`` is about to be closed (notify_closing, streams): its waiters
    # wake with ClosedResourceError.
    @cython.final
    cdef int close_fd(self, int fd) except -1


# A trap awaited by a task of another front end (an asyncio Task of
# yieldloop.Loop) is answered, then its waiter woken through this function,
# which that front end registers.
ctypedef int (*foreign_wake_fn)(object waiter) except -1
cdef int set_foreign_waker(foreign_wake_fn fn) except -1
cdef int wake_foreign(object waiter) except -1

# For the primitives built on the kernel (sync, queues, structured, threads).
cdef int wake(Trap trap, object value, object exc) except -1
cdef int discard(Trap trap) except -1
