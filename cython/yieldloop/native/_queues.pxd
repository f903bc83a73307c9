# Queue, PriorityQueue, LifoQueue: declarations.
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._sync cimport Event


cdef class Queue:
    cdef object _queue
    cdef Py_ssize_t _maxsize
    cdef WaitList _getters
    cdef WaitList _putters
    cdef Py_ssize_t _unfinished_tasks
    cdef Event _finished
    cdef bint _is_shutdown

    cpdef _init(self, maxsize)
    cpdef _get(self)
    cpdef _put(self, item)
    cdef _wakeup_next(self, WaitList waiters)


cdef class PriorityQueue(Queue):
    pass


cdef class LifoQueue(Queue):
    pass
