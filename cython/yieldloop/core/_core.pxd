# The scheduler core both front ends run on (see _core.pyx): one ready
# queue, one timer heap, one poller with its wake-up pipe, one inbox of
# calls from other threads, and the one run-once.
cimport cython
from yieldloop.core._readyqueue cimport ReadyQueue
from yieldloop.core._timerheap cimport TimerHeap
from yieldloop.core._poller cimport Poller
from yieldloop.core._handles cimport Handle
from yieldloop.core._traps cimport Trap


cdef class FrontEnd:
    """What the core calls back: the kernel (native tasks, traps) and
    yieldloop.Loop (asyncio tasks, asyncio's error rules) derive from it."""

    # A task of this front end, taken from the ready queue: one step.
    cdef int step(self, object task) except -1
    # The kernel: ``trap`` (its waiter is a task) is answered by its timer
    # or its fd; the task becomes ready.
    cdef int trap_ready(self, Trap trap, bint by_timer) except -1
    # A handle of this front end raised ``exc`` (called in the except block).
    cdef int handle_failed(self, Handle h, object exc) except -1
    # yieldloop.Loop: a handle that needs more than a call (debug mode, a
    # call_soon_threadsafe() handle's lock).
    cdef int run_handle_slow(self, Handle h) except -1
    # The clock timers follow while this front end is the core's `clock`.
    cdef double clock_now(self) except? -1.0
    # With a clock: wait (polling) until the timer due at ``deadline``.
    cdef int wait_for_timer(self, double deadline) except -1
    # Signal numbers the wake-up pipe carried (asyncio's signal handling).
    cdef int signals_arrived(self, object data) except -1


@cython.final
cdef class Core:
    cdef readonly ReadyQueue ready
    cdef readonly TimerHeap timers
    cdef readonly Poller poller        # the current or last one (None before the first)
    cdef object inbox                  # deque of Handles from other threads
    cdef bint inbox_pending            # set by other threads after appending to inbox
    cdef FrontEnd native               # the kernel running on this core, or None
    cdef FrontEnd aio                  # the yieldloop.Loop on this core, or None
    cdef object native_task_type       # the kernel's Task class, once a kernel attached
    cdef FrontEnd clock                # the front end whose clock timers follow; None: monotonic
    cdef bint busy_poll                # poll (not waiting) when tasks are ready, even with no fd waiter
    cdef bint aio_slow                 # yieldloop.Loop handles take run_handle_slow (debug mode)

    cdef Poller open_poller(self)
    cdef int close(self) except -1
    cdef int run_once(self, bint nowait) except -1
    cdef int poll(self, double timeout) except -1
    cdef int _fd_event(self, int fd, int side) except -1
    cdef int _run_handle(self, Handle h) except -1
    cdef int drain_inbox(self) except -1
    cdef int post(self, Handle h) except -1
    cdef double now(self) except? -1.0
