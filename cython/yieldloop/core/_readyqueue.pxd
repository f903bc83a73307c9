# The ready queue: a growable FIFO ring buffer of owned object references.
#
# push/pop are inline so the kernel and the asyncio loop, which cimport this
# file, run them without a call. The buffer length is a power of two, so the
# ring index is a mask; it doubles when full and never shrinks during a run.
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF


@cython.final
cdef class ReadyQueue:
    cdef PyObject** _buf
    cdef Py_ssize_t _head     # index of the oldest item
    cdef Py_ssize_t _count    # items held
    cdef Py_ssize_t _mask     # capacity - 1
    cdef object _gc           # always None: gives the type GC support (see the .pyx)

    cdef int _grow(self) except -1
    cdef int clear(self) except -1

    cdef inline Py_ssize_t count(self) noexcept:
        return self._count

    cdef inline int push(self, object item) except -1:
        if self._count > self._mask:
            self._grow()
        Py_INCREF(item)
        self._buf[(self._head + self._count) & self._mask] = <PyObject*>item
        self._count += 1
        return 0

    cdef inline object item_at(self, Py_ssize_t i):
        # The i-th oldest item (0 <= i < count()).
        return <object>self._buf[(self._head + i) & self._mask]

    cdef inline object pop(self):
        # The caller checks count() first; the reference moves to the caller.
        cdef PyObject* item = self._buf[self._head]
        self._buf[self._head] = NULL
        self._head = (self._head + 1) & self._mask
        self._count -= 1
        return <object>_steal(item)


cdef extern from *:
    """
    /* Hand an owned reference to Cython, which will not add one of its own. */
    static inline PyObject *_steal(PyObject *o) { return o; }
    """
    object _steal(PyObject* o)
