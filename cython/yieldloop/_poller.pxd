# The poller: epoll or kqueue (chosen at build time) behind one interface.
#
# It maps fd -> waiter through C arrays and keeps OS registrations across
# waits. It knows nothing of tasks: a waiter is any object, handed back to
# the front end (kernel or asyncio loop) when its fd is ready.
cimport cython
from cpython.object cimport PyObject

cdef extern from "poll/backend.h":
    enum:
        YL_READ
        YL_WRITE
        YL_ERROR
    ctypedef struct yl_event:
        int fd
        int flags
    ctypedef struct yl_backend:
        int pfd
        int wake_r
        int wake_w
    const char* yl_backend_name() noexcept
    int yl_backend_open(yl_backend* b, int max_events) noexcept
    void yl_backend_close(yl_backend* b) noexcept
    int yl_backend_update(yl_backend* b, int fd, int old_mask, int new_mask, int force) noexcept
    int yl_backend_wait(yl_backend* b, yl_event* out, long long timeout_ns) noexcept nogil
    int yl_backend_wakeup(yl_backend* b) noexcept nogil


@cython.final
cdef class Poller:
    cdef yl_backend _b
    cdef yl_event* _events       # filled by poll()
    cdef int _max_events
    cdef int _nevents            # events from the last poll()
    # Per-fd tables, _cap long, grown on demand.
    cdef PyObject** _readers     # waiter for readability (owned) or NULL
    cdef PyObject** _writers     # waiter for writability (owned) or NULL
    cdef PyObject** _owners      # weakref to the object the registration was made for, or NULL
    cdef unsigned char* _armed   # YL_READ | YL_WRITE as registered with the OS
    cdef Py_ssize_t _cap
    cdef readonly Py_ssize_t nwaiters   # waiters held (readers + writers)
    cdef readonly Py_ssize_t ctl_calls  # OS registration changes made

    cdef int watch(self, int fd, int side, object waiter, object owner) except -1
    cdef object unwatch(self, int fd, int side)
    cdef object waiter(self, int fd, int side)
    cdef int poll(self, double timeout) except -1
    cdef int forget(self, int fd) except -1
    cdef int wakeup(self) except -1
    cdef int close(self) except -1
    cdef int _grow(self, int fd) except -1
    cdef int _arm(self, int fd, int mask, bint force) except -1
    cdef int _disarm(self, int fd, int mask) except -1
    cdef bint _owned_by(self, int fd, object owner) noexcept
    cdef int _set_owner(self, int fd, object owner) except -1

    cdef inline int event_fd(self, int i) noexcept:
        return self._events[i].fd

    cdef inline int event_flags(self, int i) noexcept:
        return self._events[i].flags
