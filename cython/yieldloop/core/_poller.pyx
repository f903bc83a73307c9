# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The poller: readiness of file descriptors from epoll or kqueue.

Why no OS registration outlives its waiter
------------------------------------------
An epoll registration belongs to the open file, not to the fd number: it is
keyed by (fd number, file) when it is made, and epoll drops it by itself
only when the file is finally closed. If a dup(), a forked child or an fd
passed over a Unix socket keeps the file open, close(fd) leaves the
registration in the epoll set, and it goes on reporting events under the
old number. epoll_ctl(DEL) cannot remove it any more: it looks the number
up in the fd table, where the file is gone (EBADF) or another one sits
(ENOENT). A level-triggered registration left like that on a readable file
makes every wait return at once: the loop can never sleep again. The only
ways out are not to leave the registration there in the first place, or
to throw the whole epoll set away. (kqueue ties its filters to the
descriptor, so close() always drops them; the rules below hold for it too.)

So a registration lives exactly as long as its waiter, in one of two modes
chosen per waiter by whoever adds it (``watch_mode``; ``watch`` takes the
poller's default, ``Poller(oneshot=...)``):

- Persistent waiters (yieldloop.Loop's readers and writers): a waiter
  stays until it is removed, so its level-triggered
  registration is kept across events: a waiter that waits again costs no
  system call. ``unwatch()`` removes the registration at once, while the
  fd is still open, so a close() that follows cannot strand it.
- Waiters that last one wait (the kernel's tasks and stream callbacks):
  registrations are one-shot (EPOLLONESHOT, EV_DISPATCH). An event
  disarms the registration in the OS itself, as it hands over its waiter,
  so whatever the task does next (read, close the fd, exit) nothing stays
  armed. The disarmed entry stays in the set: the next wait on that fd
  re-arms it with one epoll_ctl(MOD), the cost trio pays, instead of the
  ADD + DEL of a registration made and removed per wait. A waiter that goes
  without an event (cancelled, or the fd is about to be closed) has its
  registration removed at once, as in the other mode.

One OS registration covers both sides of an fd, so its mode is the fd's:
persistent while either side has a persistent waiter, one-shot otherwise.
A one-shot waiter on a persistent registration is still taken away by the
core when its event comes, and that unwatch() removes its side at once.
The mode rides in the registration's tag (YL_TAG_PERSISTENT).

Belts and braces: every registration carries a tag (in epoll's data and
kqueue's udata next to the fd), and an event whose tag is not the fd's
current one comes from a registration the poller no longer owns (the fd
was closed behind its back while a waiter still waited). A one-shot one
has disarmed itself and is dropped. A persistent one would fire
forever, so the poller throws its epoll set away and registers the current
waiters again in a new one (``rebuilds`` counts this; it needs a misuse,
not just a dup).

Invariants:
- ``_readers[fd]`` / ``_writers[fd]`` each hold at most one waiter, owned;
- ``_armed[fd]`` is a subset of ``_present[fd]``; for a persistent
  registration both equal the waiters' sides, for a one-shot one
  ``_armed[fd]`` equals them except for sides an event disarmed since the
  last poll();
- ``_persist[fd]`` is a subset of the waiters' sides; the registration's
  tag has YL_TAG_PERSISTENT iff ``_persist[fd]`` is not empty;
- an fd has an OS registration iff ``_present[fd]``, tagged ``_tags[fd]``;
- ``nwaiters`` equals the number of non-NULL reader and writer slots.
"""
from libc.errno cimport errno, EINTR, ENOENT, EEXIST, EBADF, EINVAL
from libc.math cimport ceil
from libc.string cimport memset
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.bytes cimport PyBytes_FromStringAndSize
from yieldloop.core._readyqueue cimport _steal
from yieldloop.includes.capi cimport (
    visitproc, traverseproc, inquiry, yl_hook_traverse, yl_hook_clear)

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
        global _live_pollers
        self._b.pfd = -1
        self._b.wake_r = -1
        self._b.wake_w = -1
        self._max_events = MAX_EVENTS
        self._events = <yl_event*>PyMem_Malloc(MAX_EVENTS * sizeof(yl_event))
        self._reported = <int*>PyMem_Malloc(MAX_EVENTS * sizeof(int))
        if self._events == NULL or self._reported == NULL:
            raise MemoryError()
        self._grow(INITIAL_FDS - 1)
        self._persistent = not oneshot
        if yl_backend_open(&self._b, MAX_EVENTS) < 0:
            raise OSError(errno, "cannot open the %s poller: %s"
                          % (BACKEND, os.strerror(errno)))
        self._next_live = _live_pollers
        if _live_pollers != NULL:
            (<Poller>_live_pollers)._prev_live = <PyObject*>self
        _live_pollers = <PyObject*>self

    def __dealloc__(self):
        global _live_pollers
        self.close()
        if self._prev_live != NULL:
            (<Poller>self._prev_live)._next_live = self._next_live
        elif _live_pollers == <PyObject*>self:
            _live_pollers = self._next_live
        if self._next_live != NULL:
            (<Poller>self._next_live)._prev_live = self._prev_live
        PyMem_Free(self._events)
        PyMem_Free(self._reported)
        PyMem_Free(self._lost)
        PyMem_Free(self._readers)
        PyMem_Free(self._writers)
        PyMem_Free(self._armed)
        PyMem_Free(self._present)
        PyMem_Free(self._persist)
        PyMem_Free(self._tags)

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
        p = PyMem_Realloc(self._armed, cap * sizeof(unsigned char))
        if p == NULL:
            raise MemoryError()
        self._armed = <unsigned char*>p
        p = PyMem_Realloc(self._present, cap * sizeof(unsigned char))
        if p == NULL:
            raise MemoryError()
        self._present = <unsigned char*>p
        p = PyMem_Realloc(self._persist, cap * sizeof(unsigned char))
        if p == NULL:
            raise MemoryError()
        self._persist = <unsigned char*>p
        p = PyMem_Realloc(self._tags, cap * sizeof(unsigned int))
        if p == NULL:
            raise MemoryError()
        self._tags = <unsigned int*>p
        memset(&self._readers[old], 0, (cap - old) * sizeof(PyObject*))
        memset(&self._writers[old], 0, (cap - old) * sizeof(PyObject*))
        memset(&self._armed[old], 0, (cap - old) * sizeof(unsigned char))
        memset(&self._present[old], 0, (cap - old) * sizeof(unsigned char))
        memset(&self._persist[old], 0, (cap - old) * sizeof(unsigned char))
        memset(&self._tags[old], 0, (cap - old) * sizeof(unsigned int))
        self._cap = cap
        return 0

    cdef int _check_open(self) except -1:
        if self._b.pfd >= 0:
            return 0
        if self._forked:
            raise RuntimeError(
                "this poller belongs to the process that forked this one: a forked "
                "child must make its own (yieldloop.run() or a new event loop)")
        raise RuntimeError("the poller is closed")

    cdef unsigned int _new_tag(self) noexcept:
        # The top bit is the mode's (YL_TAG_PERSISTENT), never the count's.
        self._last_tag = (self._last_tag + 1) & ~YL_TAG_PERSISTENT
        if self._last_tag == 0:          # 0 is the wake-up pipe's
            self._last_tag = 1
        return self._last_tag

    cdef int _sync(self, int fd, int want) noexcept:
        """Make the OS interest of ``fd`` exactly ``want``; 0 or an errno.

        On failure ``fd`` has no registration in the tables: whatever the
        OS still holds for it is stale, and its events are dropped by tag.
        """
        cdef int present = self._present[fd]
        cdef unsigned int tag
        cdef unsigned int mode = YL_TAG_PERSISTENT if self._persist[fd] else 0
        cdef int err
        if want == 0:
            if present and self._b.pfd >= 0:
                # A failure means the fd was closed first: see the tags.
                self.ctl_calls += 1
                yl_backend_update(&self._b, fd, present, 0, 0)
            self._armed[fd] = self._present[fd] = 0
            self._tags[fd] = 0
            return 0
        if self._b.pfd < 0:
            err = EBADF
        else:
            if present:
                tag = self._tags[fd]
                if (tag & YL_TAG_PERSISTENT) != mode:
                    tag = self._new_tag() | mode      # the mode changes: a new tag says so
                self.ctl_calls += 1
                if yl_backend_update(&self._b, fd, present, want, tag) == 0:
                    self._armed[fd] = self._present[fd] = want
                    self._tags[fd] = tag
                    return 0
                err = errno
                if err == ENOENT:
                    # The entry went with the file that had this number.
                    present = 0
            if not present:
                tag = self._new_tag() | mode
                self.ctl_calls += 1
                if yl_backend_update(&self._b, fd, 0, want, tag) == 0:
                    self._armed[fd] = self._present[fd] = want
                    self._tags[fd] = tag
                    return 0
                err = errno
                if err == EEXIST:
                    # This file has an entry already, one the tables had let go.
                    self.ctl_calls += 1
                    if yl_backend_update(&self._b, fd, want, want, tag) == 0:
                        self._armed[fd] = self._present[fd] = want
                        self._tags[fd] = tag
                        return 0
                    err = errno
        self._armed[fd] = self._present[fd] = 0
        self._tags[fd] = 0
        return err

    cdef int _add_lost(self, int fd) except -1:
        cdef void* p
        cdef Py_ssize_t cap
        if self._nlost == self._lost_cap:
            cap = 2 * self._lost_cap if self._lost_cap else 16
            p = PyMem_Realloc(self._lost, cap * sizeof(int))
            if p == NULL:
                raise MemoryError()
            self._lost = <int*>p
            self._lost_cap = cap
        self._lost[self._nlost] = fd
        self._nlost += 1
        return 0

    cdef int _report_lost(self) noexcept:
        """Put error events for lost fds (still unregistered, still waited
        on) at the front of the event buffer; return how many."""
        cdef int k = 0, fd
        cdef Py_ssize_t i = 0, j
        while i < self._nlost and k < self._max_events // 2:
            fd = self._lost[i]
            i += 1
            if fd < self._cap and self._tags[fd] == 0 and self._wanted(fd):
                self._events[k].fd = fd
                self._events[k].flags = YL_ERROR
                self._events[k].tag = 0
                self._events[k].off = 0
                k += 1
        for j in range(i, self._nlost):
            self._lost[j - i] = self._lost[j]
        self._nlost -= i
        return k

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

    cdef int _rearm_reported(self) except -1:
        """One-shot mode: re-arm the fds an event disarmed that still have a
        waiter (one whose other side reported, or one left in place)."""
        cdef int i, fd, want
        for i in range(self._nreported):
            fd = self._reported[i]
            want = self._wanted(fd)
            if want & ~self._armed[fd]:
                if self._sync(fd, want):
                    self._add_lost(fd)
        self._nreported = 0
        return 0

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

    cdef int _rebuild(self) except -1:
        """After an event from a persistent registration that outlived
        its fd: replace the OS poll descriptor, dropping every registration,
        and register the current waiters again."""
        cdef int fd, want
        if yl_backend_reopen(&self._b) < 0:
            raise OSError(errno, "cannot replace the %s poller: %s"
                          % (BACKEND, os.strerror(errno)))
        self.rebuilds += 1
        for fd in range(self._cap):
            if self._present[fd]:
                self._armed[fd] = self._present[fd] = 0
                self._tags[fd] = 0
                want = self._wanted(fd)
                if want and self._sync(fd, want):
                    self._add_lost(fd)
        return 0

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
