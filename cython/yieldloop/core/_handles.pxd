# Callback handles: what call_soon / call_later / done-callbacks put in the
# ready queue and the timer heap next to tasks.
cimport cython
from yieldloop.core._timerheap cimport TimerSlot, TimerHeap

# What a handle presents itself as (Handle.kind): the kernel's own, or, for
# yieldloop.Loop, asyncio's Handle / TimerHandle / _ThreadSafeHandle
# (isinstance, repr, order).
cdef enum:
    KIND_KERNEL = 0
    KIND_ASYNCIO = 1
    KIND_ASYNCIO_TIMER = 2
    KIND_ASYNCIO_THREADSAFE = 3   # call_soon_threadsafe(): has a lock


@cython.final
cdef class Handle:
    cdef TimerSlot timer      # when scheduled with call_at / call_later
    cdef TimerHeap heap       # the heap holding it while scheduled, for cancel()
    cdef object fn
    cdef tuple args
    cdef object context       # contextvars.Context to run in, or None
    cdef bint cancelled_
    cdef unsigned char kind   # KIND_*
    cdef bint debug           # made in asyncio's debug mode: keep the repr on cancel()
    cdef object source_traceback  # where it was made (asyncio debug mode), or None
    cdef object repr_         # the repr kept by cancel() in debug mode, or None
    # By kind (one field: each costs every handle a visit in each GC pass):
    # KIND_ASYNCIO_THREADSAFE: a threading.RLock held while the callback
    #   runs and by cancel()/cancelled(), as asyncio's _ThreadSafeHandle does;
    # KIND_ASYNCIO_TIMER: the deadline as given to call_at() when it is not
    #   a float (an int, say), which when() returns as asyncio does;
    # else, or a float deadline: None.
    cdef object extra
    cdef object __weakref__

    cdef int run(self) except -1
    cdef int cancel_unlocked(self) except -1
    cdef object _presented_class(self)


cdef Handle new_handle(object fn, tuple args, object context)
