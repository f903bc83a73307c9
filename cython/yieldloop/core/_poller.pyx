# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The poller: readiness of file descriptors from epoll or kqueue.

A Poller holds at most one waiter per side (read, write) of each fd, any
object: it knows nothing of tasks, and hands the waiter back to the core
when its fd is ready. ``watch``/``watch_mode`` add one, persistent (the
Loop's readers and writers: it stays until removed) or one-shot (the
kernel's tasks and stream callbacks: it lasts one wait); ``unwatch`` takes
one back; ``poll`` waits for events and drops those of registrations the
poller no longer owns; ``forget`` drops the registration of an fd about to
be closed. The fd tables, and the rules by which no OS registration
outlives its waiter, are its base's (_fdtable.pyx); the backend is C
(core/poll/: epoll.c or kqueue.c, and selfpipe.c for the wake-up pipe that
other threads and signals write to).

In a forked child every poller of the parent is closed (only the child's
copies of its descriptors: the parent's epoll set is never touched) and
refuses to be used (``forget_inherited_pollers``, from the kernel's at-fork
hook).

Invariants:
- ``_readers[fd]`` / ``_writers[fd]`` each hold at most one waiter, owned;
- ``nwaiters`` equals the number of non-NULL reader and writer slots.
"""
from libc.errno cimport errno, EINTR, EINVAL
from libc.math cimport ceil
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.bytes cimport PyBytes_FromStringAndSize
from yieldloop.core._readyqueue cimport _steal
from yieldloop.includes.capi cimport (
    visitproc, traverseproc, inquiry, yl_hook_traverse, yl_hook_clear)

import os

# Waits longer than a day are split (the loop recomputes its timeout).
cdef double MAX_TIMEOUT_NS = 86400e9

#: Name of the OS backend compiled in: "epoll" or "kqueue".
BACKEND = yl_backend_name().decode()
READ = YL_READ
WRITE = YL_WRITE
ERROR = YL_ERROR

# The open pollers (borrowed: each unlinks itself when it is freed).
cdef PyObject* _live_pollers = NULL


cdef inline PyObject** _side(Poller self, int side) noexcept:
    return self._readers if side == YL_READ else self._writers


cdef class Poller:
    """One OS poller with its wake-up pipe. Closed by ``close()``.

    ``oneshot``: waiters added by watch() (add_reader, add_writer) last one
    wait each (see the module docstring): the caller takes a waiter with
    unwatch() when its event is reported. Otherwise they are persistent.
    Either mode can be asked for per waiter (watch_mode).

    The Python methods exist for tests and tools; the kernel and the
    asyncio loop use the C ones.

    >>> p = Poller(); r, w = os.pipe(); p.add_writer(w, "w")
    >>> p.wait(0) == [(w, WRITE)]
    True
    """

    def __cinit__(self, *, bint oneshot=False):
        # FdTable's __cinit__ has made the tables and the event buffer.
        global _live_pollers
        self._persistent = not oneshot
        if yl_backend_open(&self._b, self._max_events) < 0:
            raise OSError(errno, "cannot open the %s poller: %s"
                          % (BACKEND, os.strerror(errno)))
        self._next_live = _live_pollers
        if _live_pollers != NULL:
            (<Poller>_live_pollers)._prev_live = <PyObject*>self
        _live_pollers = <PyObject*>self

    def __dealloc__(self):
        # Before FdTable's __dealloc__ frees the tables.
        global _live_pollers
        self.close()
        if self._prev_live != NULL:
            (<Poller>self._prev_live)._next_live = self._next_live
        elif _live_pollers == <PyObject*>self:
            _live_pollers = self._next_live
        if self._next_live != NULL:
            (<Poller>self._next_live)._prev_live = self._prev_live

    cdef int _check_open(self) except -1:
        if self._b.pfd >= 0:
            return 0
        if self._forked:
            raise RuntimeError(
                "this poller belongs to the process that forked this one: a forked "
                "child must make its own (yieldloop.run() or a new event loop)")
        raise RuntimeError("the poller is closed")

    cdef int watch(self, int fd, int side, object waiter, object owner) except -1:
        """Hold ``waiter`` until ``fd`` is ready for ``side`` (YL_READ or
        YL_WRITE), in the poller's default mode.

        ``owner`` is the object the fd belongs to (a socket, a file), or
        None for a bare fd number; it is named if the OS refuses the fd.
        """
        return self.watch_mode(fd, side, waiter, owner, self._persistent)

    cdef int watch_mode(self, int fd, int side, object waiter, object owner,
                        bint persistent) except -1:
        """watch(), with the waiter ``persistent`` (stays until unwatched)
        or one-shot (the caller unwatches it when its event is reported)."""
        cdef PyObject** slots
        cdef unsigned int tag
        cdef int want, err
        cdef unsigned char old_persist
        self._check_open()
        if fd < 0:
            raise ValueError("invalid file descriptor: %d" % fd)
        if fd == self._b.pfd or fd == self._b.wake_r or fd == self._b.wake_w:
            # A closed fd number the poller's own descriptors now use.
            raise OSError(EINVAL, "cannot watch fd %d%s: it is the poller's own descriptor"
                          % (fd, _of(owner)))
        if fd >= self._cap:
            # Ask the OS first: an fd number that is not open fails there,
            # before any table grows to cover it.
            tag = self._new_tag() | (YL_TAG_PERSISTENT if persistent else 0)
            self.ctl_calls += 1
            if yl_backend_update(&self._b, fd, 0, side, tag) < 0:
                err = errno
                raise OSError(err, "cannot watch fd %d%s: %s"
                              % (fd, _of(owner), os.strerror(err)))
            try:
                self._grow(fd)
            except BaseException:
                yl_backend_update(&self._b, fd, side, 0, 0)
                raise
            self._armed[fd] = self._present[fd] = side
            self._tags[fd] = tag
            self._persist[fd] = side if persistent else 0
        else:
            slots = _side(self, side)
            if slots[fd] != NULL:
                raise RuntimeError("fd %d already has a %s waiter"
                                   % (fd, "read" if side == YL_READ else "write"))
            want = self._wanted(fd) | side
            old_persist = self._persist[fd]
            self._persist[fd] = (old_persist | side) if persistent else (old_persist & ~side)
            if want != self._armed[fd] or (
                    (self._tags[fd] & YL_TAG_PERSISTENT != 0) != (self._persist[fd] != 0)):
                err = self._sync(fd, want)
                if err:
                    self._persist[fd] = old_persist
                    if self._wanted(fd):
                        self._add_lost(fd)    # the other side's waiter must hear of it
                    raise OSError(err, "cannot watch fd %d%s: %s"
                                  % (fd, _of(owner), os.strerror(err)))
        slots = _side(self, side)
        Py_INCREF(waiter)
        slots[fd] = <PyObject*>waiter
        self.nwaiters += 1
        return 0

    cdef object unwatch(self, int fd, int side):
        """Remove and return the waiter for ``side`` of ``fd`` (None if none).

        Its OS registration goes with it, unless an event has disarmed it
        already (one-shot mode), where it stays for the next wait to re-arm.
        """
        cdef PyObject** slots
        cdef PyObject* w
        cdef int want
        if fd < 0 or fd >= self._cap:
            return None
        slots = _side(self, side)
        w = slots[fd]
        if w == NULL:
            return None
        slots[fd] = NULL
        self.nwaiters -= 1
        self._persist[fd] &= ~side
        want = self._wanted(fd)
        if self._armed[fd] & ~want:
            if self._sync(fd, want) and want:
                self._add_lost(fd)
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

        Events are read with event_fd(i) / event_flags(i). Events of
        registrations the poller no longer owns are dropped here.
        """
        cdef int n, i, j, k, fd
        cdef long long ns
        cdef double t
        cdef bint rebuild = False
        self._check_open()
        if self._nreported:
            self._rearm_reported()
        k = self._report_lost() if self._nlost else 0
        if k:
            ns = 0                         # waiters to wake already
        elif timeout < 0:
            ns = -1
        else:
            t = ceil(timeout * 1e9)        # never wake before a deadline
            ns = <long long>(t if t < MAX_TIMEOUT_NS else MAX_TIMEOUT_NS)
        with nogil:
            n = yl_backend_wait(&self._b, &self._events[k], self._max_events - k, ns)
        if n < 0:
            if errno == EINTR:
                n = 0
            else:
                raise OSError(errno, "%s wait failed: %s" % (BACKEND, os.strerror(errno)))
        j = k
        for i in range(k, k + n):
            fd = self._events[i].fd
            if fd < 0 or fd >= self._cap or self._tags[fd] != self._events[i].tag:
                self.stale_events += 1
                if self._events[i].tag & YL_TAG_PERSISTENT:
                    rebuild = True
                continue
            if self._events[i].off:
                self._armed[fd] &= ~self._events[i].off
                self._reported[self._nreported] = fd
                self._nreported += 1
            if j != i:
                self._events[j] = self._events[i]
            j += 1
        self._nevents = j
        if rebuild:
            self._rebuild()
        return j

    cdef int forget(self, int fd) except -1:
        """Drop the OS registration of ``fd`` (armed or not): call before
        closing it. The caller takes any waiters first (see unwatch) to wake
        them."""
        if 0 <= fd < self._cap and self._present[fd]:
            self._sync(fd, 0)
        return 0

    cdef int wakeup(self) except -1:
        """Make a blocked poll() return; safe from other threads."""
        if self._b.wake_w >= 0:
            yl_backend_wakeup(&self._b)
        return 0

    cdef object take_signal_bytes(self):
        """The signal numbers the wake-up pipe carried since the last call
        (as bytes, one per arrival), or None: what asyncio's self-pipe reader
        hands to its loop's signal handling."""
        cdef int n = self._b.nsigbytes
        if n == 0:
            return None
        self._b.nsigbytes = 0
        return PyBytes_FromStringAndSize(<char*>self._b.sigbytes, n)

    cdef int _release(self) noexcept:
        """Empty every slot and table entry. Each slot is emptied before its
        release: a released waiter may run code that looks at this poller."""
        cdef Py_ssize_t fd
        cdef PyObject* w
        for fd in range(self._cap):
            self._armed[fd] = self._present[fd] = self._persist[fd] = 0
            self._tags[fd] = 0
            w = self._readers[fd]
            self._readers[fd] = NULL
            Py_XDECREF(w)
            w = self._writers[fd]
            self._writers[fd] = NULL
            Py_XDECREF(w)
        self.nwaiters = 0
        self._nreported = 0
        self._nlost = 0
        return 0

    cdef int close(self) except -1:
        """Release every waiter and close the OS descriptors. Never touches
        the OS registrations (closing the poll descriptor drops them), so it
        is safe in a forked child."""
        yl_backend_close(&self._b)
        if self._readers != NULL:
            self._release()
        return 0

    cdef void _forget_inherited(self) noexcept:
        # Closing the child's copies leaves the parent's epoll set as it is.
        yl_backend_close(&self._b)
        self._forked = True

    # Python-level surface, for tests and tools.

    @property
    def closed(self):
        """True once close() ran (or the poller was inherited through fork())."""
        return self._b.pfd < 0

    @property
    def oneshot(self):
        """True if add_reader()/add_writer() waiters are one-shot by default
        (they last one wait)."""
        return not self._persistent

    @property
    def wakeup_fd(self):
        """Write end of the wake-up pipe (for signal.set_wakeup_fd)."""
        return self._b.wake_w

    def fileno(self):
        """The OS poll descriptor (epoll or kqueue), -1 once closed. Read
        only: on Linux, /proc/self/fdinfo/<it> lists the registrations."""
        return self._b.pfd

    @property
    def armed_fds(self):
        """Number of fds with a registration the OS would report now."""
        return sum(1 for fd in range(self._cap) if self._armed[fd])

    @property
    def registered_fds(self):
        """Number of fds with an OS registration, armed or disarmed."""
        return sum(1 for fd in range(self._cap) if self._present[fd])

    def add_reader(self, int fd, waiter, owner=None, *, persistent=None):
        """Hold ``waiter`` until ``fd`` is readable (``persistent``: the
        waiter's mode, None for the poller's default)."""
        self.watch_mode(fd, YL_READ, waiter, owner,
                        self._persistent if persistent is None else persistent)

    def add_writer(self, int fd, waiter, owner=None, *, persistent=None):
        """Hold ``waiter`` until ``fd`` is writable (``persistent``: the
        waiter's mode, None for the poller's default)."""
        self.watch_mode(fd, YL_WRITE, waiter, owner,
                        self._persistent if persistent is None else persistent)

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

    def signal_bytes(self):
        """The signal numbers the wake-up pipe carried since last asked
        (bytes), or None."""
        return self.take_signal_bytes()

    def close_poller(self):
        """Close the poller and release its waiters."""
        self.close()


cdef str _of(object owner):
    if owner is None:
        return ""
    try:
        return " (%r)" % (owner,)
    except Exception:
        return ""


cdef int forget_inherited_pollers() except -1:
    cdef PyObject* p = _live_pollers
    while p != NULL:
        (<Poller>p)._forget_inherited()
        p = (<Poller>p)._next_live
    return 0


# --- garbage collection: the waiters are held in C arrays, which Cython's
# --- generated tp_traverse cannot see; a cycle through one (a loop whose
# --- reader callback refers to the loop) would never be collected.

cdef traverseproc _base_traverse = NULL
cdef inquiry _base_clear = NULL


cdef int _traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    # Fields are read through casts of the borrowed pointer: no reference
    # is taken while the collector walks.
    cdef PyObject** readers = (<Poller>o)._readers
    cdef PyObject** writers = (<Poller>o)._writers
    cdef Py_ssize_t fd
    cdef int r = _base_traverse(o, visit, arg)
    if r:
        return r
    for fd in range((<Poller>o)._cap):
        if readers[fd] != NULL:
            r = visit(readers[fd], arg)
            if r:
                return r
        if writers[fd] != NULL:
            r = visit(writers[fd], arg)
            if r:
                return r
    return 0


cdef int _clear(PyObject* o) noexcept:
    (<Poller>o)._release()
    return _base_clear(o)


_base_traverse = yl_hook_traverse(Poller, _traverse)
_base_clear = yl_hook_clear(Poller, _clear)
if _base_traverse == NULL or _base_clear == NULL:
    raise ImportError("yieldloop.core._poller: Poller has no GC support")
