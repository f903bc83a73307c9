# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Structured concurrency: TaskGroup, timeout / timeout_at, gather, wait_for, shield.

These follow asyncio (3.13) closely, including how cancellations are
counted (``Task.cancelling()`` / ``uncancel()``), so that nested timeouts,
task groups inside timeouts and the reverse behave as they do there: the
outer timeout wins when both expire, and a CancelledError that came from
elsewhere is never turned into a TimeoutError. Where asyncio waits on a
future, these park on a PARK trap answered by a done-callback.
"""
cimport cython
from yieldloop.core._traps cimport Trap, make_trap, trap_done, TRAP_PARK
from yieldloop.core._handles cimport Handle
from yieldloop.native._task cimport (
    Task, is_cancelled_error, new_cancelled_error, as_awaitable, logger)
from yieldloop.native._traphost cimport wake
from yieldloop.native._kernel cimport Kernel
from yieldloop.native._api cimport need_kernel, spawn_task, kernel_time

import sys

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup, ExceptionGroup
else:
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


cdef Trap _parked(str label):
    """A PARK trap outside any wait list, woken by a done-callback; ``label``
    says what for (traces, reprs)."""
    cdef Trap t = make_trap(TRAP_PARK)
    t.arg = label
    return t


# --- TaskGroup

# The docstring line "Name(sig)\n--\n" is the signature CPython gives a C type
# (and a slot like __init__) for help() and inspect.signature().
cdef class TaskGroup:
    """TaskGroup()\n--\n
    Run child tasks and wait for all of them at the end of the block.

    If a child fails, the others and the body are cancelled, and the
    errors come out together as an ExceptionGroup (``except*`` catches
    them).

        async with yieldloop.TaskGroup() as tg:
            tg.spawn(fetch, "a")
            tg.spawn(fetch, "b")
        # both are done here
    """
    cdef bint _entered, _exiting, _aborting, _parent_cancel_requested
    cdef Kernel _kernel
    cdef Task _parent_task
    cdef set _tasks
    cdef list _errors
    cdef object _base_error
    cdef Trap _on_completed

    def __init__(self):
        """__init__($self, /)\n--\n
        See help(TaskGroup)."""
        self._tasks = set()
        self._errors = []

    def __repr__(self):
        info = [""]
        if self._tasks:
            info.append("tasks=%d" % len(self._tasks))
        if self._errors:
            info.append("errors=%d" % len(self._errors))
        if self._aborting:
            info.append("cancelling")
        elif self._entered:
            info.append("entered")
        return "<TaskGroup%s>" % " ".join(info)

    async def __aenter__(self):
        if self._entered:
            raise RuntimeError("TaskGroup %r has already been entered" % self)
        self._kernel = need_kernel("TaskGroup")
        self._parent_task = self._kernel._current
        if self._parent_task is None:
            raise RuntimeError("TaskGroup %r cannot determine the parent task" % self)
        self._entered = True
        return self

    async def __aexit__(self, et, exc, tb):
        self._exiting = True
        if exc is not None and _is_base_error(exc) and self._base_error is None:
            self._base_error = exc
        propagate_cancellation_error = exc if et is not None and is_cancelled_error(exc) else None
        if et is not None and not self._aborting:
            self._abort()
        while self._tasks:
            if self._on_completed is None:
                self._on_completed = _parked("TaskGroup exit")
            try:
                await self._on_completed
            except BaseException as ex:
                if not is_cancelled_error(ex):
                    raise
                if not self._aborting:
                    propagate_cancellation_error = ex
                    self._abort()
            self._on_completed = None
        if self._base_error is not None:
            raise self._base_error
        if self._parent_cancel_requested:
            if self._parent_task.uncancel() == 0:
                # Our own cancel() of the parent is consumed: do not leak it.
                propagate_cancellation_error = None
        if propagate_cancellation_error is not None and not self._errors:
            raise propagate_cancellation_error
        if et is not None and not is_cancelled_error(exc):
            self._errors.append(exc)
        if self._errors:
            if self._parent_task.cancelling():
                self._parent_task.uncancel()
                self._parent_task.cancel()
            try:
                raise BaseExceptionGroup("unhandled errors in a TaskGroup", self._errors) from None
            finally:
                self._errors = None

    def spawn(self, coro, *args, name=None):
        """Start a child task running ``coro`` (a coroutine or generator, or
        a function called with ``args``); return its Task."""
        if args or (callable(coro) and not hasattr(coro, "__await__")):
            coro = coro(*args)
        return self.create_task(coro, name=name)

    def create_task(self, coro, *, name=None, context=None):
        """asyncio's spelling of spawn()."""
        cdef Task task
        if not self._entered:
            _close(coro)
            raise RuntimeError("TaskGroup %r has not been entered" % self)
        if self._exiting and not self._tasks:
            _close(coro)
            raise RuntimeError("TaskGroup %r is finished" % self)
        if self._aborting:
            _close(coro)
            raise RuntimeError("TaskGroup %r is shutting down" % self)
        task = spawn_task(self._kernel, coro, name, context)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)
        return task

    cdef _abort(self):
        self._aborting = True
        for t in self._tasks:
            if not t.done():
                t.cancel()

    def _on_task_done(self, Task task):
        self._tasks.discard(task)
        if self._on_completed is not None and not self._tasks:
            wake(self._on_completed, True, None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self._errors.append(exc)
        if _is_base_error(exc) and self._base_error is None:
            self._base_error = exc
        if self._parent_task.done():
            logger().error(
                "Task %r has errored out but its parent task %r is already completed",
                task, self._parent_task, exc_info=exc)
            return
        if not self._aborting and not self._parent_cancel_requested:
            # Cancel the siblings and the body; __aexit__ collects the errors.
            self._abort()
            self._parent_cancel_requested = True
            self._parent_task.cancel()


cdef bint _is_base_error(object exc):
    return isinstance(exc, (SystemExit, KeyboardInterrupt))


cdef _close(object coro):
    close = getattr(coro, "close", None)
    if close is not None:
        close()


# --- timeouts

cdef enum TimeoutState:
    CREATED
    ENTERED
    EXPIRING
    EXPIRED
    EXITED

cdef tuple _STATE_NAMES = ("created", "active", "expiring", "expired", "finished")


@cython.final
cdef class Timeout:
    """Timeout(when)\n--\n
    An async context manager that cancels its task at a deadline and
    turns that cancellation into TimeoutError. Made by timeout() and
    timeout_at()."""
    cdef TimeoutState _state
    cdef object _when
    cdef Handle _handler
    cdef Task _task
    cdef int _cancelling

    def __init__(self, when):
        """__init__($self, /, when)\n--\n
        See help(Timeout)."""
        self._state = CREATED
        self._when = when

    def when(self):
        """The deadline on yieldloop.time()'s clock, or None."""
        return self._when

    def reschedule(self, when):
        """Move the deadline (None: no deadline)."""
        cdef Kernel k
        if self._state != ENTERED:
            if self._state == CREATED:
                raise RuntimeError("Timeout has not been entered")
            raise RuntimeError("Cannot change state of %s Timeout" % _STATE_NAMES[self._state])
        self._when = when
        if self._handler is not None:
            self._handler.cancel()
        if when is None:
            self._handler = None
        else:
            k = need_kernel("Timeout.reschedule()")
            if when <= k._now():
                self._handler = k._call_soon(self._on_timeout, (), None)
            else:
                self._handler = k._call_at(when, self._on_timeout, (), None)

    def expired(self):
        """True if the deadline passed while the block ran."""
        return self._state == EXPIRING or self._state == EXPIRED

    def __repr__(self):
        info = [_STATE_NAMES[self._state]]
        if self._state == ENTERED:
            info.append("when=%s" % (None if self._when is None else "%.3f" % self._when))
        return "<Timeout [%s]>" % " ".join(info)

    async def __aenter__(self):
        if self._state != CREATED:
            raise RuntimeError("Timeout has already been entered")
        task = need_kernel("timeout()")._current
        if task is None:
            raise RuntimeError("Timeout should be used inside a task")
        self._state = ENTERED
        self._task = task
        self._cancelling = self._task.cancelling()
        self.reschedule(self._when)
        return self

    async def __aexit__(self, exc_type, exc_val, exc_tb):
        if self._handler is not None:
            self._handler.cancel()
            self._handler = None
        if self._state == EXPIRING:
            self._state = EXPIRED
            if self._task.uncancel() <= self._cancelling and exc_type is not None:
                # No newer cancel() than ours: this cancellation is ours.
                if is_cancelled_error(exc_val):
                    raise TimeoutError from exc_val
                elif exc_val is not None:
                    _insert_timeout_error(exc_val)
                    if isinstance(exc_val, ExceptionGroup):
                        for e in exc_val.exceptions:
                            _insert_timeout_error(e)
        elif self._state == ENTERED:
            self._state = EXITED
        return None

    def _on_timeout(self):
        self._task.cancel()
        self._state = EXPIRING
        self._handler = None


cdef _insert_timeout_error(exc_val):
    while exc_val.__context__ is not None:
        if is_cancelled_error(exc_val.__context__):
            te = TimeoutError()
            te.__context__ = te.__cause__ = exc_val.__context__
            exc_val.__context__ = te
            break
        exc_val = exc_val.__context__


def timeout(delay):
    """``async with timeout(seconds):`` — TimeoutError if the block takes
    longer. ``None`` means no limit (reschedule() may set one later).

        async with yieldloop.timeout(2.0):
            data = await fetch()
    """
    return Timeout(None if delay is None else kernel_time() + delay)


def timeout_at(when):
    """Like timeout(), with an absolute deadline on yieldloop.time()'s clock."""
    return Timeout(when)


async def wait_for(aw, timeout):
    """Await ``aw``, but at most ``timeout`` seconds (None: no limit);
    TimeoutError if it takes longer, and ``aw`` is cancelled."""
    cdef Task task
    if timeout is not None and timeout <= 0:
        task = aw if isinstance(aw, Task) else spawn_task(need_kernel("wait_for()"), aw, None)
        if task.done():
            return task.result()
        task.cancel()
        await _join_ignoring_result(task)
        try:
            return task.result()
        except BaseException as exc:
            if is_cancelled_error(exc):
                raise TimeoutError from exc
            raise
    async with Timeout(None if timeout is None else kernel_time() + timeout):
        return await as_awaitable(aw)


async def _join_ignoring_result(Task task):
    cdef Trap trap
    if task.done():
        return
    trap = _parked("wait_for() cleanup")
    task.add_done_callback(lambda t: wake(trap, None, None))
    await trap


def shield(aw):
    """Protect ``aw`` from the cancellation of the task awaiting it: the
    awaiting task gets CancelledError, ``aw`` goes on in its own task.

    Returns a Task (``aw`` itself if it is one): joining a task never
    cancels it, which is all shield needs.
    """
    if isinstance(aw, Task):
        return aw
    return spawn_task(need_kernel("shield()"), aw, None)


# --- gather

@cython.final
cdef class Gathering:
    """The awaitable gather() returns: its children already run; awaiting
    it gives their results in order. ``cancel()`` cancels the children."""
    cdef list _children
    cdef bint _return_exceptions
    cdef bint _cancel_requested

    def __await__(self):
        return _gather_wait(self, self._children, self._return_exceptions).__await__()

    def __iter__(self):
        return self.__await__()

    def cancel(self, msg=None):
        """Cancel every child not yet done; True if one was."""
        ret = False
        for child in self._children:
            if child.cancel(msg):
                ret = True
        if ret:
            self._cancel_requested = True
        return ret

    def done(self):
        """True when every child is done."""
        return all(child.done() for child in self._children)


def gather(*aws, return_exceptions=False):
    """Run awaitables concurrently and collect their results, in order.

    Coroutines and generators are started as tasks right away. With
    ``return_exceptions=False`` the first exception is raised (the others
    keep running); with True, exceptions are returned in the results.
    Cancelling the task awaiting the gather cancels the children.

        a, b = await yieldloop.gather(fetch("a"), fetch("b"))
    """
    cdef Gathering g = Gathering.__new__(Gathering)
    cdef dict seen = {}
    cdef Kernel k
    g._return_exceptions = return_exceptions
    g._children = []
    if aws:
        k = need_kernel("gather()")
        for aw in aws:
            child = seen.get(id(aw))
            if child is None:
                child = aw if isinstance(aw, Task) else spawn_task(k, aw, None)
                seen[id(aw)] = child
            g._children.append(child)
    return g


async def _gather_wait(Gathering g, list children, bint return_exceptions):
    cdef Trap trap
    cdef Py_ssize_t remaining = len(children)
    first_error = []
    if not children:
        return []
    trap = _parked("gather()")

    def on_done(Task child):
        nonlocal remaining
        remaining -= 1
        if not child.cancelled():
            child.exception()           # mark it retrieved, as asyncio does
        failed = child.cancelled() or child.exception() is not None
        if failed and not return_exceptions and not first_error:
            first_error.append(child)
            wake(trap, None, None)
        elif remaining == 0:
            wake(trap, None, None)

    for child in children:
        child.add_done_callback(on_done)
    try:
        await trap
    except BaseException as e:
        if not is_cancelled_error(e):
            raise
        # The awaiting task is cancelled: cancel the children and wait until
        # they are all done (on_done wakes the newest trap; waking early
        # just loops).
        g.cancel()
        while remaining:
            trap = _parked("gather() cleanup")
            try:
                await trap
            except BaseException as again:
                if not is_cancelled_error(again):
                    raise
                g.cancel()
        raise
    if first_error:
        child = first_error[0]
        if child.cancelled():
            raise new_cancelled_error(None)
        raise child.exception()
    if g._cancel_requested:
        raise new_cancelled_error(None)
    results = []
    for child in children:
        if child.cancelled():
            results.append(new_cancelled_error(None))
        elif child.exception() is not None:
            results.append(child.exception())
        else:
            results.append(child.result())
    return results
