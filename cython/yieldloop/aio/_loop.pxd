# The asyncio front end's core (see _loop.pyx): declarations for the
# transports, which call it without going through Python.
from cpython.object cimport PyObject
from yieldloop.core._timerheap cimport TimerHeap
from yieldloop.core._poller cimport Poller
from yieldloop.core._handles cimport Handle
from yieldloop.aio._loopbase cimport LoopBase
from yieldloop.aio._aiotask cimport Task


cdef class LoopCore(LoopBase):
    cdef TimerHeap _timers_c
    cdef Poller _poller_c
    cdef bint _stop_c
    cdef bint _time_overridden  # a subclass defines time(): timers follow it
    cdef bint _time_set         # a time() is set on the instance: timers follow it
    cdef dict _fileobjs         # fd -> the non-int object its callbacks were added with
    # Owned, or NULL: the block of a bulk socket read whose bytes nobody
    # kept, reused by the next bulk read of any of the loop's transports
    # (includes/net.h, yl_recv_keep_spare): one per loop, of YL_RECV_MAX bytes.
    cdef PyObject* _rspare

    cdef double _now(self) except? -1.0
    cdef Handle _schedule(self, double when, callback, tuple args, context)
    cdef Handle _watch(self, int fd, int side, callback, tuple args, context)
    cdef bint _unwatch(self, int fd, int side) except -1
    cdef int _register_fileobj(self, fileobj) except -1
    cdef int _lookup_fileobj(self, fileobj) except -1
    cdef int _run_handle(self, Handle h) except -1
    cdef int _run_locked(self, Handle h) except -1
    cdef _report_callback_error(self, Handle h, exc)
    cdef int _run_debug(self, Handle h) except -1
    # What the core calls back (FrontEnd, see _core.pxd).
    cdef int step(self, object task) except -1
    cdef int handle_failed(self, Handle h, object exc) except -1
    cdef int run_handle_slow(self, Handle h) except -1
    cdef double clock_now(self) except? -1.0
    cdef int wait_for_timer(self, double deadline) except -1
    cdef int signals_arrived(self, object data) except -1
