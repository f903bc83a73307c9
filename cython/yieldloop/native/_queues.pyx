# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Queue, LifoQueue and PriorityQueue on the kernel's wait lists.

The algorithms are asyncio's (3.13, shutdown included): getters and
putters wait FIFO in a WaitList each; a woken waiter re-checks the queue,
and one that leaves by an exception after being woken passes the wake-up
on, so a cancelled get() or put() never loses an item or a free slot.

``_init``, ``_get`` and ``_put`` are cpdef methods: a Python subclass can
override them to change the container, as with asyncio's queues.
"""
cimport cython
from yieldloop.core._traps cimport Trap, trap_done
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._traphost cimport wake, discard
from yieldloop.native._sync cimport Event

from collections import deque
from heapq import heappop, heappush
from types import GenericAlias


class QueueEmpty(Exception):
    """get_nowait() on an empty queue."""


class QueueFull(Exception):
    """put_nowait() on a full queue."""


class QueueShutDown(Exception):
    """put() or get() on a queue that was shut down."""


# The docstring line "Name(sig)\n--\n" is the signature CPython gives a C type
# (and a slot like __init__) for help() and inspect.signature().
cdef class Queue:
    """Queue(maxsize=0)\n--\n
    A FIFO queue for tasks; ``maxsize <= 0`` means unbounded.

        q = yieldloop.Queue(maxsize=100)
        await q.put(item)           # waits while the queue is full
        item = await q.get()        # waits while it is empty
        q.task_done()               # lets q.join() return once all are done
    """
    def __cinit__(self, *args, **kwargs):
        self._getters = WaitList("Queue.get()")
        self._putters = WaitList("Queue.put()")
        self._finished = Event()
        self._finished.set()

    def __init__(self, maxsize=0):
        """__init__($self, /, maxsize=0)\n--\n
        See help(Queue)."""
        self._maxsize = maxsize
        self._init(maxsize)

    cpdef _init(self, maxsize):
        self._queue = deque()

    cpdef _get(self):
        return self._queue.popleft()

    cpdef _put(self, item):
        self._queue.append(item)

    cdef _wakeup_next(self, WaitList waiters):
        cdef Trap t
        while waiters:
            t = waiters.pop_first()
            if not trap_done(t):
                wake(t, None, None)
                break

    def qsize(self):
        """Number of items in the queue."""
        return len(self._queue)

    @property
    def maxsize(self):
        """The most items the queue holds (0: no limit)."""
        return self._maxsize

    def empty(self):
        """True if the queue holds no item."""
        return not self._queue

    def full(self):
        """True if put() would wait."""
        return self._maxsize > 0 and len(self._queue) >= self._maxsize

    async def put(self, item):
        """Put ``item``, waiting while the queue is full."""
        cdef Trap putter
        while self.full():
            if self._is_shutdown:
                raise QueueShutDown
            putter = self._putters.park()
            try:
                await putter
            except:
                discard(putter)
                self._putters.remove(putter)
                if not self.full() and not putter.cancelled:
                    # We were woken for a free slot but leave: pass it on.
                    self._wakeup_next(self._putters)
                raise
        return self.put_nowait(item)

    def put_nowait(self, item):
        """Put ``item`` now; QueueFull if there is no room."""
        if self._is_shutdown:
            raise QueueShutDown
        if self.full():
            raise QueueFull
        self._put(item)
        self._unfinished_tasks += 1
        self._finished.clear()
        self._wakeup_next(self._getters)

    async def get(self):
        """Remove and return an item, waiting while the queue is empty."""
        cdef Trap getter
        while self.empty():
            if self._is_shutdown and self.empty():
                raise QueueShutDown
            getter = self._getters.park()
            try:
                await getter
            except:
                discard(getter)
                self._getters.remove(getter)
                if not self.empty() and not getter.cancelled:
                    # We were woken for an item but leave: pass it on.
                    self._wakeup_next(self._getters)
                raise
        return self.get_nowait()

    def get_nowait(self):
        """Remove and return an item now; QueueEmpty if there is none."""
        if self.empty():
            if self._is_shutdown:
                raise QueueShutDown
            raise QueueEmpty
        item = self._get()
        self._wakeup_next(self._putters)
        return item

    def task_done(self):
        """Mark one item got earlier as processed (see join())."""
        if self._unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished_tasks -= 1
        if self._unfinished_tasks == 0:
            self._finished.set()

    async def join(self):
        """Wait until every item put has been got and marked task_done()."""
        if self._unfinished_tasks > 0:
            await self._finished.wait()

    def shutdown(self, immediate=False):
        """Shut the queue down: put() raises QueueShutDown from now on, and
        get() does once the queue is empty (at once if ``immediate``, which
        also drops the items left). Waiting tasks are woken."""
        cdef Trap t
        self._is_shutdown = True
        if immediate:
            while not self.empty():
                self._get()
                if self._unfinished_tasks > 0:
                    self._unfinished_tasks -= 1
            if self._unfinished_tasks == 0:
                self._finished.set()
        for waiters in (self._getters, self._putters):
            while waiters:
                t = (<WaitList>waiters).pop_first()
                if not trap_done(t):
                    wake(t, None, None)

    @classmethod
    def __class_getitem__(cls, item):
        return GenericAlias(cls, item)

    def _format(self):
        result = "maxsize=%r" % (self._maxsize,)
        if self._queue:
            result += " _queue=%r" % (list(self._queue),)
        if self._getters:
            result += " _getters[%d]" % len(self._getters)
        if self._putters:
            result += " _putters[%d]" % len(self._putters)
        if self._unfinished_tasks:
            result += " tasks=%d" % self._unfinished_tasks
        if self._is_shutdown:
            result += " shutdown"
        return result

    def __repr__(self):
        return "<%s at %#x %s>" % (type(self).__name__, id(self), self._format())


cdef class PriorityQueue(Queue):
    """A Queue that returns the smallest item first (heapq order)."""

    cpdef _init(self, maxsize):
        self._queue = []

    cpdef _put(self, item):
        heappush(self._queue, item)

    cpdef _get(self):
        return heappop(self._queue)


cdef class LifoQueue(Queue):
    """A Queue that returns the newest item first."""

    cpdef _init(self, maxsize):
        self._queue = []

    cpdef _put(self, item):
        self._queue.append(item)

    cpdef _get(self):
        return self._queue.pop()
