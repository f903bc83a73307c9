# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The poller: readiness of file descriptors from epoll or kqueue.

Registrations persist across waits. Waiting on an fd that is still armed
for that direction costs no system call; the OS interest is only dropped
when an event arrives that no waiter wants (lazy disarm, as libuv does).

Because a closed fd silently leaves the OS poller and its number can be
reused, an armed registration is only trusted when the new waiter comes for
the same *owner* object (e.g. the same socket, held by weak reference) as
the registration. Waits on bare int fds or for a different owner re-submit
the registration, so a reused fd number never leaves a waiter deaf.

Invariants:
- ``_readers[fd]`` / ``_writers[fd]`` each hold at most one waiter, owned;
- ``_armed[fd]`` is what we last told the OS, a superset of the waiters'
  interest;
- ``nwaiters`` equals the number of non-NULL reader and writer slots.
"""
from libc.errno cimport errno, EINTR
from libc.math cimport ceil
from libc.string cimport memset
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.weakref cimport PyWeakref_NewRef
from yieldloop._readyqueue cimport _steal
from yieldloop.includes.capi cimport yl_weakref_is

import os

cdef enum:
    MAX_EVENTS = 1024
    INITIAL_FDS = 64

# Waits longer than a day are split (the loop recomputes its timeout).
cdef double MAX_TIMEOUT_NS = 86400e9

#: Name of the OS backend compiled in: "epoll" or "kqueue".
BACKEND = yl_backend_name().decode()
READ = YL_READ
WRITE = YL_WRITE
ERROR = YL_ERROR


cdef inline PyObject** _side(Poller self, int side) noexcept:
    return self._readers if side == YL_READ else self._writers


cdef class Poller:
    """One OS poller with its wake-up pipe. Closed by ``close()``.

    The Python methods exist for tests and tools; the kernel and the
    asyncio loop use the C ones.

    >>> p = Poller(); r, w = os.pipe(); p.add_writer(w, "w")
    >>> p.wait(0) == [(w, WRITE)]
    True
    """

    def __cinit__(self):
        self._b.pfd = -1
        self._b.wake_r = -1
        self._b.wake_w = -1
        self._max_events = MAX_EVENTS
        self._events = <yl_event*>PyMem_Malloc(MAX_EVENTS * sizeof(yl_event))
        if self._events == NULL:
            raise MemoryError()
        self._grow(INITIAL_FDS - 1)
        if yl_backend_open(&self._b, MAX_EVENTS) < 0:
            raise OSError(errno, "cannot open the %s poller: %s"
                          % (BACKEND, os.strerror(errno)))

    def __dealloc__(self):
        self.close()
        PyMem_Free(self._events)
        PyMem_Free(self._readers)
        PyMem_Free(self._writers)
        PyMem_Free(self._owners)
        PyMem_Free(self._armed)

    cdef int _grow(self, int fd) except -1:
        cdef Py_ssize_t cap = self._cap if self._cap else INITIAL_FDS
        cdef Py_ssize_t old = self._cap
        cdef void* p
        while cap <= fd:
            cap *= 2
        if cap == old:
            return 0
        p = PyMem_Realloc(self._readers, cap * sizeof(PyObject*))
        if p == NULL:
            raise MemoryError()
        self._readers = <PyObject**>p
        p = PyMem_Realloc(self._writers, cap * sizeof(PyObject*))
        if p == NULL:
            raise MemoryError()
        self._writers = <PyObject**>p
        p = PyMem_Realloc(self._owners, cap * sizeof(PyObject*))
        if p == NULL:
            raise MemoryError()
        self._owners = <PyObject**>p
        p = PyMem_Realloc(self._armed, cap * sizeof(unsigned char))
        if p == NULL:
            raise MemoryError()
        self._armed = <unsigned char*>p
        memset(&self._readers[old], 0, (cap - old) * sizeof(PyObject*))
        memset(&self._writers[old], 0, (cap - old) * sizeof(PyObject*))
        memset(&self._owners[old], 0, (cap - old) * sizeof(PyObject*))
        memset(&self._armed[old], 0, (cap - old) * sizeof(unsigned char))
        self._cap = cap
        return 0

    cdef bint _owned_by(self, int fd, object owner) noexcept:
        return (owner is not None and self._owners[fd] != NULL
                and yl_weakref_is(self._owners[fd], owner))

    cdef int _set_owner(self, int fd, object owner) except -1:
        cdef object ref = None
        if owner is not None:
            try:
                ref = PyWeakref_NewRef(owner, None)
            except TypeError:
                ref = None      # not weak-referenceable: never trusted
        Py_XDECREF(self._owners[fd])
        self._owners[fd] = NULL
        if ref is not None:
            Py_INCREF(ref)
            self._owners[fd] = <PyObject*>ref
        return 0

    cdef int _arm(self, int fd, int mask, bint force) except -1:
        cdef int old = self._armed[fd]
        if mask == old and not force:
            return 0
        self.ctl_calls += 1
        if yl_backend_update(&self._b, fd, old, mask, force) < 0:
            # The OS state is unknown now: re-submit on the next wait.
            self._armed[fd] = 0
            self._set_owner(fd, None)
            raise OSError(errno, "cannot watch fd %d: %s" % (fd, os.strerror(errno)))
        self._armed[fd] = mask
        return 0

    cdef int watch(self, int fd, int side, object waiter, object owner) except -1:
        """Hold ``waiter`` until ``fd`` is ready for ``side`` (YL_READ or YL_WRITE).

        ``owner`` is the object the fd belongs to (a socket, a file), or
        None for a bare fd number; see the module docstring.
        """
        cdef PyObject** slots
        if self._b.pfd < 0:
            raise RuntimeError("the poller is closed")
        if fd < 0:
            raise ValueError("invalid file descriptor: %d" % fd)
        if fd >= self._cap:
            # Ask the OS first: an fd number that is not open fails there,
            # before any table grows to cover it.
            self.ctl_calls += 1
            if yl_backend_update(&self._b, fd, 0, side, True) < 0:
                raise OSError(errno, "cannot watch fd %d: %s" % (fd, os.strerror(errno)))
            self._grow(fd)
            self._armed[fd] = side
            self._set_owner(fd, owner)
            slots = _side(self, side)
            Py_INCREF(waiter)
            slots[fd] = <PyObject*>waiter
            self.nwaiters += 1
            return 0
        slots = _side(self, side)
        if slots[fd] != NULL:
            raise RuntimeError("fd %d already has a %s waiter"
                               % (fd, "read" if side == YL_READ else "write"))
        if self._owned_by(fd, owner):
            self._arm(fd, self._armed[fd] | side, False)
        else:
            self._arm(fd, self._armed[fd] | side, True)
            self._set_owner(fd, owner)
        Py_INCREF(waiter)
        slots[fd] = <PyObject*>waiter
        self.nwaiters += 1
        return 0

    cdef object unwatch(self, int fd, int side):
        """Remove and return the waiter for ``side`` of ``fd`` (None if none).

        The OS registration stays armed for the next wait on this fd.
        """
        cdef PyObject** slots
        cdef PyObject* w
        if fd < 0 or fd >= self._cap:
            return None
        slots = _side(self, side)
        w = slots[fd]
        if w == NULL:
            return None
        slots[fd] = NULL
        self.nwaiters -= 1
        return <object>_steal(w)

    cdef object waiter(self, int fd, int side):
        """The waiter for ``side`` of ``fd`` (borrowed view), or None."""
        cdef PyObject* w
        if fd < 0 or fd >= self._cap:
            return None
        w = _side(self, side)[fd]
        return <object>w if w != NULL else None

    cdef int poll(self, double timeout) except -1:
        """Wait up to ``timeout`` seconds (< 0: no limit); return the event count.

        Events are read with event_fd(i) / event_flags(i). Directions that
        no waiter wants are disarmed here.
        """
        cdef int n, i, fd, flags, want, armed
        cdef long long ns
        cdef double t
        if self._b.pfd < 0:
            raise RuntimeError("the poller is closed")
        if timeout < 0:
            ns = -1
        else:
            t = ceil(timeout * 1e9)        # never wake before a deadline
            ns = <long long>(t if t < MAX_TIMEOUT_NS else MAX_TIMEOUT_NS)
        with nogil:
            n = yl_backend_wait(&self._b, self._events, ns)
        if n < 0:
            if errno == EINTR:
                n = 0
            else:
                raise OSError(errno, "%s wait failed: %s" % (BACKEND, os.strerror(errno)))
        self._nevents = n
        for i in range(n):
            fd = self._events[i].fd
            flags = self._events[i].flags
            if fd < 0 or fd >= self._cap:
                continue
            armed = self._armed[fd]
            want = ((YL_READ if self._readers[fd] != NULL else 0)
                    | (YL_WRITE if self._writers[fd] != NULL else 0))
            if flags & YL_ERROR:
                flags |= armed
            if flags & armed & ~want:
                self._disarm(fd, armed & want)
        return n

    cdef int _disarm(self, int fd, int mask) except -1:
        """Reduce the OS interest of ``fd`` to ``mask`` after an unwanted event."""
        self.ctl_calls += 1
        if yl_backend_update(&self._b, fd, self._armed[fd], mask, False) < 0:
            # Only possible if the fd vanished under us: it is gone from
            # the OS poller then, which is what we wanted anyway.
            mask = 0
        self._armed[fd] = mask
        if not mask:
            self._set_owner(fd, None)
        return 0

    cdef int forget(self, int fd) except -1:
        """Drop the OS registration of ``fd``: call before closing it.

        The caller takes any waiters first (see unwatch) to wake them.
        """
        if fd < 0 or fd >= self._cap:
            return 0
        if self._armed[fd]:
            self.ctl_calls += 1
            yl_backend_update(&self._b, fd, self._armed[fd], 0, False)
            self._armed[fd] = 0
        self._set_owner(fd, None)
        return 0

    cdef int wakeup(self) except -1:
        """Make a blocked poll() return; safe from other threads."""
        if self._b.wake_w >= 0:
            yl_backend_wakeup(&self._b)
        return 0

    cdef int close(self) except -1:
        """Release every waiter and owner and close the OS descriptors."""
        cdef int fd
        cdef PyObject* w
        if self._b.pfd < 0 and self._readers == NULL:
            return 0
        yl_backend_close(&self._b)
        # Each slot is emptied before its release: a released waiter may run
        # code that looks at this poller again.
        for fd in range(self._cap):
            self._armed[fd] = 0
            w = self._readers[fd]
            self._readers[fd] = NULL
            Py_XDECREF(w)
            w = self._writers[fd]
            self._writers[fd] = NULL
            Py_XDECREF(w)
            w = self._owners[fd]
            self._owners[fd] = NULL
            Py_XDECREF(w)
        self.nwaiters = 0
        return 0

    # Python-level surface, for tests and tools.

    @property
    def closed(self):
        """True once close() ran."""
        return self._b.pfd < 0

    @property
    def wakeup_fd(self):
        """Write end of the wake-up pipe (for signal.set_wakeup_fd)."""
        return self._b.wake_w

    @property
    def armed_fds(self):
        """Number of fds with an OS registration."""
        return sum(1 for fd in range(self._cap) if self._armed[fd])

    def add_reader(self, int fd, waiter, owner=None):
        """Hold ``waiter`` until ``fd`` is readable."""
        self.watch(fd, YL_READ, waiter, owner)

    def add_writer(self, int fd, waiter, owner=None):
        """Hold ``waiter`` until ``fd`` is writable."""
        self.watch(fd, YL_WRITE, waiter, owner)

    def remove_reader(self, int fd):
        """Remove and return the read waiter of ``fd`` (None if none)."""
        return self.unwatch(fd, YL_READ)

    def remove_writer(self, int fd):
        """Remove and return the write waiter of ``fd`` (None if none)."""
        return self.unwatch(fd, YL_WRITE)

    def forget_fd(self, int fd):
        """Drop the OS registration of ``fd`` before it is closed."""
        self.forget(fd)

    def wait(self, double timeout):
        """Poll and return ``[(fd, flags), ...]``; waiters stay registered."""
        cdef int i, n = self.poll(timeout)
        return [(self._events[i].fd, self._events[i].flags) for i in range(n)]

    def wake(self):
        """Make a blocked wait return (thread-safe)."""
        self.wakeup()

    def close_poller(self):
        """Close the poller and release its waiters."""
        self.close()
