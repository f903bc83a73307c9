# cython: language_level=3, boundscheck=False, wraparound=False
"""The wait list: one fair FIFO of parked traps, under every sync primitive.

A primitive parks a task by appending a fresh PARK trap here and awaiting
it; it wakes the first, the first n or all with ``wake()``. Traps stay in
the list until the task that parked them removes them (when it resumes,
whatever woke it), exactly as asyncio's primitives keep their futures in a
deque: so a woken-but-not-yet-running waiter still holds its place, which
is what makes the primitives fair. Removal is O(1): the list is intrusive,
linked through the traps themselves.

Invariants: the list owns one reference per trap; ``t.wl_owner`` is this
list exactly while ``t`` is in it.
"""
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from yieldloop.core._traps cimport make_trap, TRAP_PARK
from yieldloop.includes.capi cimport (
    visitproc, traverseproc, inquiry, yl_hook_traverse, yl_hook_clear)


cdef class WaitList:
    """FIFO of parked traps (see the module docstring); ``label`` names the
    operation that parks there, for traces and reprs."""

    def __init__(self, label=None):
        self.label = label

    def __dealloc__(self):
        if self._head != NULL:
            self.clear()

    cdef Trap park(self):
        """A fresh PARK trap appended to this list; await it to wait."""
        cdef Trap t = make_trap(TRAP_PARK)
        t.arg = self
        self.append(t)
        return t

    cdef int append(self, Trap t) except -1:
        if t.wl_owner != NULL:
            raise RuntimeError("trap is already in a wait list")
        Py_INCREF(t)
        t.wl_owner = <PyObject*>self
        t.wl_prev = self._tail
        t.wl_next = NULL
        if self._tail != NULL:
            (<Trap>self._tail).wl_next = <PyObject*>t
        else:
            self._head = <PyObject*>t
        self._tail = <PyObject*>t
        self._len += 1
        return 0

    cdef int remove(self, Trap t) except -1:
        """Take ``t`` out if it is in this list (like deque.remove, minus the
        ValueError)."""
        if t.wl_owner != <PyObject*>self:
            return 0
        if t.wl_prev != NULL:
            (<Trap>t.wl_prev).wl_next = t.wl_next
        else:
            self._head = t.wl_next
        if t.wl_next != NULL:
            (<Trap>t.wl_next).wl_prev = t.wl_prev
        else:
            self._tail = t.wl_prev
        t.wl_owner = t.wl_prev = t.wl_next = NULL
        self._len -= 1
        Py_DECREF(t)
        return 0

    cdef Trap pop_first(self):
        """Remove and return the oldest trap, or None."""
        cdef Trap t = self.first()
        if t is not None:
            self.remove(t)
        return t

    cdef int clear(self) except -1:
        while self._head != NULL:
            self.remove(<Trap>self._head)
        return 0

    def __len__(self):
        return self._len

    def __bool__(self):
        return self._len != 0

    def __repr__(self):
        return "<WaitList %s waiters=%d>" % (self.label or "", self._len)


# --- garbage collection: the list owns its traps through intrusive links,
# --- which Cython's generated tp_traverse cannot see. A parked trap refers
# --- back to its list (trap.arg), so every non-empty list is a cycle.

cdef traverseproc _base_traverse = NULL
cdef inquiry _base_clear = NULL


cdef int _traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    # Links are followed through casts of borrowed pointers: no reference
    # is taken while the collector walks.
    cdef PyObject* t = (<WaitList>o)._head
    cdef int r = _base_traverse(o, visit, arg)
    while r == 0 and t != NULL:
        r = visit(t, arg)
        t = (<Trap>t).wl_next
    return r


cdef int _clear(PyObject* o) noexcept:
    (<WaitList>o).clear()
    return _base_clear(o)


_base_traverse = yl_hook_traverse(WaitList, _traverse)
_base_clear = yl_hook_clear(WaitList, _clear)
if _base_traverse == NULL or _base_clear == NULL:
    raise ImportError("yieldloop.native._waitlist: WaitList has no GC support")
