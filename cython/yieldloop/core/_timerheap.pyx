# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The timer heap: entries ordered by (deadline, sequence), O(1) cancel.

Invariants:
- every heap_item owns one reference to its entry, and an entry's slot is in
  at most one heap position (TIMER_IDLE outside a heap);
- ``_ncancelled`` counts the TIMER_CANCELLED entries still in the array;
- entries with equal deadlines fire in the order they were pushed.
"""
from libc.math cimport INFINITY, isnan
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.ref cimport Py_INCREF, Py_DECREF
from yieldloop.core._readyqueue cimport _steal
from yieldloop.includes.capi cimport (
    visitproc, traverseproc, inquiry, yl_hook_traverse, yl_hook_clear)

cdef enum:
    INITIAL_CAPACITY = 64
    # Compaction is O(n): only worth it once enough garbage has piled up.
    COMPACT_MIN = 256


cdef inline bint _before(heap_item* a, heap_item* b) noexcept:
    return a.when < b.when or (a.when == b.when and a.seq < b.seq)


cdef class TimerEntry:
    """A plain heap entry carrying ``payload`` (for tests and tools; the
    kernel's traps and the loop's timer handles embed their own slot)."""

    def __init__(self, payload=None):
        self.payload = payload

    @property
    def when(self):
        """Deadline on the monotonic clock, in seconds."""
        return self.slot.when

    @property
    def scheduled(self):
        """True while the entry sits in a heap and will fire."""
        return self.slot.state == TIMER_SCHEDULED


cdef class TimerHeap:
    """Min-heap of TimerEntry objects by (when, push order).

    The Python methods exist for tests; the kernel and the asyncio loop call
    the C methods.

    >>> h = TimerHeap(); e = TimerEntry("x"); h.schedule(e, 1.5); len(h)
    1
    """

    def __cinit__(self):
        self._items = <heap_item*>PyMem_Malloc(INITIAL_CAPACITY * sizeof(heap_item))
        if self._items == NULL:
            raise MemoryError()
        self._cap = INITIAL_CAPACITY
        self._len = 0
        self._ncancelled = 0
        self._seq = 0

    def __dealloc__(self):
        if self._items != NULL:
            self.clear()
            PyMem_Free(self._items)
            self._items = NULL

    cdef int push(self, object entry, TimerSlot* slot) except -1:
        """Schedule ``entry`` at ``slot.when``; ``slot`` lies inside ``entry``."""
        cdef heap_item* items
        if slot.state != TIMER_IDLE:
            raise RuntimeError("timer entry is already scheduled")
        if isnan(slot.when):
            raise ValueError("timer deadline is NaN")
        if self._len == self._cap:
            items = <heap_item*>PyMem_Realloc(self._items, 2 * self._cap * sizeof(heap_item))
            if items == NULL:
                raise MemoryError()
            self._items = items
            self._cap *= 2
        Py_INCREF(entry)
        self._items[self._len].when = slot.when
        self._items[self._len].seq = self._seq
        self._items[self._len].entry = <PyObject*>entry
        self._items[self._len].slot = slot
        self._seq += 1
        self._len += 1
        slot.state = TIMER_SCHEDULED
        self._sift_up(self._len - 1)
        return 0

    cdef int cancel(self, TimerSlot* slot) except -1:
        """Flag the entry of ``slot``; it leaves the array at the top or at
        compaction (the heap keeps its reference until then)."""
        if slot.state != TIMER_SCHEDULED:
            return 0
        slot.state = TIMER_CANCELLED
        self._ncancelled += 1
        if self._ncancelled >= COMPACT_MIN and 2 * self._ncancelled > self._len:
            self._compact()
        return 0

    cdef object pop_due(self, double now):
        """The next live entry with ``when <= now`` (owned), or None."""
        cdef heap_item top
        self._drop_cancelled_top()
        if self._len == 0 or self._items[0].when > now:
            return None
        top = self._remove_top()
        top.slot.state = TIMER_IDLE
        return _steal(top.entry)

    cdef double next_deadline(self) except? -1.0:
        """Deadline of the earliest live entry; +inf when there is none."""
        self._drop_cancelled_top()
        if self._len == 0:
            return INFINITY
        return self._items[0].when

    cdef int _drop_cancelled_top(self) except -1:
        cdef heap_item top
        while self._len and self._items[0].slot.state == TIMER_CANCELLED:
            top = self._remove_top()
            self._ncancelled -= 1
            top.slot.state = TIMER_IDLE
            Py_DECREF(<object>top.entry)
        return 0

    cdef heap_item _remove_top(self) noexcept:
        cdef heap_item top = self._items[0]
        self._len -= 1
        if self._len:
            self._items[0] = self._items[self._len]
            self._sift_down(0)
        return top

    cdef int _compact(self) except -1:
        """Drop every cancelled entry and rebuild the heap in O(n)."""
        cdef Py_ssize_t i, j = 0
        cdef PyObject* dropped
        cdef list garbage = []
        for i in range(self._len):
            if self._items[i].slot.state == TIMER_CANCELLED:
                self._items[i].slot.state = TIMER_IDLE
                # Released after the array is consistent again: a finalizer
                # run by the release may touch this heap.
                dropped = self._items[i].entry
                garbage.append(<object>dropped)
                Py_DECREF(<object>dropped)
            else:
                self._items[j] = self._items[i]
                j += 1
        self._len = j
        self._ncancelled = 0
        i = self._len // 2 - 1
        while i >= 0:
            self._sift_down(i)
            i -= 1
        del garbage
        return 0

    cdef void _sift_up(self, Py_ssize_t i) noexcept:
        cdef heap_item item = self._items[i]
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) >> 1
            if not _before(&item, &self._items[parent]):
                break
            self._items[i] = self._items[parent]
            i = parent
        self._items[i] = item

    cdef void _sift_down(self, Py_ssize_t i) noexcept:
        cdef heap_item item = self._items[i]
        cdef Py_ssize_t child, n = self._len
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and _before(&self._items[child + 1], &self._items[child]):
                child += 1
            if not _before(&self._items[child], &item):
                break
            self._items[i] = self._items[child]
            i = child
        self._items[i] = item

    cdef int clear(self) except -1:
        """Remove every entry (each reference is released)."""
        cdef heap_item top
        while self._len:
            self._len -= 1
            top = self._items[self._len]
            top.slot.state = TIMER_IDLE
            Py_DECREF(<object>top.entry)
        self._ncancelled = 0
        return 0

    # Python-level surface, for tests.

    def schedule(self, TimerEntry entry not None, double when):
        """Push ``entry`` to fire at ``when``."""
        entry.slot.when = when
        self.push(entry, &entry.slot)

    def unschedule(self, TimerEntry entry not None):
        """Cancel ``entry`` in O(1)."""
        self.cancel(&entry.slot)

    def pop(self, double now):
        """Next entry due at ``now``, or None."""
        return self.pop_due(now)

    def __len__(self):
        """Live (not cancelled) entries."""
        return self.live()

    @property
    def slots(self):
        """Array slots in use, cancelled entries included."""
        return self._len

    @property
    def deadline(self):
        """Earliest live deadline (inf when empty)."""
        return self.next_deadline()


# --- garbage collection: the entries are held in a C array, which Cython's
# --- generated tp_traverse cannot see; a cycle through one (a timer whose
# --- callback refers to the loop holding the heap) would never be collected.

cdef traverseproc _base_traverse = NULL
cdef inquiry _base_clear = NULL


cdef int _traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    # Fields are read through casts of the borrowed pointer: no reference
    # is taken while the collector walks.
    cdef heap_item* items = (<TimerHeap>o)._items
    cdef Py_ssize_t i
    cdef int r = _base_traverse(o, visit, arg)
    for i in range((<TimerHeap>o)._len):
        if r:
            break
        r = visit(items[i].entry, arg)
    return r


cdef int _clear(PyObject* o) noexcept:
    if (<TimerHeap>o)._items != NULL:
        (<TimerHeap>o).clear()
    return _base_clear(o)


_base_traverse = yl_hook_traverse(TimerHeap, _traverse)
_base_clear = yl_hook_clear(TimerHeap, _clear)
if _base_traverse == NULL or _base_clear == NULL:
    raise ImportError("yieldloop.core._timerheap: TimerHeap has no GC support")
