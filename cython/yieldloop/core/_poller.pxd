# The poller: epoll or kqueue (chosen at build time) behind one interface.
#
# It maps fd -> waiter through C arrays. No OS registration outlives its
# waiter (see _fdtable.pyx). It knows nothing of tasks: a waiter is any
# object, handed back to the core when its fd is ready. Each waiter is
# one-shot (the kernel's) or persistent (yieldloop.Loop's readers/writers).
cimport cython
from cpython.object cimport PyObject
from yieldloop.includes.pollbackend cimport (
    YL_READ, YL_WRITE, YL_ERROR, YL_MAX_SIGBYTES, YL_TAG_PERSISTENT, yl_event, yl_backend,
    yl_backend_name, yl_backend_open, yl_backend_close, yl_backend_reopen, yl_backend_update,
    yl_backend_wait, yl_backend_wakeup)
from yieldloop.core._fdtable cimport FdTable


@cython.final
cdef class Poller(FdTable):
    cdef int _nevents            # events from the last poll()
    cdef bint _forked            # inherited through fork(): the parent's
    cdef bint _persistent        # watch()'s mode: persistent, or one-shot
    cdef object _gc              # always None: gives the type GC support (see the .pyx)
    cdef PyObject* _prev_live    # list of the open pollers, for fork (borrowed)
    cdef PyObject* _next_live
    cdef readonly Py_ssize_t nwaiters       # waiters held (readers + writers)
    cdef readonly Py_ssize_t stale_events   # events dropped: from registrations no longer ours

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
    cdef int _check_open(self) except -1
    cdef int _release(self) noexcept
    cdef void _forget_inherited(self) noexcept

    cdef inline int event_fd(self, int i) noexcept:
        return self._events[i].fd

    cdef inline int event_flags(self, int i) noexcept:
        return self._events[i].flags


# After fork(), in the child: close the child's copies of every poller's OS
# descriptors (the parent's epoll set must never be touched from the
# child) and mark each poller inherited. Called by the kernel's at-fork hook.
cdef int forget_inherited_pollers() except -1
