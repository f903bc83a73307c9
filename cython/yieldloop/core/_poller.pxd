# The poller: epoll or kqueue (chosen at build time) behind one interface.
#
# It maps fd -> waiter through C arrays. No OS registration outlives its
# waiter (see _poller.pyx). It knows nothing of tasks: a waiter is any
# object, handed back to the core when its fd is ready. Each waiter is
# one-shot (the kernel's) or persistent (yieldloop.Loop's readers/writers).
cimport cython
from cpython.object cimport PyObject

cdef extern from "core/poll/backend.h":
    enum:
        YL_READ
        YL_WRITE
        YL_ERROR
        YL_MAX_SIGBYTES
    const unsigned int YL_TAG_PERSISTENT
    ctypedef struct yl_event:
        int fd
        int flags
        unsigned int tag
        int off
    ctypedef struct yl_backend:
        int pfd
        int wake_r
        int wake_w
        unsigned char sigbytes[YL_MAX_SIGBYTES]
        int nsigbytes
    const char* yl_backend_name() noexcept
    int yl_backend_open(yl_backend* b, int max_events) noexcept
    void yl_backend_close(yl_backend* b) noexcept
    int yl_backend_reopen(yl_backend* b) noexcept
    int yl_backend_update(yl_backend* b, int fd, int present, int mask,
                          unsigned int tag) noexcept
    int yl_backend_wait(yl_backend* b, yl_event* out, int max_out,
                        long long timeout_ns) noexcept nogil
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
    cdef unsigned char* _armed   # sides the OS would report now
    cdef unsigned char* _present # sides with an OS registration, armed or disarmed
    cdef unsigned char* _persist # sides whose waiter is persistent (else one-shot)
    cdef unsigned int* _tags     # tag of the fd's registration, 0 if none
    cdef Py_ssize_t _cap
    cdef unsigned int _last_tag
    # One-shot mode: fds whose registration an event disarmed in the last
    # poll(); those that still have a waiter are re-armed by the next one.
    cdef int* _reported
    cdef int _nreported
    # fds with a waiter whose registration could not be made again (the fd
    # was closed behind the poller's back): the next poll() reports them
    # as errors, so that their waiters wake.
    cdef int* _lost
    cdef Py_ssize_t _nlost
    cdef Py_ssize_t _lost_cap
    cdef bint _forked            # inherited through fork(): the parent's
    cdef bint _persistent        # watch()'s mode: persistent, or one-shot
    cdef object _gc              # always None: gives the type GC support (see _install_gc)
    cdef PyObject* _prev_live    # list of the open pollers, for fork (borrowed)
    cdef PyObject* _next_live
    cdef readonly Py_ssize_t nwaiters       # waiters held (readers + writers)
    cdef readonly Py_ssize_t ctl_calls      # OS registration changes made
    cdef readonly Py_ssize_t stale_events   # events dropped: from registrations no longer ours
    cdef readonly Py_ssize_t rebuilds       # times the OS poll descriptor was replaced

    cdef int watch(self, int fd, int side, object waiter, object owner) except -1
    cdef int watch_mode(self, int fd, int side, object waiter, object owner,
                        bint persistent) except -1
    cdef object unwatch(self, int fd, int side)
    cdef object waiter(self, int fd, int side)
    cdef int poll(self, double timeout) except -1
    cdef int forget(self, int fd) except -1
    cdef int wakeup(self) except -1
    cdef object take_signal_bytes(self)
    cdef int close(self) except -1
    cdef int _grow(self, int fd) except -1
    cdef int _check_open(self) except -1
    cdef int _sync(self, int fd, int want) noexcept
    cdef unsigned int _new_tag(self) noexcept
    cdef int _add_lost(self, int fd) except -1
    cdef int _report_lost(self) noexcept
    cdef int _rearm_reported(self) except -1
    cdef int _rebuild(self) except -1
    cdef int _release(self) noexcept
    cdef void _forget_inherited(self) noexcept

    cdef inline int _wanted(self, int fd) noexcept:
        return ((YL_READ if self._readers[fd] != NULL else 0)
                | (YL_WRITE if self._writers[fd] != NULL else 0))

    cdef inline int event_fd(self, int i) noexcept:
        return self._events[i].fd

    cdef inline int event_flags(self, int i) noexcept:
        return self._events[i].flags

    cdef inline bint persistent_waiter(self, int fd, int side) noexcept:
        # For an fd an event was just reported for (so within the tables).
        return self._persist[fd] & side


# After fork(), in the child: close the child's copies of every poller's OS
# descriptors (the parent's epoll set must never be touched from the
# child) and mark each poller inherited. Called by the kernel's at-fork hook.
cdef int forget_inherited_pollers() except -1
