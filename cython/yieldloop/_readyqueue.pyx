# cython: language_level=3, boundscheck=False, wraparound=False
"""The ready queue: a growable C ring buffer of runnable items, FIFO.

Items are owned references. The kernel stores Tasks here, the asyncio loop
its callback handles; neither needs anything but push, pop and count.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.ref cimport Py_XDECREF

cdef enum:
    INITIAL_CAPACITY = 64


cdef class ReadyQueue:
    """FIFO of object references in a C ring buffer (for tests and stats)."""

    def __cinit__(self):
        self._buf = <PyObject**>PyMem_Malloc(INITIAL_CAPACITY * sizeof(PyObject*))
        if self._buf == NULL:
            raise MemoryError()
        self._head = 0
        self._count = 0
        self._mask = INITIAL_CAPACITY - 1

    def __dealloc__(self):
        if self._buf != NULL:
            self.clear()
            PyMem_Free(self._buf)
            self._buf = NULL

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = self._mask + 1
        cdef Py_ssize_t i
        cdef PyObject** buf = <PyObject**>PyMem_Malloc(2 * cap * sizeof(PyObject*))
        if buf == NULL:
            raise MemoryError()
        # Unroll the ring into the front of the new buffer.
        for i in range(self._count):
            buf[i] = self._buf[(self._head + i) & self._mask]
        PyMem_Free(self._buf)
        self._buf = buf
        self._head = 0
        self._mask = 2 * cap - 1
        return 0

    cdef int clear(self) except -1:
        """Drop every item (each reference is released)."""
        cdef PyObject* item
        while self._count:
            item = self._buf[self._head]
            self._buf[self._head] = NULL
            self._head = (self._head + 1) & self._mask
            self._count -= 1
            Py_XDECREF(item)
        self._head = 0
        return 0

    def __len__(self):
        return self._count

    def append(self, item):
        """Add ``item`` at the back."""
        self.push(item)

    def popleft(self):
        """Remove and return the front item; IndexError when empty."""
        if self._count == 0:
            raise IndexError("pop from an empty ReadyQueue")
        return self.pop()

    @property
    def capacity(self):
        """Slots allocated (a power of two)."""
        return self._mask + 1
