# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Event, Lock, Semaphore, BoundedSemaphore and Condition on the kernel's wait lists.

Each primitive follows the algorithm of its asyncio namesake (3.13) step by
step, with a PARK trap in a WaitList where asyncio has a future in a deque,
so they behave the same way: the same fairness (FIFO; a woken waiter keeps
its place until it runs) and the same guarantees under cancellation (a task
cancelled while waiting never leaves a lock held or loses a wake-up).

Their coroutine methods are compiled as iterable coroutines, so they work
as ``await lock.acquire()``, ``yield from lock.acquire()`` and
``yield lock.acquire()`` alike.
"""
cimport cython
from yieldloop.core._traps cimport Trap, trap_done, ready_trap
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._task cimport is_cancelled_error
from yieldloop.native._traphost cimport wake


cdef bint _any_live(WaitList waiters):
    """True if a waiter in the list is not cancelled (asyncio: any(not w.cancelled()))."""
    cdef Trap t = waiters.first()
    while t is not None:
        if not t.cancelled:
            return True
        t = waiters.next_after(t)
    return False


# The docstring line "Name(sig)\n--\n" is the signature CPython gives a C type
# (and a slot like __init__) for help() and inspect.signature().
@cython.final
cdef class Event:
    """Event()\n--\n
    A flag tasks can wait for: ``set()`` wakes every waiter.

        ready = yieldloop.Event()
        ...
        await ready.wait()      # in one task
        ready.set()             # in another
    """

    def __cinit__(self):
        self._waiters = WaitList("Event.wait()")

    def is_set(self):
        """True if the flag is set."""
        return self._value

    def set(self):
        """Set the flag and wake every waiting task."""
        cdef Trap t
        if not self._value:
            self._value = True
            t = self._waiters.first()
            while t is not None:
                if not trap_done(t):
                    wake(t, True, None)
                t = self._waiters.next_after(t)

    def clear(self):
        """Reset the flag; later wait() calls block until set() again."""
        self._value = False

    async def wait(self):
        """Wait until the flag is set; return True."""
        cdef Trap trap
        if self._value:
            return True
        trap = self._waiters.park()
        try:
            await trap
            return True
        finally:
            self._waiters.remove(trap)

    def __repr__(self):
        extra = "set" if self._value else "unset"
        if self._waiters:
            extra = "%s, waiters:%d" % (extra, len(self._waiters))
        return "<yieldloop.Event [%s]>" % extra


@cython.final
cdef class Lock:
    """Lock()\n--\n
    A mutual-exclusion lock, FIFO-fair; use ``async with lock:``.

        async with lock:
            balance += amount
    """

    def __cinit__(self):
        self._waiters = WaitList("Lock.acquire()")

    def locked(self):
        """True if the lock is held."""
        return self._locked

    async def acquire(self):
        """Wait until the lock is free, take it, return True."""
        cdef Trap trap
        if not self._locked and not _any_live(self._waiters):
            self._locked = True
            return True
        trap = self._waiters.park()
        try:
            try:
                await trap
            finally:
                self._waiters.remove(trap)
        except BaseException as e:
            if is_cancelled_error(e) and not self._locked:
                # We may have been the one woken: pass the turn on.
                self._wake_up_first()
            raise
        self._locked = True
        return True

    def release(self):
        """Free the lock and let the first waiter take it; RuntimeError if
        it is not held."""
        if self._locked:
            self._locked = False
            self._wake_up_first()
        else:
            raise RuntimeError("Lock is not acquired.")

    cdef _wake_up_first(self):
        cdef Trap t = self._waiters.first()
        if t is not None and not trap_done(t):
            wake(t, True, None)

    async def __aenter__(self):
        await self.acquire()

    def __aexit__(self, exc_type, exc, tb):
        self.release()
        return ready_trap(None)

    def __repr__(self):
        extra = "locked" if self._locked else "unlocked"
        if self._waiters:
            extra = "%s, waiters:%d" % (extra, len(self._waiters))
        return "<yieldloop.Lock [%s]>" % extra


cdef class Semaphore:
    """Semaphore(value=1)\n--\n
    A counter of free slots: ``acquire()`` takes one (waiting while none
    is free, FIFO), ``release()`` gives one back.

        async with limit:           # limit = yieldloop.Semaphore(10)
            await fetch(url)
    """

    def __cinit__(self, *args, **kwargs):
        self._waiters = WaitList("Semaphore.acquire()")

    def __init__(self, value=1):
        """__init__($self, /, value=1)\n--\n
        See help(Semaphore)."""
        if value < 0:
            raise ValueError("Semaphore initial value must be >= 0")
        self._value = value

    def locked(self):
        """True if acquire() would wait."""
        return self._value == 0 or _any_live(self._waiters)

    async def acquire(self):
        """Take a slot, waiting for one if none is free; return True."""
        cdef Trap trap
        if not (self._value == 0 or _any_live(self._waiters)):
            self._value -= 1
            return True
        trap = self._waiters.park()
        try:
            try:
                await trap
            finally:
                self._waiters.remove(trap)
        except BaseException as e:
            if is_cancelled_error(e) and trap_done(trap) and not trap.cancelled:
                # A slot was handed to us, but we will not use it.
                self._value += 1
            raise
        finally:
            # New waiters may have queued behind us: wake as many as fit.
            while self._value > 0:
                if not self._wake_up_next():
                    break
        return True

    def release(self):
        """Give a slot back and wake the first waiter."""
        self._value += 1
        self._wake_up_next()

    cdef bint _wake_up_next(self):
        cdef Trap t = self._waiters.first()
        while t is not None:
            if not trap_done(t):
                self._value -= 1
                wake(t, True, None)
                return True
            t = self._waiters.next_after(t)
        return False

    async def __aenter__(self):
        await self.acquire()

    def __aexit__(self, exc_type, exc, tb):
        self.release()
        return ready_trap(None)

    def __repr__(self):
        extra = "locked" if self.locked() else "unlocked, value:%d" % self._value
        if self._waiters:
            extra = "%s, waiters:%d" % (extra, len(self._waiters))
        return "<yieldloop.%s [%s]>" % (type(self).__name__, extra)


cdef class BoundedSemaphore(Semaphore):
    """BoundedSemaphore(value=1)\n--\n
    A Semaphore whose release() refuses to go above the initial value."""

    def __init__(self, value=1):
        """__init__($self, /, value=1)\n--\n
        See help(BoundedSemaphore)."""
        self._bound_value = value
        super().__init__(value)

    def release(self):
        """Give a slot back; ValueError if more are released than acquired."""
        if self._value >= self._bound_value:
            raise ValueError("BoundedSemaphore released too many times")
        Semaphore.release(self)


@cython.final
cdef class Condition:
    """Condition(lock=None)\n--\n
    A Lock plus a wait list: wait() releases the lock until notify().

        async with cond:
            await cond.wait_for(lambda: queue)
            item = queue.pop()
    """

    def __cinit__(self, *args, **kwargs):
        self._waiters = WaitList("Condition.wait()")

    def __init__(self, lock=None):
        """__init__($self, /, lock=None)\n--\n
        See help(Condition)."""
        self._lock = Lock() if lock is None else lock

    def locked(self):
        """True if the underlying lock is held."""
        return self._lock.locked()

    def acquire(self):
        """Acquire the underlying lock (awaitable)."""
        return self._lock.acquire()

    def release(self):
        """Release the underlying lock."""
        return self._lock.release()

    async def wait(self):
        """Release the lock, wait for notify(), re-acquire the lock, return
        True. The lock is re-acquired even if the wait is cancelled."""
        cdef Trap trap
        if not self._lock.locked():
            raise RuntimeError("cannot wait on un-acquired lock")
        self._lock.release()
        try:
            try:
                trap = self._waiters.park()
                try:
                    await trap
                    return True
                finally:
                    self._waiters.remove(trap)
            finally:
                # Must re-acquire the lock even if the wait is cancelled.
                err = None
                while True:
                    try:
                        await self._lock.acquire()
                        break
                    except BaseException as e:
                        if not is_cancelled_error(e):
                            raise
                        err = e
                if err is not None:
                    try:
                        raise err
                    finally:
                        err = None
        except BaseException:
            # If we were notified but are leaving, wake someone else instead.
            self._notify(1)
            raise

    async def wait_for(self, predicate):
        """Wait until ``predicate()`` is true; return its value."""
        result = predicate()
        while not result:
            await self.wait()
            result = predicate()
        return result

    def notify(self, n=1):
        """Wake up to ``n`` waiters; the lock must be held."""
        if not self._lock.locked():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._notify(n)

    def notify_all(self):
        """Wake every waiter; the lock must be held."""
        self.notify(len(self._waiters))

    cdef _notify(self, Py_ssize_t n):
        cdef Py_ssize_t idx = 0
        cdef Trap t = self._waiters.first()
        while t is not None and idx < n:
            if not trap_done(t):
                idx += 1
                wake(t, False, None)
            t = self._waiters.next_after(t)

    async def __aenter__(self):
        await self._lock.acquire()

    def __aexit__(self, exc_type, exc, tb):
        self._lock.release()
        return ready_trap(None)

    def __repr__(self):
        extra = "locked" if self.locked() else "unlocked"
        if self._waiters:
            extra = "%s, waiters:%d" % (extra, len(self._waiters))
        return "<yieldloop.Condition [%s]>" % extra
