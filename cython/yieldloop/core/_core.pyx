# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The scheduler core: one ready queue, one timer heap, one poller with its
wake-up pipe, one inbox of calls from other threads, and one run-once.

Both front ends run on it: the native kernel (_kernel.pyx: tasks driven by
traps) and yieldloop.Loop (_loop.pyx: asyncio's event loop, with its own
Task and Future). Each owns a Core and registers itself with it as a
FrontEnd; the core calls back into the front end for what differs between
them: how a task of its kind takes a step, how a trap's waiter is woken,
how a failing callback is reported, which clock timers follow.

Why composition and not inheritance: a Core must be able to serve both
front ends at once (asyncio code awaiting native traps and the other way
round), so it cannot *be* either of them. The front ends keep their own
names for the core's queue, heap and poller (``Kernel._ready``,
``LoopCore._ready_c``...): those are the core's objects, not copies, so
their hot paths reach them without going through the core.

One iteration (``run_once``):

1. move the calls other threads handed over (the inbox) to the ready queue;
2. poll: without waiting if something is ready (and only if some fd has a
   waiter, or a front end asks for it: asyncio's signal handling reads the
   wake-up pipe), else until the next timer (a front end with a clock of
   its own waits its way); each fd event goes to its waiter by type: a
   Trap is answered through the kernel (its task becomes ready), a Handle
   is queued. One-shot waiters (the kernel's) are taken from the poller as
   their event comes; persistent ones (the Loop's readers and writers) stay
   until removed;
3. due timers: a Trap (a native sleep) is answered, a Handle queued;
4. run what was ready when the iteration began, by type: a native Task
   takes a kernel step, a Handle is called (a kernel handle's error goes to
   the kernel's rules, an asyncio handle's to the Loop's exception handler,
   SystemExit and KeyboardInterrupt propagating as asyncio's loop lets
   them), anything else is a task of the Loop and takes its step.

Invariants:
- an object is in at most one of: the ready queue, the timer heap, a
  poller slot (a Handle may sit in a persistent poller slot and be queued);
- ``inbox_pending`` is set after every append to ``inbox`` by other
  threads, and cleared only by ``drain_inbox`` before it empties the deque.
"""
cimport cython
from libc.math cimport INFINITY
from yieldloop.core._readyqueue cimport ReadyQueue
from yieldloop.core._timerheap cimport TimerHeap
from yieldloop.core._poller cimport Poller, YL_READ, YL_WRITE, YL_ERROR
from yieldloop.core._handles cimport Handle, KIND_KERNEL, KIND_ASYNCIO_THREADSAFE
from yieldloop.core._traps cimport Trap
from yieldloop.includes.capi cimport PyErr_CheckSignals, yl_monotonic

from collections import deque


cdef class FrontEnd:
    """The base of the kernel and of yieldloop.Loop: what the core calls
    back (see _core.pxd). The defaults say a front end does not do it."""

    cdef int step(self, object task) except -1:
        raise TypeError("%r cannot run %r" % (self, task))

    cdef int trap_ready(self, Trap trap, bint by_timer) except -1:
        raise RuntimeError("%r cannot wake the waiter of a trap" % (self,))

    cdef int handle_failed(self, Handle h, object exc) except -1:
        raise exc

    cdef int run_handle_slow(self, Handle h) except -1:
        return h.run()

    cdef double clock_now(self) except? -1.0:
        return yl_monotonic()

    cdef int wait_for_timer(self, double deadline) except -1:
        raise RuntimeError("%r has no clock" % (self,))

    cdef int signals_arrived(self, object data) except -1:
        return 0


@cython.final
cdef class Core:
    """Core()\n--\n
    The scheduler core under the kernel and yieldloop.Loop (see the module
    docstring). Made by each front end; read-only views for tests."""

    def __cinit__(self):
        self.ready = ReadyQueue()
        self.timers = TimerHeap()
        self.inbox = deque()

    cdef Poller open_poller(self):
        """The poller, made anew if there is none or it was closed. Waiters
        are one-shot unless added as persistent (Poller.watch_mode)."""
        if self.poller is None or self.poller.closed:
            self.poller = Poller(oneshot=True)
        return self.poller

    cdef int close(self) except -1:
        """Drop everything queued, every timer and every waiter, and close
        the poller (its descriptors too)."""
        self.inbox_pending = False
        self.ready.clear()
        self.timers.clear()
        if self.poller is not None:
            self.poller.close()
        self.inbox.clear()
        return 0

    cdef int drain_inbox(self) except -1:
        """Move what other threads handed over into the ready queue."""
        self.inbox_pending = False
        while self.inbox:
            self.ready.push(self.inbox.popleft())
        return 0

    cdef int post(self, Handle h) except -1:
        """From any thread: queue ``h`` through the inbox and wake the poll.
        No Python code runs in it, so a caller's check before it holds."""
        self.inbox.append(h)
        self.inbox_pending = True
        self.poller.wakeup()
        return 0

    cdef double now(self) except? -1.0:
        """The time timers follow: the monotonic clock, or a front end's."""
        if self.clock is None:
            return yl_monotonic()
        return self.clock.clock_now()

    cdef int run_once(self, bint nowait) except -1:
        """One iteration (see the module docstring). ``nowait``: poll
        without waiting even if nothing is ready (a loop that is stopping)."""
        cdef double deadline, timeout, now
        cdef Py_ssize_t n
        cdef object due, item
        if self.inbox_pending:
            self.drain_inbox()
        if self.ready.count() or nowait:
            if self.poller.nwaiters or self.busy_poll:
                self.poll(0.0)
            else:
                PyErr_CheckSignals()
        else:
            deadline = self.timers.next_deadline()
            if deadline == INFINITY:
                self.poll(-1.0)
            elif self.clock is None:
                timeout = deadline - yl_monotonic()
                self.poll(timeout if timeout > 0.0 else 0.0)
            else:
                self.clock.wait_for_timer(deadline)
        if self.timers.live():
            now = yl_monotonic() if self.clock is None else self.clock.clock_now()
            while True:
                due = self.timers.pop_due(now)
                if due is None:
                    break
                if type(due) is Trap:
                    self.native.trap_ready(<Trap>due, True)
                else:
                    (<Handle>due).heap = None
                    self.ready.push(due)
        n = self.ready.count()
        while n > 0:
            n -= 1
            item = self.ready.pop()
            if type(item) is self.native_task_type:
                self.native.step(item)
            elif type(item) is Handle:
                self._run_handle(<Handle>item)
            else:
                self.aio.step(item)
        return 0

    cdef int poll(self, double timeout) except -1:
        """Wait up to ``timeout`` seconds (< 0: no limit) and hand each fd
        event to its waiter."""
        cdef int i, n, fd, flags
        cdef object data
        n = self.poller.poll(timeout)
        PyErr_CheckSignals()
        for i in range(n):
            fd = self.poller.event_fd(i)
            flags = self.poller.event_flags(i)
            if flags & (YL_READ | YL_ERROR):
                self._fd_event(fd, YL_READ)
            if flags & (YL_WRITE | YL_ERROR):
                self._fd_event(fd, YL_WRITE)
        if self.poller._b.nsigbytes:
            data = self.poller.take_signal_bytes()
            if self.aio is not None:
                self.aio.signals_arrived(data)
        return 0

    cdef int _fd_event(self, int fd, int side) except -1:
        cdef object w
        if self.poller.persistent_waiter(fd, side):
            # A Loop reader or writer: it stays; a cancelled one is not run.
            w = self.poller.waiter(fd, side)
            if not (<Handle>w).cancelled_:
                self.ready.push(w)
            return 0
        w = self.poller.unwatch(fd, side)
        if w is None:
            return 0
        if type(w) is Trap:
            return self.native.trap_ready(<Trap>w, False)
        self.ready.push(w)               # a kernel I/O callback (Handle)
        return 0

    cdef int _run_handle(self, Handle h) except -1:
        if h.cancelled_:
            return 0
        if h.kind == KIND_KERNEL:
            try:
                h.run()
            except BaseException as e:
                self.native.handle_failed(h, e)
            h.fn = None
            h.args = None
            return 0
        if self.aio_slow or h.kind == KIND_ASYNCIO_THREADSAFE:
            return self.aio.run_handle_slow(h)
        try:
            h.run()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.aio.handle_failed(h, exc)
        return 0

    def stats(self):
        """Counts for tests: ready items, live timers, fd waiters."""
        return {"ready": self.ready.count(), "timers": self.timers.live(),
                "fds": self.poller.nwaiters if self.poller is not None else 0}
