# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The poller's fd tables, and the OS registrations that follow them.

FdTable is the base of Poller (_poller.pyx). It holds, per fd, the waiter
slots and what the OS has registered for the fd, and keeps the two in line
(``_sync``): the OS interest of an fd is the sides it has waiters for,
except sides an event has just disarmed (one-shot mode).

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
chosen per waiter by whoever adds it (Poller.watch_mode; watch takes the
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
- ``_armed[fd]`` is a subset of ``_present[fd]``; for a persistent
  registration both equal the waiters' sides, for a one-shot one
  ``_armed[fd]`` equals them except for sides an event disarmed since the
  last poll();
- ``_persist[fd]`` is a subset of the waiters' sides; the registration's
  tag has YL_TAG_PERSISTENT iff ``_persist[fd]`` is not empty;
- an fd has an OS registration iff ``_present[fd]``, tagged ``_tags[fd]``.
"""
from libc.errno cimport errno, ENOENT, EEXIST, EBADF
from libc.string cimport memset
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free

import os

cdef enum:
    MAX_EVENTS = 1024
    INITIAL_FDS = 64

cdef str _BACKEND = yl_backend_name().decode()


cdef class FdTable:
    """The base of Poller: its fd tables (see the module docstring). Not
    made on its own."""

    def __cinit__(self, *args, **kwargs):
        self._b.pfd = -1
        self._b.wake_r = -1
        self._b.wake_w = -1
        self._max_events = MAX_EVENTS
        self._events = <yl_event*>PyMem_Malloc(MAX_EVENTS * sizeof(yl_event))
        self._reported = <int*>PyMem_Malloc(MAX_EVENTS * sizeof(int))
        if self._events == NULL or self._reported == NULL:
            raise MemoryError()
        self._grow(INITIAL_FDS - 1)

    def __dealloc__(self):
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

    cdef int _rebuild(self) except -1:
        """After an event from a persistent registration that outlived
        its fd: replace the OS poll descriptor, dropping every registration,
        and register the current waiters again."""
        cdef int fd, want
        if yl_backend_reopen(&self._b) < 0:
            raise OSError(errno, "cannot replace the %s poller: %s"
                          % (_BACKEND, os.strerror(errno)))
        self.rebuilds += 1
        for fd in range(self._cap):
            if self._present[fd]:
                self._armed[fd] = self._present[fd] = 0
                self._tags[fd] = 0
                want = self._wanted(fd)
                if want and self._sync(fd, want):
                    self._add_lost(fd)
        return 0
