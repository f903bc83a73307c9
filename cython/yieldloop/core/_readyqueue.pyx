# cython: language_level=3, boundscheck=False, wraparound=False
"""The ready queue: a growable C ring buffer of runnable items, FIFO.

Items are owned references. The kernel stores Tasks here, the asyncio loop
its callback handles; neither needs anything but push, pop and count.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.ref cimport Py_XDECREF
from yieldloop.includes.capi cimport (
    visitproc, traverseproc, inquiry, yl_hook_traverse, yl_hook_clear)

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


# --- garbage collection: the items are held in a C array, which Cython's
# --- generated tp_traverse cannot see; a cycle through one (a callback that
# --- refers to the loop holding the queue) would never be collected.

cdef traverseproc _base_traverse = NULL
cdef inquiry _base_clear = NULL


cdef int _traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    # Fields are read through casts of the borrowed pointer: no reference
    # is taken while the collector walks.
    cdef PyObject** buf = (<ReadyQueue>o)._buf
    cdef Py_ssize_t head = (<ReadyQueue>o)._head, mask = (<ReadyQueue>o)._mask
    cdef Py_ssize_t i
    cdef int r = _base_traverse(o, visit, arg)
    for i in range((<ReadyQueue>o)._count):
        if r:
            break
        r = visit(buf[(head + i) & mask], arg)
    return r


cdef int _clear(PyObject* o) noexcept:
    if (<ReadyQueue>o)._buf != NULL:
        (<ReadyQueue>o).clear()
    return _base_clear(o)


_base_traverse = yl_hook_traverse(ReadyQueue, _traverse)
_base_clear = yl_hook_clear(ReadyQueue, _clear)
if _base_traverse == NULL or _base_clear == NULL:
    raise ImportError("yieldloop.core._readyqueue: ReadyQueue has no GC support")
