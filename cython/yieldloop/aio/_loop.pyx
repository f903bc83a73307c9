# cython: language_level=3, boundscheck=False, wraparound=False
"""The Cython half of yieldloop.Loop, the asyncio event loop: callbacks,
timers, fd callbacks, tasks and futures, run by the scheduler core
(_core.pyx) that the native kernel runs on too: one ready queue, timer heap,
poller, thread inbox and wake-up pipe, one run-once.

yieldloop.Loop is ``class Loop(LoopCore, <asyncio's Unix event loop>)``:
LoopCore comes first in the method order, so everything that schedules or
waits (call_soon, call_at, call_later, call_soon_threadsafe, the fd reader
and writer hooks, create_task, create_future, run_forever, stop, close)
runs here, in C data structures, while asyncio's Python code for the rest
(servers and connections built on the fd hooks, subprocesses, signals,
executors, the exception handler) runs on top of it unchanged. Tasks and
futures are yieldloop's own (_aiotask.pyx, _aiofuture.pyx).

Differences from the native kernel: fd callbacks are persistent (asyncio's
semantics: a reader runs each time the fd is readable, until removed), and
a callback runs in a copy of the context it was scheduled from; a failing
callback goes to asyncio's exception handler, SystemExit and
KeyboardInterrupt propagate out of run_forever (the core calls back for
those: step, handle_failed, run_handle_slow).

The self-pipe: asyncio's selector loop makes a socket pair to be woken by
other threads and signals. This loop has none: the core's wake-up pipe is
the one (``_csock`` stands for its write end, for asyncio's
add_signal_handler), and the signal numbers it carries reach asyncio's
``_process_self_data`` as its self-pipe reader would hand them over.

Invariants: the ready queue holds Handles and Tasks (a task queued for its
next step); a Handle is in at most one of: the ready queue, the timer heap,
a poller slot; ``_closed_c`` mirrors asyncio's ``_closed`` for the fast
paths.
"""
cimport cython
from yieldloop.aio._loopbase cimport LoopBase, push_ready
from yieldloop.native._kernel cimport Kernel
from yieldloop.aio._aiofuture cimport new_future
from yieldloop.aio._aiotask cimport (
    Task, new_task, task_step_callable, run_ready_fn)
from yieldloop.aio._taskgc cimport show_queued_tasks
from yieldloop.aio._eagertask cimport is_eager_task_factory, create_eager_task
from yieldloop.core._timerheap cimport TimerHeap
from yieldloop.core._poller cimport Poller, YL_READ, YL_WRITE, YL_ERROR
from yieldloop.core._handles cimport (
    Handle, new_handle, KIND_ASYNCIO, KIND_ASYNCIO_TIMER, KIND_ASYNCIO_THREADSAFE)
from yieldloop.includes.capi cimport (
    yl_monotonic, PyContext_CopyCurrent, PyErr_CheckSignals, PyObject_GenericSetAttr)

from libc.math cimport INFINITY
from cpython.object cimport PyObject
from cpython.ref cimport Py_XDECREF

import sys
import threading
from _thread import RLock as _RLock

from asyncio import base_events, futures
from yieldloop._aio_private import (
    format_callback_source, format_handle, set_running_loop)

# Looked up once: asyncio's create_task, which calls the task factory, and
# asyncio's Future, for the tasks of such a factory.
cdef object _base_create_task = base_events.BaseEventLoop.create_task
cdef object _AioFuture = futures.Future
# 3.14+: create_task() takes eager_start= (and hands any keyword to a
# task factory).
cdef bint _PY314 = sys.version_info >= (3, 14)

cdef inline bint _own_eager(dict kwargs):
    """create_task()'s keywords are eager_start= alone, which our Task takes."""
    return _PY314 and len(kwargs) == 1 and "eager_start" in kwargs


cdef double MAXIMUM_SELECT_TIMEOUT = 24 * 3600.0


cdef int _fileno(object fileobj) except -1:
    """An fd from an int or an object with fileno() (selectors' rules)."""
    cdef object fd = fileobj
    if not isinstance(fileobj, int):
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError("Invalid file object: %r" % (fileobj,)) from None
    if fd < 0:
        raise ValueError("Invalid file descriptor: %d" % fd)
    return fd


