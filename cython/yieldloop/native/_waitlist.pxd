# The wait list: one fair FIFO of parked traps under every sync primitive.
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._traps cimport Trap


@cython.final
cdef class WaitList:
    cdef PyObject* _head      # oldest trap (owned, as are all in the list)
    cdef PyObject* _tail
    cdef Py_ssize_t _len
    cdef public str label     # what a task parked here waits for, e.g. "Queue.get()"
    cdef object _gc           # always None: gives the type GC support (see the .pyx)

    cdef Trap park(self)
    cdef int append(self, Trap t) except -1
    cdef int remove(self, Trap t) except -1
    cdef Trap pop_first(self)
    cdef int clear(self) except -1

    cdef inline Trap first(self):
        return <Trap>self._head if self._head != NULL else None

    cdef inline Trap next_after(self, Trap t):
        return <Trap>t.wl_next if t.wl_next != NULL else None
