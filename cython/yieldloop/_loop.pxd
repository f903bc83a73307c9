# The asyncio front end's core (see _loop.pyx): declarations for the
# transports, which call it without going through Python.
from yieldloop._readyqueue cimport ReadyQueue
from yieldloop._timerheap cimport TimerHeap
from yieldloop._poller cimport Poller
from yieldloop._handles cimport Handle


cdef class LoopCore:
    cdef ReadyQueue _ready_c
    cdef TimerHeap _timers_c
    cdef Poller _poller_c
    cdef object _inbox          # Handles from other threads (deque.append is atomic)
    cdef bint _inbox_pending
    cdef bint _stop_c
    cdef bint _closed_c
    cdef bint _debug_c          # mirrors asyncio's _debug for the fast paths
    cdef bint _time_overridden  # a subclass defines time(): timers follow it
    cdef bint _time_set         # a time() is set on the instance: timers follow it
    cdef dict _fileobjs         # fd -> the non-int object its callbacks were added with

    cdef _check_open(self)
    cdef object _context(self, object context)
    cdef double _now(self) except? -1.0
    cdef Handle _handle(self, callback, tuple args, context, unsigned char kind)
    cdef Handle _schedule(self, double when, callback, tuple args, context)
    cdef Handle _soon(self, callback, tuple args, context)
    cdef Handle _watch(self, int fd, int side, callback, tuple args, context)
    cdef bint _unwatch(self, int fd, int side) except -1
    cdef int _register_fileobj(self, fileobj) except -1
    cdef int _lookup_fileobj(self, fileobj) except -1
    cdef int _run_once_c(self) except -1
    cdef _drain_inbox(self)
    cdef int _run_handle(self, Handle h) except -1
    cdef int _run_locked(self, Handle h) except -1
    cdef _report_callback_error(self, Handle h, exc)
    cdef int _run_debug(self, Handle h) except -1