# Task.run_ready() called without Cython's check of its result, which
# LoopCore.step makes itself: -1 means it failed, its exception set.
ctypedef int (*_unchecked_run)(Task) noexcept
cdef _unchecked_run _run_ready_unchecked = <_unchecked_run>run_ready_fn


cdef int _raise_pending() except -1:
    # Raise the exception already set (by an unchecked call that failed).
    return -1


cdef class LoopCore(LoopBase):
    """The Cython half of yieldloop.Loop (see the module docstring)."""

    def __cinit__(self, *args, **kwargs):
        self._time_overridden = type(self).time is not _core_time
        self._timers_c = self._sched.timers
        self._poller_c = self._sched.poller
        self._fileobjs = {}
        if self._time_overridden:
            self._sched.clock = self

    def __dealloc__(self):
        Py_XDECREF(self._rspare)
        self._rspare = NULL

    # --- scheduling

    def time(self):
        """The loop's clock: time.monotonic()'s."""
        return yl_monotonic()

    cdef double _now(self) except? -1.0:
        # loop.time() as asyncio's loop reads it (timers, timeouts): a time()
        # set on the instance or overridden by a subclass (test clocks) is
        # honoured; else the clock directly.
        if self._time_overridden or self._time_set:
            return self.time()
        return yl_monotonic()

    # Setting or deleting an attribute named "time" on the instance flips
    # _time_set, so that _now() needs no dict lookup on the fast path.
    def __setattr__(self, name, value):
        if name == "time":
            self._time_set = True
            self._sched.clock = self
        PyObject_GenericSetAttr(self, name, <PyObject*>value)

    def __delattr__(self, name):
        PyObject_GenericSetAttr(self, name, NULL)
        if name == "time":
            self._time_set = False
            if not self._time_overridden and self._sched.clock is self:
                self._sched.clock = None

    def call_soon(self, callback, *args, context=None):
        """Call ``callback(*args)`` in the next loop iteration."""
        cdef Handle h
        self._check_open()
        if self._debug_c:
            self._check_thread()
            self._check_callback(callback, "call_soon")
        if self._sched.inbox_pending:
            self._drain_inbox()       # keep one FIFO with call_soon_threadsafe
        h = self._handle(callback, args, context, KIND_ASYNCIO)
        self._ready_c.push(h)
        return h

    def _call_soon(self, callback, args, context):
        cdef Handle h = self._handle(callback, tuple(args), context, KIND_ASYNCIO)
        self._ready_c.push(h)
        return h

    def call_later(self, delay, callback, *args, context=None):
        """Call ``callback(*args)`` after ``delay`` seconds."""
        cdef Handle h
        if delay is None:
            raise TypeError("delay must not be None")
        if self._time_overridden or self._time_set:
            # A test clock may tell time in ints: when() gives back its sum.
            when = self.time() + delay
            h = self._schedule(when, callback, args, context)
            if type(when) is not float:
                h.extra = when
            return h
        return self._schedule(yl_monotonic() + delay, callback, args, context)

    def call_at(self, when, callback, *args, context=None):
        """Call ``callback(*args)`` at ``when`` on the loop's clock."""
        cdef Handle h
        if when is None:
            raise TypeError("when cannot be None")
        h = self._schedule(when, callback, args, context)
        if type(when) is not float:
            # asyncio's TimerHandle keeps `when` as given: an int stays one.
            h.extra = when
        return h

    cdef Handle _schedule(self, double when, callback, tuple args, context):
        cdef Handle h
        self._check_open()
        if self._debug_c:
            self._check_thread()
            self._check_callback(callback, "call_at")
        h = self._handle(callback, args, context, KIND_ASYNCIO_TIMER)
        h.timer.when = when
        self._timers_c.push(h, &h.timer)
        h.heap = self._timers_c
        return h

    def call_soon_threadsafe(self, callback, *args, context=None):
        """call_soon() from any thread: the loop is woken to run it."""
        cdef Handle h
        self._check_open()
        if self._debug_c:
            self._check_callback(callback, "call_soon_threadsafe")
        h = self._handle(callback, args, context, KIND_ASYNCIO_THREADSAFE)
        h.extra = _RLock()
        self._sched.inbox.append(h)
        self._sched.inbox_pending = True
        self._write_to_self()
        return h

    # --- the self-pipe: the core's wake-up pipe (see the module docstring)

    def _make_self_pipe(self):
        self._ssock = None
        self._csock = _WakeupEnd(self._poller_c.wakeup_fd)
        self._internal_fds += 1

    def _close_self_pipe(self):
        # The pipe is the core's: it closes with the poller (close()).
        self._ssock = None
        self._csock = None
        self._internal_fds -= 1

    def _write_to_self(self):
        self._poller_c.wakeup()

    # --- fd callbacks: asyncio's selector-loop hooks, persistent

    # `context` is asyncio's from 3.15 on (its transports pass theirs);
    # accepted on every version, as the signature must match the newest one.
    def _add_reader(self, fd, callback, *args, context=None):
        return self._watch(self._register_fileobj(fd), YL_READ, callback, args, context)

    def _add_writer(self, fd, callback, *args, context=None):
        return self._watch(self._register_fileobj(fd), YL_WRITE, callback, args, context)

    def _remove_reader(self, fd):
        if self._closed_c:
            return False
        return self._unwatch(self._lookup_fileobj(fd), YL_READ)

    def _remove_writer(self, fd):
        if self._closed_c:
            return False
        return self._unwatch(self._lookup_fileobj(fd), YL_WRITE)

    # asyncio's selector loop finds a registration by the object it was made
    # with (selectors map file objects to keys), so remove_reader(sock)
    # works after sock.close(), when sock.fileno() is -1. Objects other than
    # ints are remembered for that, per fd, while the fd has a callback.

    cdef int _register_fileobj(self, fileobj) except -1:
        cdef int fd = _fileno(fileobj)
        if type(fileobj) is not int:
            self._fileobjs[fd] = fileobj
        elif self._fileobjs:
            self._fileobjs.pop(fd, None)
        return fd

    cdef int _lookup_fileobj(self, fileobj) except -1:
        try:
            return _fileno(fileobj)
        except ValueError:
            for fd, obj in self._fileobjs.items():
                if obj is fileobj:
                    return fd
            raise

    cdef Handle _watch(self, int fd, int side, callback, tuple args, context):
        cdef Handle h
        cdef object old
        self._check_open()
        h = self._handle(callback, args, context, KIND_ASYNCIO)
        old = self._poller_c.unwatch(fd, side)
        if old is not None:
            (<Handle>old).cancel()
        self._poller_c.watch_mode(fd, side, h, None, True)
        return h

    cdef bint _unwatch(self, int fd, int side) except -1:
        cdef object old
        if self._closed_c:
            return False
        old = self._poller_c.unwatch(fd, side)
        if old is None:
            return False
        (<Handle>old).cancel()
        if self._fileobjs and self._poller_c.waiter(
                fd, YL_WRITE if side == YL_READ else YL_READ) is None:
            self._fileobjs.pop(fd, None)
        return True

    def _process_events(self, event_list):
        pass        # events are dispatched by the core's run-once

    def _add_callback(self, handle):
        # asyncio's own code (signal handlers, child watchers) hands the loop
        # asyncio Handles this way: queue them here, not in asyncio's deque.
        if type(handle) is Handle:
            if not (<Handle>handle).cancelled_:
                self._ready_c.push(handle)
        elif not handle._cancelled:
            self._ready_c.push(new_handle(_run_foreign, (handle,), None))

    # --- futures and tasks: yieldloop's own (_aiofuture.pyx, _aiotask.pyx)

    def create_future(self):
        """A new asyncio.Future attached to this loop: yieldloop's own, or
        asyncio's while a task factory of another kind is set."""
        factory = self._task_factory
        if factory is None or is_eager_task_factory(factory):
            return new_future(self)
        # Such a factory makes tasks of its own, asyncio's C Task as a rule,
        # which awaits asyncio's C Future without a Python call.
        return _AioFuture(loop=self)

    def create_task(self, coro, *, name=None, context=None, **kwargs):
        """Schedule ``coro`` as an asyncio.Task: yieldloop's own, or what
        the task factory makes if one is set. ``eager_start=True`` (3.14+)
        runs its first step now."""
        cdef Task t
        cdef bint eager = False
        factory = self._task_factory
        if factory is not None or (kwargs and not _own_eager(kwargs)):
            # Only what the caller gave: from 3.14 on asyncio hands these
            # keywords to the task factory as they are.
            if name is not None:
                kwargs["name"] = name
            if context is not None:
                kwargs["context"] = context
            if is_eager_task_factory(factory):
                return create_eager_task(self, coro, kwargs)
            return _base_create_task(self, coro, **kwargs)
        if kwargs:
            eager = kwargs["eager_start"]
        self._check_open()
        t = new_task(self, coro, name, context)
        t._start(eager)
        return t

    def get_debug(self):
        """True in asyncio's debug mode."""
        return self._debug_c

    def set_debug(self, enabled):
        """asyncio's debug mode: thread checks, slow-callback warnings,
        coroutine origin tracking."""
        super().set_debug(enabled)
        self._debug_c = bool(enabled)
        self._sched.aio_slow = self._debug_c

    # --- running

    def stop(self):
        """Stop after the current iteration (run_forever returns)."""
        self._stop_c = True
        self._stopping = True

    def run_forever(self):
        """Run until stop() is called."""
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        old_hooks = sys.get_asyncgen_hooks()
        self._thread_id = threading.get_ident()
        sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                               finalizer=self._asyncgen_finalizer_hook)
        set_running_loop(self)
        self._gc_hide_c = True
        try:
            while True:
                self._sched.run_once(self._stop_c)
                if self._stop_c:
                    break
        finally:
            self._gc_hide_c = False
            show_queued_tasks(self._ready_c)
            self._stop_c = False
            self._stopping = False
            self._thread_id = None
            set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_hooks)

    def _run_once(self):
        self._sched.run_once(self._stop_c)

    # --- what the core calls back (FrontEnd, see _core.pxd)

    cdef int step(self, object task) except -1:
        # A task queued itself (_aiotask.pyx): its next step. A try/except
        # saves and restores the thread's handled exception on entry (about
        # 20 instructions of a switch's 4,200): the call is made unchecked,
        # and only a failed one goes into the try.
        if _run_ready_unchecked(<Task>task) == 0:
            return 0
        try:
            _raise_pending()
        except (SystemExit, KeyboardInterrupt):
            (<Task>task).step_failed()
            raise
        except BaseException as exc:
            (<Task>task).step_failed()
            # As asyncio reports an error of a task's step callback.
            self._report_callback_error(
                self._handle(task_step_callable(task), (), (<Task>task)._context_v,
                             KIND_ASYNCIO), exc)
        return 0

    cdef int handle_failed(self, Handle h, object exc) except -1:
        self._report_callback_error(h, exc)
        return 0

    cdef int run_handle_slow(self, Handle h) except -1:
        if self._debug_c:
            return self._run_debug(h)
        return self._run_handle(h)

    cdef double clock_now(self) except? -1.0:
        return self._now()

    cdef int wait_for_timer(self, double deadline) except -1:
        cdef double timeout = deadline - self._now()
        return self._sched.poll(
            0.0 if timeout < 0.0 else MAXIMUM_SELECT_TIMEOUT if timeout > MAXIMUM_SELECT_TIMEOUT
            else timeout)

    cdef int signals_arrived(self, object data) except -1:
        # As asyncio's self-pipe reader: the signals' handlers are looked
        # up by _process_self_data when this handle runs.
        self._ready_c.push(self._handle(self._process_self_data, (data,), None, KIND_ASYNCIO))
        return 0

    cdef int _run_handle(self, Handle h) except -1:
        if h.kind == KIND_ASYNCIO_THREADSAFE:
            return self._run_locked(h)
        try:
            h.run()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report_callback_error(h, exc)
        return 0

    cdef int _run_locked(self, Handle h) except -1:
        # A call_soon_threadsafe() handle (asyncio's _ThreadSafeHandle._run):
        # its lock held while the callback runs, so that cancel() from
        # another thread waits for it to end; one that got in first, after
        # _run_once's check, keeps it from running.
        lock = h.extra
        lock.acquire()
        try:
            if h.cancelled_:
                return 0
            try:
                h.run()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._report_callback_error(h, exc)
        finally:
            lock.release()
        return 0

    cdef _report_callback_error(self, Handle h, exc):
        # asyncio's Handle._run: the callback as it stands now (None if it
        # cancelled its own handle).
        context = {
            "message": "Exception in callback "
            + format_callback_source(h.fn, h.args, self._debug_c),
            "exception": exc,
            "handle": h,
        }
        if h.source_traceback:
            context["source_traceback"] = h.source_traceback
        self.call_exception_handler(context)

    cdef int _run_debug(self, Handle h) except -1:
        cdef double t0 = self._now(), dt
        self._current_handle = h
        try:
            self._run_handle(h)
            dt = self._now() - t0
            if dt >= self.slow_callback_duration:
                # asyncio's own logger, looked up now (tests patch it).
                base_events.logger.warning(
                    "Executing %s took %.3f seconds", format_handle(h), dt)
        finally:
            self._current_handle = None
        return 0

    # --- signals: asyncio's handlers, read from the core's wake-up pipe

    def add_signal_handler(self, sig, callback, *args):
        """Call ``callback(*args)`` when signal ``sig`` arrives (main thread)."""
        super().add_signal_handler(sig, callback, *args)
        # The signal numbers come through the wake-up pipe: poll it in every
        # iteration, even when tasks are ready and no fd has a waiter.
        self._sched.busy_poll = True

    def remove_signal_handler(self, sig):
        """Remove the handler of ``sig``; True if there was one."""
        removed = super().remove_signal_handler(sig)
        self._sched.busy_poll = bool(self._signal_handlers)
        return removed

    def close(self):
        """Close the loop: asyncio's own closing, then the core's queues,
        timers and poller (and the native tasks asyncio code spawned)."""
        super().close()
        if self.is_closed() and not self._closed_c:
            self._closed_c = True
            native = self._sched.native
            if native is not None and (<Kernel>native)._guest:
                # Native tasks still alive are let go, as a kernel stopped
                # hard lets go of its own (Kernel._release).
                (<Kernel>native)._inbox_open = False    # its call_soon_threadsafe() refuses now
                (<Kernel>native)._release()
                (<Kernel>native)._aio = None
            self._sched.close()
            self._fileobjs.clear()
            Py_XDECREF(self._rspare)
            self._rspare = NULL
            # No cycle left between the core and the loop.
            self._sched.aio = None
            if self._sched.clock is self:
                self._sched.clock = None

    @property
    def _core(self):
        """The scheduler core the loop runs on (yieldloop.core._core.Core)."""
        return self._sched

    @property
    def _core_stats(self):
        """Counts for tests: ready handles, live timers, fd callbacks."""
        return self._sched.stats()

    def _selector_view(self):
        """What asyncio's code may ask of ``loop._selector`` (_selector.pyx)."""
        from yieldloop.aio._selector import _PollerSelector
        return _PollerSelector(self)


cdef object _core_time = LoopCore.time


class _WakeupEnd:
    """``loop._csock`` for asyncio's code: the write end of the core's
    wake-up pipe (add_signal_handler points signal.set_wakeup_fd at it)."""

    __slots__ = ("_fd",)

    def __init__(self, fd):
        self._fd = fd

    def fileno(self):
        """The pipe's write end (-1 once the loop is closed)."""
        return self._fd

    def close(self):
        """The pipe belongs to the core: nothing to do."""


def _run_foreign(handle):
    """Run an asyncio Handle (it reports its own errors) unless cancelled."""
    if not handle._cancelled:
        handle._run()
