# Callback handles: what call_soon / call_later / done-callbacks put in the
# ready queue and the timer heap next to tasks.
cimport cython
from yieldloop._timerheap cimport TimerSlot, TimerHeap


@cython.final
cdef class Handle:
    cdef TimerSlot timer      # when scheduled with call_at / call_later
    cdef TimerHeap heap       # the heap holding it while scheduled, for cancel()
    cdef object fn
    cdef tuple args
    cdef object context       # contextvars.Context to run in, or None
    cdef bint cancelled_
    cdef object source_traceback  # where it was made (asyncio debug mode), or None

    cdef int run(self) except -1


cdef Handle new_handle(object fn, tuple args, object context)
