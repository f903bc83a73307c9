# The poller's fd tables (see _fdtable.pyx): Poller (_poller.pxd) derives
# from FdTable, which keeps the OS registrations equal to the waiters.
cimport cython
from cpython.object cimport PyObject
from yieldloop.includes.pollbackend cimport (
    YL_READ, YL_WRITE, YL_ERROR, YL_TAG_PERSISTENT, yl_event, yl_backend, yl_backend_name,
    yl_backend_update, yl_backend_reopen)


cdef class FdTable:
    cdef yl_backend _b
    cdef yl_event* _events       # filled by poll()
    cdef int _max_events
    # Per-fd tables, _cap long, grown on demand.
    cdef PyObject** _readers     # waiter for readability (owned) or NULL
    cdef PyObject** _writers     # waiter for writability (owned) or NULL
    cdef unsigned char* _armed   # sides the OS would report now
    cdef unsigned char* _present  # sides with an OS registration, armed or disarmed
    cdef unsigned char* _persist  # sides whose waiter is persistent (else one-shot)
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
    cdef readonly Py_ssize_t ctl_calls      # OS registration changes made
    cdef readonly Py_ssize_t rebuilds       # times the OS poll descriptor was replaced

    @cython.final
    cdef int _grow(self, int fd) except -1

    @cython.final
    cdef int _sync(self, int fd, int want) noexcept

    @cython.final
    cdef unsigned int _new_tag(self) noexcept

    @cython.final
    cdef int _add_lost(self, int fd) except -1

    @cython.final
    cdef int _report_lost(self) noexcept

    @cython.final
    cdef int _rearm_reported(self) except -1

    @cython.final
    cdef int _rebuild(self) except -1

    cdef inline int _wanted(self, int fd) noexcept:
        return ((YL_READ if self._readers[fd] != NULL else 0)
                | (YL_WRITE if self._writers[fd] != NULL else 0))

    cdef inline bint persistent_waiter(self, int fd, int side) noexcept:
        # For an fd an event was just reported for (so within the tables).
        return self._persist[fd] & side
