# The timer heap: a C binary min-heap of (deadline, sequence, entry).
#
# An entry is any object that embeds a TimerSlot (no base class needed, so
# entry types keep their own freelists). Deadline and sequence are copied
# into the array so that sift compares never touch the entries. Cancelling
# is O(1): the slot is flagged and counted; flagged entries are dropped when
# they reach the top, and the array is compacted when they outnumber live ones.
cimport cython
from cpython.object cimport PyObject

cdef enum TimerState:
    TIMER_IDLE = 0        # not in a heap
    TIMER_SCHEDULED = 1   # in the heap, will fire
    TIMER_CANCELLED = 2   # in the heap, flagged: will be dropped


cdef struct TimerSlot:
    double when
    unsigned char state


cdef struct heap_item:
    double when
    unsigned long long seq
    PyObject* entry       # owned reference
    TimerSlot* slot       # inside entry; valid while the heap owns entry


@cython.final
cdef class TimerHeap:
    cdef heap_item* _items
    cdef Py_ssize_t _len          # slots used, cancelled ones included
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _ncancelled
    cdef unsigned long long _seq  # tie-breaker: equal deadlines fire in push order
    cdef object _gc               # always None: gives the type GC support (see the .pyx)

    cdef int push(self, object entry, TimerSlot* slot) except -1
    cdef int cancel(self, TimerSlot* slot) except -1
    cdef object pop_due(self, double now)
    cdef double next_deadline(self) except? -1.0
    cdef int clear(self) except -1
    cdef int _drop_cancelled_top(self) except -1
    cdef int _compact(self) except -1
    cdef void _sift_up(self, Py_ssize_t i) noexcept
    cdef void _sift_down(self, Py_ssize_t i) noexcept
    cdef heap_item _remove_top(self) noexcept

    cdef inline Py_ssize_t live(self) noexcept:
        return self._len - self._ncancelled


@cython.final
cdef class TimerEntry:
    cdef TimerSlot slot
    cdef public object payload
