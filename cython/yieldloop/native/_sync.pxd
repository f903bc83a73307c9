# Event, Lock, Semaphore, BoundedSemaphore, Condition: declarations.
cimport cython
from yieldloop.native._waitlist cimport WaitList


@cython.final
cdef class Event:
    cdef WaitList _waiters
    cdef bint _value


@cython.final
cdef class Lock:
    cdef WaitList _waiters
    cdef bint _locked
    cdef _wake_up_first(self)


cdef class Semaphore:
    cdef WaitList _waiters
    cdef long _value
    cdef bint _wake_up_next(self)


cdef class BoundedSemaphore(Semaphore):
    cdef long _bound_value


@cython.final
cdef class Condition:
    cdef object _lock
    cdef WaitList _waiters
    cdef _notify(self, Py_ssize_t n)
