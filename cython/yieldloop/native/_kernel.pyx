# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The kernel: Task, the run loop, and what it does with each yielded value.

A task is resumed with PyIter_Send on the iterator it runs (a coroutine, a
generator, or the iterator of an awaitable). What comes back decides what
happens next:

- ``None`` (a bare ``yield``): the task goes to the back of the ready queue;
- a Trap (what every awaitable of the API yields): the kernel performs it;
  the task is resumed when the trap is answered;
- a Task: the task waits for it to finish (``x = yield task``);
- any other awaitable: the kernel runs its iterator for the task and sends
  the outcome back (Tornado style ``x = yield fetch()``), keeping the
  enclosing iterators on the task's stack;
- anything else: a TypeError is thrown into that task alone.

The run loop is the scheduler core's (_core.pyx), which the kernel drives
as one of its front ends: one iteration polls (without waiting if tasks are
ready, and only when some fd has a waiter), answers due timers, then runs
the tasks that were ready when the iteration began. Tasks made ready
meanwhile run in the next one, so I/O is polled between batches and ready
tasks run FIFO. The kernel's own part of an iteration is what is native:
Ctrl-C, a second Ctrl-C, a forked child; the step of a task; answering a
trap whose timer or fd came; the rules for a failing callback.

Invariants:
- a live task is referenced by the kernel (its live list) and is in exactly
  one place: the ready queue, running, or blocked on one trap (``_trap``),
  which the timer heap, the poller or a target's joiners hold;
- ``_answer`` is the only way a blocked task becomes ready again;
- cancelling a blocked task unregisters its trap first (``_unblock``).
"""
cimport cython
from libc.math cimport INFINITY
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.exc cimport PyErr_Occurred
from yieldloop.core._readyqueue cimport ReadyQueue, _steal
from yieldloop.core._timerheap cimport TimerHeap
from yieldloop.core._poller cimport Poller, YL_READ, YL_WRITE
from yieldloop.core._core cimport Core, FrontEnd
from yieldloop.core._traps cimport (
    Trap, make_trap, trap_done, TRAP_YIELD, TRAP_SLEEP, TRAP_READ, TRAP_WRITE,
    TRAP_JOIN, TRAP_PARK, TS_FRESH, TS_AWAITING, TS_BARE, TS_READY, TS_DONE)
from yieldloop.core._handles cimport Handle, new_handle
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._process cimport take_signals, restore_signals, after_fork_in_child
from yieldloop.native._tracer cimport (
    Tracer, EV_SPAWN, EV_RESUME, EV_YIELD, EV_WAKE, EV_FINISH, Y_BARE, Y_AWAITABLE, Y_BAD,
    W_TIMER, W_FD, W_TASK, W_CANCEL, W_CLOSED, W_CALLBACK)
from yieldloop.core._throw cimport throw_into
from yieldloop.includes.capi cimport (
    PySendResult, PYGEN_RETURN, PYGEN_ERROR, PYGEN_NEXT,
    PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit, PyCoro_CheckExact, PyGen_CheckExact,
    PyGen_Check, PyErr_CheckSignals, yl_monotonic, yl_send,
    yl_is_awaitable, yl_await_iter, visitproc, traverseproc, yl_hook_traverse,
    yl_gc_untrack, yl_gc_track, PyObject_GC_UnTrack, PyObject_Vectorcall, yl_new_spawn,
    yl_stop_iteration, yl_raise, yl_set_iternext)

import os
import sys
from yieldloop._errors import BusyResourceError, ClosedResourceError, explain_foreign_error

cdef extern from *:
    """
    /* The kernel running in this thread (borrowed: run() holds it). */
    static _Thread_local PyObject *yl_running_kernel = NULL;
    """
    PyObject* yl_running_kernel

cdef enum:
    MAX_AWAIT_DEPTH = 1000   # awaitables nested by `x = yield awaitable`

cdef enum:
    # What _gc_hide took out of the cyclic GC (Task._untracked).
    UNTRACKED_TASK = 1
    UNTRACKED_CORO = 2
    UNTRACKED_CONTEXT = 4


# --- CancelledError is asyncio's, loaded only when first needed, so that
# --- importing yieldloop does not import asyncio.

cdef object _CancelledError = None


cdef object _cancelled_error_class():
    global _CancelledError
    if _CancelledError is None:
        from asyncio import CancelledError
        _CancelledError = CancelledError
    return _CancelledError


cdef object _new_cancelled_error(object msg):
    cls = _cancelled_error_class()
    return cls() if msg is None else cls(msg)


cdef bint _is_cancelled_error(object exc) except -1:
    global _CancelledError
    if _CancelledError is None:
        # No asyncio, no CancelledError: nothing can be one yet.
        mod = sys.modules.get("asyncio.exceptions")
        if mod is None:
            return False
        _CancelledError = mod.CancelledError
    return isinstance(exc, _CancelledError)


cdef object new_cancelled_error(object msg):
    """A CancelledError(msg) (asyncio's class, imported on first use)."""
    return _new_cancelled_error(msg)


cdef bint is_cancelled_error(object exc) except -1:
    """isinstance(exc, CancelledError), without importing asyncio."""
    return _is_cancelled_error(exc)


cdef object _invalid_state(str message):
    from asyncio import InvalidStateError
    return InvalidStateError(message)


cdef PyObject* _task_next(PyObject* o) noexcept:
    """Task's tp_iternext, reached through the __await__ of a finished task:
    return its result (StopIteration) or raise its exception."""
    cdef Task t = <Task>o
    if t._state == TASK_PENDING:
        return yl_raise(RuntimeError(
            "task %r is not done: join it with await or yield from" % t._get_name()))
    _retrieve(t)
    if t._state == TASK_DONE:
        return yl_stop_iteration(t._result)
    return yl_raise(t._exception)


cdef object _park_label(Trap trap):
    """What a PARK trap waits for: its wait list's label, or its own."""
    if isinstance(trap.arg, WaitList):
        return (<WaitList>trap.arg).label
    return trap.arg if isinstance(trap.arg, str) else None


cdef str _short_repr(object value):
    try:
        r = repr(value)
    except BaseException:
        r = "<%s object>" % type(value).__name__
    return r if len(r) <= 80 else r[:77] + "..."


cdef object _log = None


cdef object logger():
    """The "yieldloop" logger. Imported when a kernel starts, not when it is
    first needed: a report may be due when no fd is left to import with."""
    global _log
    if _log is None:
        import logging
        _log = logging.getLogger("yieldloop")
    return _log


def _report_callback_error(Handle h, exc):
    logger().error("Exception in callback %r", h, exc_info=exc)


def _copy_outcome(fut):
    """A done-callback copying a task's outcome into a concurrent Future."""
    def copy(Task task):
        if fut.cancelled():
            return
        if task._state == TASK_DONE:
            fut.set_result(task._result)
        else:
            _retrieve(task)
            fut.set_exception(task._exception)
    return copy


def _cancel_from_future(Kernel kernel, Task task):
    """A concurrent Future's done-callback: its cancel() cancels the task."""
    def cancel(fut):
        if fut.cancelled():
            try:
                kernel.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass            # the kernel has stopped: the task is gone too
    return cancel


async def _aclose(agen):
    try:
        await agen.aclose()
    except Exception as e:
        logger().error(
            "an error occurred during closing of asynchronous generator %r", agen, exc_info=e)


@cython.final
cdef class _ErrorReport:
    """Logs the exception of a failed task that nobody retrieved, when it is
    freed: with the task, which alone refers to it (a retrieval disarms it
    first). Apart from the Task, so that a Task has no finalizer: a task
    that succeeds is freed without one, and can come from a freelist."""
    cdef object exc
    cdef object name                 # the task's name (kept up to date by the task)

    def __del__(self):
        if self.exc is None:
            return
        exc, self.exc = self.exc, None
        try:
            logger().error("Task exception was never retrieved: %s",
                           "<Task %r failed exception=%s>" % (self.name, _short_repr(exc)),
                           exc_info=exc)
        except BaseException:
            pass


cdef inline void _retrieve(Task t) noexcept:
    """The outcome of ``t`` was seen: its exception is not to be reported."""
    t._retrieved = True
    if t._report is not None:
        (<_ErrorReport>t._report).exc = None
        t._report = None


@cython.final
@cython.freelist(256)          # safe: a Task has no finalizer (see _ErrorReport)
cdef class Task:
    """A coroutine or generator run by the kernel; made by ``spawn()``.

    Join it with ``await task``, ``yield from task`` or ``x = yield task``:
    you get its return value, or its exception is raised. Each task runs in
    its own copy of the spawner's ``contextvars`` context.

        task = yieldloop.spawn(fetch(url), name="fetch")
        ...
        page = await task
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("Task objects are made by yieldloop.spawn()")

    cdef str _get_name(self):
        # Formatted on demand: most tasks are never asked for their name.
        if self._name is None:
            self._name = "Task-%d" % self._id
        return self._name

    @property
    def name(self):
        """The task's name (``"Task-N"`` unless given to spawn())."""
        return self._get_name()

    @name.setter
    def name(self, value):
        self.set_name(value)

    def get_name(self):
        """The task's name (as asyncio.Task.get_name)."""
        return self._get_name()

    def set_name(self, value):
        """Rename the task (as asyncio.Task.set_name)."""
        self._name = str(value)
        if self._report is not None:
            (<_ErrorReport>self._report).name = self._name

    def get_coro(self):
        """The coroutine or generator the task was spawned with."""
        return self._stack[0] if self._stack else self._coro

    def get_context(self):
        """The contextvars.Context the task runs in."""
        return self._context

    def done(self):
        """True once the task has returned, raised or been cancelled."""
        return self._state != TASK_PENDING

    def cancelled(self):
        """True if the task finished by CancelledError."""
        return self._state == TASK_CANCELLED

    def result(self):
        """The return value; raises the task's exception, CancelledError if it
        was cancelled, or InvalidStateError if it is not done."""
        if self._state == TASK_PENDING:
            raise _invalid_state("Result is not set.")
        _retrieve(self)
        if self._state == TASK_DONE:
            return self._result
        raise self._exception

    def exception(self):
        """The exception the task raised, or None; raises CancelledError if it
        was cancelled, InvalidStateError if it is not done."""
        if self._state == TASK_PENDING:
            raise _invalid_state("Exception is not set.")
        _retrieve(self)
        if self._state == TASK_CANCELLED:
            raise self._exception
        return self._exception

    def cancel(self, msg=None):
        """Request cancellation: CancelledError(msg) is raised in the task at
        its current wait, or at its next one if it is ready or running. A
        task blocked on a timer, an fd or a join is unregistered from it.
        Returns False if the task is already done (nothing happens)."""
        if self._state != TASK_PENDING or self._kernel is None:
            return False
        return self._kernel._cancel(self, msg)

    def cancelling(self):
        """Number of pending cancel() requests (as asyncio.Task.cancelling)."""
        return self._num_cancels

    def uncancel(self):
        """Undo one cancel() request; returns the remaining count."""
        if self._num_cancels > 0:
            self._num_cancels -= 1
            if self._num_cancels == 0:
                self._must_cancel = False
        return self._num_cancels

    def add_done_callback(self, fn, *, context=None):
        """Call ``fn(task)`` soon after the task finishes (at once if it has),
        in ``context`` (default: a copy of the current one)."""
        if context is None:
            context = PyContext_CopyCurrent()
        if self._state != TASK_PENDING:
            need_kernel("add_done_callback() on a finished task")._call_soon(
                fn, (self,), context)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append((fn, context))

    def remove_done_callback(self, fn):
        """Remove every registration of ``fn``; return how many there were."""
        if not self._callbacks:
            return 0
        kept = [(f, c) for f, c in self._callbacks if f != fn]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def __await__(self):
        # A finished task is its own iterator: its tp_iternext (_task_next)
        # gives the outcome at once, with no trap to make. A pending one
        # hands the kernel a JOIN trap.
        cdef Trap trap
        if self._state != TASK_PENDING:
            return self
        trap = make_trap(TRAP_JOIN)
        trap.arg = self
        return trap

    def __iter__(self):
        return self.__await__()

    def __repr__(self):
        if self._state == TASK_PENDING:
            if self._kernel is not None and self._kernel._current is self:
                info = "running"
            elif self._trap is not None:
                info = "waiting on %s" % self._trap._describe()
            else:
                info = "ready"
        elif self._state == TASK_DONE:
            info = "done result=%s" % _short_repr(self._result)
        elif self._state == TASK_FAILED:
            info = "failed exception=%s" % _short_repr(self._exception)
        else:
            info = "cancelled"
        return "<Task %r %s>" % (self._get_name(), info)


@cython.final
cdef class Kernel:
    """Kernel()\n--\n
    The native front end of a scheduler core (a ready queue, a timer heap
    and a poller; see _core.pyx).

    ``yieldloop.run(main)`` makes one and runs it; make your own to look at
    ``stats()`` after a run:

        kernel = yieldloop.Kernel()
        kernel.run(main)
        assert kernel.stats()["tasks"] == 0
    """

    def __cinit__(self):
        self._sched = Core()
        self._ready = self._sched.ready
        self._timers = self._sched.timers

    def run(self, main, *args, trace=None, clock=None):
        """Run ``main`` (a coroutine or generator, or a function returning one,
        called with ``args``) until it finishes; return its result or raise
        its exception. Tasks still alive then are cancelled and waited for.
        Ctrl-C cancels main and raises KeyboardInterrupt once all is done.

        ``trace``: a yieldloop.Tracer to record the run into, or a file name
        (.txt, .svg, .html or .png) to write the trace to when it ends.
        ``clock``: the clock timers and timeouts follow during the run, e.g.
        a yieldloop.testing.MockClock (default: the monotonic clock).
        """
        cdef Task m = None
        cdef Poller poller
        if self._guest:
            _discard(main)
            raise RuntimeError("this kernel runs the native tasks of a yieldloop.Loop: "
                               "it is run by the Loop, not by run()")
        if yl_running_kernel != NULL:
            _discard(main)
            raise RuntimeError(
                "yieldloop.run() cannot be called while a yieldloop kernel is "
                "running in this thread; await the coroutine or spawn() it")
        if self._running:
            _discard(main)
            if self._poller is not None and self._poller._forked:
                self._check_not_forked()
            raise RuntimeError("this kernel is already running")
        if trace is not None and not isinstance(trace, Tracer):
            from yieldloop.trace import check_target
            try:
                check_target(trace)      # before main runs: a typo must not cost the run
            except BaseException:
                _discard(main)
                raise
        if clock is not None:
            try:
                _check_clock(clock)
            except BaseException:
                _discard(main)
                raise
        coro = _coroutine_of(main, args, "run")
        try:
            logger()
            if trace is None and _trace_all is not None:
                trace = _trace_all()
            trace_file = None
            if trace is not None and not isinstance(trace, Tracer):
                trace_file, trace = trace, Tracer()
            poller = self._sched.open_poller()
        except BaseException:
            _discard(coro)
            raise
        self._tracer = trace
        self._poller = poller
        self._clock = clock
        self._sched.native = self
        self._sched.native_task_type = Task
        self._sched.clock = self if clock is not None else None
        self._abort = None
        self._interrupts = 0
        self._sigint_pending = False
        self._stop_now = False
        self._running = True
        self._inbox_open = True
        global yl_running_kernel
        yl_running_kernel = <PyObject*>self
        saved_signals = None
        try:
            # Everything that may fail comes after the flags are set, inside
            # the try: the finally below always undoes them.
            saved_signals = take_signals(self._on_sigint, poller.wakeup_fd)
            if clock is not None and hasattr(clock, "start_clock"):
                clock.start_clock()
            hooks = sys.get_asyncgen_hooks()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter,
                                   finalizer=self._asyncgen_finalizer)
            self._saved_hooks = hooks
            if "asyncio" in sys.modules:
                self._attach_loop()
            m = self._main = self._spawn(coro, "main")
            coro = None
            try:
                while m._state == TASK_PENDING and self._abort is None:
                    self._run_once()
            except BaseException as e:    # from the kernel itself (signal handler, MemoryError)
                self._abort = e
                self._stop_now = False     # seen: not to be raised again
            if not poller._forked:
                # In a forked child the tasks are the parent's: never run them.
                self._shut_down()
        finally:
            self._inbox_open = False
            if self._saved_hooks is not None:
                sys.set_asyncgen_hooks(*self._saved_hooks)
                self._saved_hooks = None
            if self._signal_receivers:
                _close_signal_receivers(self)   # before SIGINT goes back (it may hold it)
            restore_signals(saved_signals)
            yl_running_kernel = NULL
            self._running = False
            self._main = None
            if self._aio is not None:
                self._detach_loop()
            self._release()
            if coro is not None:
                _discard(coro)             # it never became a task
            if trace_file is not None:
                from yieldloop.trace import write
                write(self._tracer, trace_file)
            self._tracer = None
            self._clock = None
        if self._abort is not None:
            exc, self._abort = self._abort, None
            raise exc
        if self._interrupts:
            raise KeyboardInterrupt()
        return m.result()

    cdef int _shut_down(self) except -1:
        """After main: as asyncio.run, cancel and await the tasks left, close
        the async generators left open, and wait for to_thread() calls still
        running; then stop taking calls from other threads."""
        if self._aio is not None:
            self._cancel_aio_tasks()
        while self.live_tasks:
            self._cancel_all()
            self._run_once()
        self._shutdown_asyncgens()
        while self.live_tasks:
            self._run_once()
        if self._executor is not None:
            self._drain_executor()
            while self.live_tasks:        # started by other threads meanwhile
                self._cancel_all()
                self._run_once()
        # From now on call_soon_threadsafe() raises. The calls taken before
        # run, exactly once; tasks they start are cancelled, as above.
        self._inbox_open = False
        self._sched.drain_inbox()
        while self._ready.count() or self.live_tasks:
            self._cancel_all()
            self._run_once()
        return 0

    # --- the yieldloop.Loop of a run (see _bridge.pyx for how the two mix)

    cdef int _attach_loop(self) except -1:
        """asyncio is imported: the run gets a yieldloop.Loop on its core,
        asyncio's running loop while it runs, so that asyncio code works in
        native tasks (and native awaitables in its tasks)."""
        import threading
        from asyncio.events import _get_running_loop
        if _get_running_loop() is not None:
            return 0                # run() from asyncio code: that loop stays the running one
        from yieldloop.loop import _loop_on_core
        from yieldloop._aio_private import set_running_loop
        _load_task_hooks()
        loop = _loop_on_core(self._sched)
        loop._thread_id = threading.get_ident()
        set_running_loop(loop)
        self._aio = loop
        return 0

    cdef int _detach_loop(self) except -1:
        from yieldloop._aio_private import set_running_loop
        loop, self._aio = self._aio, None
        set_running_loop(None)
        loop._thread_id = None
        loop.close()
        return 0

    cdef int _cancel_aio_tasks(self) except -1:
        """At the end of a run, as asyncio.run does: cancel the Loop's tasks
        left (once each) and run until they are done, native tasks they
        wait for included."""
        all_tasks = sys.modules["asyncio"].all_tasks
        cancelled = set()
        tasks = all_tasks(self._aio)
        while tasks:
            for t in tasks:
                if id(t) not in cancelled:
                    cancelled.add(id(t))
                    t.cancel()
            self._cancel_all()
            self._run_once()
            tasks = all_tasks(self._aio)
        return 0

    cdef int _drain_executor(self) except -1:
        """As asyncio's shutdown_default_executor(): the pool is shut down
        (its workers waited for) in a thread of its own while the kernel
        keeps running, so that a worker that calls back into the kernel
        (call_soon_threadsafe, run_coroutine_threadsafe) is served instead
        of deadlocking."""
        import threading
        executor, self._executor = self._executor, None
        done = []
        thread = threading.Thread(target=_shut_down_executor, args=(self, executor, done),
                                  name="yieldloop-executor-shutdown", daemon=True)
        thread.start()
        while not done:
            self._run_once()
        thread.join()
        return 0

    cdef int _check_not_forked(self) except -1:
        if self._poller is not None and self._poller._forked:
            raise RuntimeError(
                "this yieldloop kernel belongs to the process that forked this one: "
                "a forked child must start its own with yieldloop.run() (and leave "
                "with os._exit())")
        return 0

    def stats(self):
        """Counts for tests and tools: ready tasks, live timers, fds with a
        waiter, live tasks, switches (task steps) and tasks spawned so far."""
        return {
            "ready": self._ready.count(),
            "timers": self._timers.live(),
            "fds": self._poller.nwaiters if self._poller is not None else 0,
            "tasks": self.live_tasks,
            "switches": self.switches,
            "spawned": self.spawned,
        }

    @property
    def running(self):
        """True while run() is executing."""
        return self._running

    @property
    def core(self):
        """The scheduler core the kernel runs on (yieldloop.core._core.Core): its
        ready queue, timer heap and poller, shared with a yieldloop.Loop
        running in the same run."""
        return self._sched

    @property
    def poller(self):
        """The Poller of the current or last run (None before the first):
        for tests and tools; on Linux /proc/self/fdinfo/<poller.fileno()>
        lists what it registered with the OS."""
        return self._poller

    def call_soon(self, fn, *args, context=None):
        """Call ``fn(*args)`` from the loop soon (after the tasks now ready);
        return a Handle that can cancel it."""
        return self._call_soon(fn, args, context)

    def call_later(self, delay, fn, *args, context=None):
        """Call ``fn(*args)`` after ``delay`` seconds; return a Handle."""
        return self._call_at(self._now() + float(delay), fn, args, context)

    def time(self):
        """Seconds on this kernel's clock: while it runs with a clock (run's
        ``clock=``), that clock's time; otherwise the monotonic clock's
        (time.monotonic's). Deadlines of call_at() and timers are on it."""
        return self._now()

    cdef double _now(self) except? -1.0:
        # The default path is one compare: no clock, the C monotonic clock.
        if self._clock is None:
            return yl_monotonic()
        return self._clock_time()

    cdef double _clock_time(self) except? -1.0:
        return self._clock.current_time()

    cdef int _poll_on_clock(self, double deadline) except -1:
        """_run_once's wait for the next timer (due at ``deadline``) when
        the run has a clock: as long as the clock says, but no longer than
        its ``autojump_threshold`` (real seconds) if it has one. If that
        cut the wait short and nothing became ready meanwhile (no task,
        callback, I/O, signal, or call from another thread), the clock
        jumps to the deadline, and the timer fires in this iteration."""
        cdef double timeout = self._clock.deadline_to_sleep_time(deadline)
        cdef double threshold = getattr(self._clock, "autojump_threshold", INFINITY)
        cdef double now
        cdef bint primed
        if timeout != timeout:
            raise ValueError("%r.deadline_to_sleep_time() returned NaN" % (self._clock,))
        if timeout < 0.0:
            timeout = 0.0
        primed = threshold < timeout
        self._sched.poll(threshold if primed else timeout)
        if (primed and not self._ready.count() and not self._sched.inbox_pending
                and not self._sigint_pending and not self._stop_now):
            now = self._clock_time()
            if deadline > now:
                self._clock.jump(deadline - now)
        return 0

    def call_at(self, when, fn, *args, context=None):
        """Call ``fn(*args)`` at ``when`` on the kernel's clock (time());
        return a Handle."""
        return self._call_at(float(when), fn, args, context)

    def call_soon_threadsafe(self, fn, *args, context=None):
        """Like call_soon(), from any thread: wakes the kernel if it waits.

        This is how other threads hand work to a running kernel:

            kernel = yieldloop.current_kernel()      # in the kernel's thread
            ...
            kernel.call_soon_threadsafe(event.set)   # in another thread
        """
        cdef Handle h = new_handle(fn, args, context)
        self._check_not_forked()
        # From the test to the wake-up no Python code runs, so the kernel's
        # thread sees each call either queued before it closes the inbox
        # (and runs it) or refused here: never lost, never run twice.
        if not self._inbox_open:
            raise RuntimeError("the kernel is not running")
        self._sched.post(h)
        return h

    def run_coroutine_threadsafe(self, coro):
        """From another thread: run ``coro`` as a task of this kernel and
        return a concurrent.futures.Future for its outcome (cancelling the
        future cancels the task)."""
        import concurrent.futures
        fut = concurrent.futures.Future()
        kernel = self

        def start():
            if not fut.set_running_or_notify_cancel():
                _discard(coro)
                return
            try:
                task = kernel._spawn(_coroutine_of(coro, (), "run_coroutine_threadsafe"), None)
            except BaseException as e:
                fut.set_exception(e)
                return
            task.add_done_callback(_copy_outcome(fut))
            fut.add_done_callback(_cancel_from_future(kernel, task))

        try:
            self.call_soon_threadsafe(start)
        except RuntimeError:
            _discard(coro)           # refused: it will never run
            raise
        return fut

    def _asyncgen_firstiter(self, agen):
        # sys.set_asyncgen_hooks: remember every async generator started,
        # so that run() can close the ones left open.
        if self._asyncgens is None:
            from weakref import WeakSet
            self._asyncgens = WeakSet()
        self._asyncgens.add(agen)

    def _asyncgen_finalizer(self, agen):
        # An async generator is collected before it finished: its aclose()
        # may await, so it runs as a task. Finalizers fire anywhere (even in
        # the middle of the kernel's own work), so go through the inbox.
        if self._asyncgens is not None:
            self._asyncgens.discard(agen)
        if self._inbox_open:
            try:
                self.call_soon_threadsafe(self._close_asyncgen, agen)
            except RuntimeError:
                pass             # the kernel is stopping (or forked): too late

    def _close_asyncgen(self, agen):
        self._spawn(_aclose(agen), None)

    def _on_sigint(self, signum, frame):
        # First Ctrl-C: cancel main at the next loop iteration. Second one
        # while main is still cancelling: stop right away.
        if self._interrupts or self._sigint_pending:
            # Raised here so that a task that never yields is stopped too;
            # remembered as well, because a handler can run inside a
            # __del__, which swallows what it raises: the loop raises it
            # again at its next iteration.
            self._stop_now = True
            raise KeyboardInterrupt()
        self._sigint_pending = True

    cdef Task _spawn(self, object coro, object name, object context=None):
        cdef Task t = Task.__new__(Task)
        t._kernel = self
        t._coro = coro
        t._context = PyContext_CopyCurrent() if context is None else context
        _gc_hide(t, context is None)
        self.spawned += 1
        t._id = self.spawned
        if name is not None:
            t._name = str(name)
        Py_INCREF(t)                 # the kernel's reference, until _finish
        t._prev = self._live_tail
        if self._live_tail != NULL:
            (<Task>self._live_tail)._next = <PyObject*>t
        else:
            self._live_head = <PyObject*>t
        self._live_tail = <PyObject*>t
        self.live_tasks += 1
        self._ready.push(t)
        if self._tracer is not None:
            self._tracer.task_spawned(t._id, t)
            self._tracer.record(EV_SPAWN, 0, t._id,
                                self._current._id if self._current is not None else 0, 0, None)
        return t

    cdef int _run_once(self) except -1:
        """One iteration of the core's run loop, after the kernel's own
        checks: a forked child, a second Ctrl-C, a first one."""
        if self._poller._forked:
            self._check_not_forked()
        if self._stop_now:
            self._stop_now = False
            raise KeyboardInterrupt()
        if self._sigint_pending:
            self._interrupt()
        return self._sched.run_once(False)

    # --- what the core calls back (FrontEnd, see _core.pxd)

    cdef int step(self, object task) except -1:
        if self._aio is None:
            return self._step(<Task>task)
        return self._step_entered(<Task>task)

    cdef int _step_entered(self, Task t) except -1:
        """A step while a yieldloop.Loop shares the core: asyncio's
        current_task() is the native task meanwhile (asyncio.timeout,
        wait_for and TaskGroup ask for it)."""
        cdef dict current
        if _current_tasks is not None:
            # Python 3.10-3.13: asyncio's own map of current tasks, which
            # its _enter_task/_leave_task fill, set directly (the cheap way).
            current = <dict>_current_tasks
            current[self._aio] = t
            try:
                return self._step(t)
            finally:
                del current[self._aio]
        _enter_task(self._aio, t)
        try:
            return self._step(t)
        finally:
            _leave_task(self._aio, t)

    cdef int trap_ready(self, Trap trap, bint by_timer) except -1:
        if type(trap.task) is not Task:
            return self._answer_any(trap, None, None)      # an asyncio Task's (_bridge.pyx)
        if self._tracer is not None:
            if by_timer:
                self._tracer.record(EV_WAKE, W_TIMER, (<Task>trap.task)._id, 0,
                                    trap.timer.when, None)
            else:
                self._tracer.record(EV_WAKE, W_FD, (<Task>trap.task)._id, 0, trap.fd, None)
        return self._answer(<Task>trap.task, trap, None, None)

    cdef int handle_failed(self, Handle h, object exc) except -1:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            self._stop_now = False      # a second Ctrl-C, if it was one: not lost
            if self._abort is None:
                self._abort = exc       # stop, as asyncio's loop does
        else:
            _report_callback_error(h, exc)
        return 0

    cdef double clock_now(self) except? -1.0:
        return self._clock_time()

    cdef int wait_for_timer(self, double deadline) except -1:
        return self._poll_on_clock(deadline)

    cdef Handle _call_soon(self, object fn, tuple args, object context):
        cdef Handle h = new_handle(fn, args, context)
        self._ready.push(h)
        return h

    cdef Handle _call_at(self, double when, object fn, tuple args, object context):
        cdef Handle h = new_handle(fn, args, context)
        h.timer.when = when
        self._timers.push(h, &h.timer)
        h.heap = self._timers
        return h

    cdef int _shutdown_asyncgens(self) except -1:
        if not self._asyncgens:
            return 0
        for agen in list(self._asyncgens):
            self._spawn(_aclose(agen), None)
        self._asyncgens.clear()
        return 0

    cdef object _get_executor(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor
            self._executor = ThreadPoolExecutor(thread_name_prefix="yieldloop")
        return self._executor

    cdef int watch_fd(self, int fd, int side, Handle h, object owner) except -1:
        return self._poller.watch(fd, side, h, owner)

    cdef object unwatch_fd(self, int fd, int side):
        return self._poller.unwatch(fd, side)

    cdef int close_fd(self, int fd) except -1:
        """``fd`` is about to be closed: wake the tasks waiting on it with
        ClosedResourceError, drop I/O callbacks and the OS registration."""
        cdef object w
        cdef Trap trap
        for side in (YL_READ, YL_WRITE):
            w = self._poller.unwatch(fd, side)
            if type(w) is Trap:
                trap = <Trap>w
                if self._tracer is not None and type(trap.task) is Task:
                    self._tracer.record(EV_WAKE, W_CLOSED, (<Task>trap.task)._id, 0, fd, None)
                self._answer_any(trap, None, ClosedResourceError(
                    "fd %d was closed while task %r waited for it"
                    % (fd, waiter_name(trap.task))))
            elif w is not None:
                (<Handle>w).cancel()
        self._poller.forget(fd)
        return 0

    cdef bint _evict_stale(self, Trap trap, int side) except -1:
        """The fd of ``trap`` has a waiter already. If that waiter came for
        an owner object that no longer has this fd (it was closed behind our
        back and the number reused), wake it with ClosedResourceError and
        return True: the slot is free. Bare fd numbers cannot be told apart."""
        cdef object w = self._poller.waiter(trap.fd, side)
        cdef Trap old
        if type(w) is not Trap:
            return False
        old = <Trap>w
        if old.arg is None or old.arg is trap.arg:
            return False
        try:
            still_there = old.arg.fileno() == trap.fd
        except Exception:
            still_there = False
        if still_there:
            return False
        self._poller.unwatch(trap.fd, side)
        if self._tracer is not None and type(old.task) is Task:
            self._tracer.record(EV_WAKE, W_CLOSED, (<Task>old.task)._id, 0, trap.fd, None)
        self._answer_any(old, None, ClosedResourceError(
            "%r was closed while task %r waited for it" % (old.arg, waiter_name(old.task))))
        return True

    cdef int _step(self, Task t) except -1:
        """Resume ``t`` once and act on what it yields, returns or raises."""
        cdef PyObject* out = NULL
        cdef PySendResult status
        cdef object value
        cdef list stack
        if t._must_cancel:
            t._must_cancel = False
            t._send = None
            t._throw = _new_cancelled_error(t._cancel_msg)
        self._current = t
        self.switches += 1
        if self._tracer is not None:
            self._tracer.record(EV_RESUME, t._throw is not None, t._id, 0, 0,
                                t._send if t._throw is None else t._throw)
        PyContext_Enter(t._context)
        if t._throw is None:
            value = t._send
            if value is not None:
                t._send = None
            status = yl_send(t._coro, value, &out)
        else:
            value = t._throw
            t._throw = None
            status = throw_into(t._coro, value, &out)
        # An inner iterator finished: its outcome goes to the enclosing one.
        while status != PYGEN_NEXT:
            stack = t._stack
            if not stack:
                break
            t._coro = stack.pop()
            value = <object>_steal(out)
            out = NULL
            if status == PYGEN_RETURN:
                status = yl_send(t._coro, value, &out)
            else:
                status = throw_into(t._coro, value, &out)
        PyContext_Exit(t._context)
        self._current = None
        value = <object>_steal(out)
        if status == PYGEN_NEXT:
            return self._dispatch(t, value)
        if status == PYGEN_RETURN:
            return self._finish(t, value, None)
        return self._finish(t, None, value)

    cdef int _dispatch(self, Task t, object value) except -1:
        cdef Trap trap
        if value is None:
            if self._tracer is not None:
                self._tracer.record(EV_YIELD, Y_BARE, t._id, 0, 0, None)
            self._ready.push(t)
            return 0
        if type(value) is Trap:
            trap = <Trap>value
            if (trap.kind == TRAP_YIELD and trap.state == TS_AWAITING and trap.task is None
                    and not t._must_cancel and self._tracer is None):
                # `await sleep(0)`, the commonest trap: what _take_trap and
                # _answer would do for it, without the checks for the others.
                trap.state = TS_READY
                self._ready.push(t)
                return 0
            return self._take_trap(t, trap)
        if type(value) is Task:
            trap = make_trap(TRAP_JOIN)
            trap.arg = value
            return self._take_trap(t, trap)
        return self._await_other(t, value)

    cdef int _take_trap(self, Task t, Trap trap) except -1:
        cdef int kind = trap.kind
        cdef int side
        cdef Task target
        if trap.state == TS_FRESH:
            if kind == TRAP_PARK:
                # Parked from a primitive's own code, never yielded bare.
                return self._fail_trap(t, trap, RuntimeError(
                    "a PARK trap must be awaited, not yielded"))
            trap.state = TS_BARE
        elif trap.state == TS_READY:
            # An already answered awaitable, yielded bare: answer at once.
            return self._deliver_ready(t, trap)
        elif trap.state != TS_AWAITING or trap.task is not None:
            # Done, or held for another task already (two tasks sharing one
            # awaitable): refuse it, as a reused coroutine is refused.
            t._throw = RuntimeError("task %r yielded %r, which was already awaited"
                                    % (t._get_name(), trap))
            self._ready.push(t)
            return 0
        if t._must_cancel:
            # cancel() came while the task ran: the wait does not start
            # (a parked trap counts as cancelled, as a cancelled future).
            trap.state = TS_DONE
            trap.cancelled = True
            self._ready.push(t)
            return 0
        if self._tracer is not None:
            self._trace_trap(t, trap)
        if kind == TRAP_YIELD:
            return self._answer(t, trap, None, None)
        if kind == TRAP_SLEEP:
            if self._clock is None:
                trap.timer.when = yl_monotonic() + trap.delay
            else:
                try:
                    trap.timer.when = self._clock_time() + trap.delay
                except Exception as e:       # a broken clock fails this sleep, as a bad fd does
                    return self._fail_trap(t, trap, e)
            self._timers.push(trap, &trap.timer)
        elif kind == TRAP_READ or kind == TRAP_WRITE:
            side = YL_READ if kind == TRAP_READ else YL_WRITE
            other = self._poller.waiter(trap.fd, side)
            if other is not None and self._evict_stale(trap, side):
                other = None
            if other is not None and type(other) is not Trap:
                return self._fail_trap(t, trap, BusyResourceError(
                    "task %r cannot wait for fd %d: a stream is using it"
                    % (t._get_name(), trap.fd)))
            if other is not None:
                return self._fail_trap(t, trap, BusyResourceError(
                    "task %r cannot wait for fd %d to become %s: task %r is already waiting"
                    % (t._get_name(), trap.fd, "readable" if side == YL_READ else "writable",
                       waiter_name((<Trap>other).task))))
            try:
                self._poller.watch(trap.fd, side, trap, trap.arg)
            except Exception as e:
                return self._fail_trap(t, trap, e)
        elif kind == TRAP_JOIN:
            target = trap.arg
            if target._state != TASK_PENDING:
                _retrieve(target)
                if target._state == TASK_DONE:
                    return self._answer(t, trap, target._result, None)
                return self._answer(t, trap, None, target._exception)
            if target is t:
                return self._fail_trap(t, trap, RuntimeError(
                    "task %r cannot join itself (it would wait forever)" % t._get_name()))
            if target._kernel is not self:
                return self._fail_trap(t, trap, RuntimeError(
                    "task %r belongs to another kernel" % target._get_name()))
            # Most tasks have one joiner at most: no list for it.
            if target._joiners is None:
                target._joiners = trap
            elif type(target._joiners) is list:
                (<list>target._joiners).append(trap)
            else:
                target._joiners = [target._joiners, trap]
        elif kind == TRAP_PARK:
            pass                     # woken by wake() (a primitive, a thread)
        else:
            return self._fail_trap(t, trap, RuntimeError("unknown trap %r" % trap))
        trap.task = t
        t._trap = trap
        return 0

    cdef int _trace_trap(self, Task t, Trap trap) except -1:
        """Record what the trap ``t`` yielded asks for."""
        cdef int kind = trap.kind
        cdef double number = 0
        cdef unsigned long long other = 0
        if kind == TRAP_SLEEP:
            number = trap.delay
        elif kind == TRAP_READ or kind == TRAP_WRITE:
            number = trap.fd
        elif kind == TRAP_JOIN:
            other = (<Task>trap.arg)._id
        return self._tracer.record(EV_YIELD, kind, t._id, other, number,
                                   _park_label(trap) if kind == TRAP_PARK else None)

    cdef int _await_other(self, Task t, object value) except -1:
        """``x = yield awaitable``: run the awaitable's iterator for the task."""
        cdef object exc = None
        if self._tracer is not None:
            self._tracer.record(EV_YIELD, Y_AWAITABLE if yl_is_awaitable(value) else Y_BAD,
                                t._id, 0, 0, value)
        if hasattr(value, "_asyncio_future_blocking"):
            if self._aio is not None and _future_loop(value) is self._aio:
                return self._park_on_future(t, value)
            exc = TypeError(
                "task %r awaits %s, an asyncio future: the yieldloop kernel cannot "
                "wait on asyncio objects; run asyncio code on yieldloop.Loop"
                % (t._get_name(), _short_repr(value)))
        elif not yl_is_awaitable(value):
            exc = TypeError(
                "task %r yielded %s (type %s), which yieldloop cannot wait on: a task "
                "may yield None (let other tasks run), a yieldloop awaitable such as "
                "sleep(), or an awaitable (coroutine, Task, object with __await__)"
                % (t._get_name(), _short_repr(value), type(value).__name__))
        elif t._stack is not None and len(t._stack) >= MAX_AWAIT_DEPTH:
            exc = RecursionError("task %r nests more than %d yielded awaitables"
                                 % (t._get_name(), MAX_AWAIT_DEPTH))
        else:
            try:
                it = yl_await_iter(value)
            except Exception as e:
                exc = e
            else:
                if t._stack is None:
                    t._stack = []
                t._stack.append(t._coro)
                t._coro = it
        if exc is not None:
            t._throw = exc
        self._ready.push(t)
        return 0

    cdef int _answer(self, Task t, Trap trap, object result, object exc) except -1:
        """Make ``t``, blocked on ``trap``, ready with ``result`` or ``exc``."""
        trap.task = None
        t._trap = None
        if trap.state == TS_AWAITING:
            # __next__ delivers it when the task is resumed with send(None).
            trap.result = result
            trap.exc = exc
            trap.state = TS_READY
        else:
            trap.state = TS_DONE
            if exc is None:
                t._send = result
            else:
                t._throw = exc
        self._ready.push(t)
        return 0

    cdef int _answer_any(self, Trap trap, object result, object exc) except -1:
        """Answer ``trap``, whichever front end's task waits on it: a native
        task becomes ready (_answer); another's (an asyncio Task awaiting a
        native awaitable) gets the answer through the trap, as an awaiting
        native task does, and is woken by its front end."""
        cdef object waiter = trap.task
        if type(waiter) is Task:
            return self._answer(<Task>waiter, trap, result, exc)
        trap.task = None
        trap.result = result
        trap.exc = exc
        trap.state = TS_READY
        return wake_foreign(waiter)

    cdef int _park_on_future(self, Task t, object fut) except -1:
        """``t`` awaits an asyncio future of the Loop on this core: it waits
        on a PARK trap that the future's done-callback answers; it is then
        resumed with send(None), and the future's __await__ returns its
        result or raises its exception, as under an asyncio Task."""
        cdef Trap trap
        if not fut._asyncio_future_blocking:
            t._throw = RuntimeError("yield was used instead of yield from in task %r with %r"
                                    % (t._get_name(), fut))
            self._ready.push(t)
            return 0
        fut._asyncio_future_blocking = False
        trap = make_trap(TRAP_PARK)
        trap.arg = fut
        trap.state = TS_BARE
        trap.task = t
        t._trap = trap
        fut.add_done_callback(_FutureWaker_new(trap))
        if t._must_cancel:
            # cancel() came while the task ran: the future is cancelled too.
            t._must_cancel = False
            t._num_cancels -= 1
            self._cancel(t, t._cancel_msg)
        return 0

    cdef int _fail_trap(self, Task t, Trap trap, object exc) except -1:
        return self._answer(t, trap, None, exc)

    cdef int _deliver_ready(self, Task t, Trap trap) except -1:
        """``x = yield trap`` of a trap answered before it was yielded."""
        trap.state = TS_DONE
        if trap.exc is None:
            t._send = trap.result
        else:
            t._throw = trap.exc
        trap.result = trap.exc = None
        self._ready.push(t)
        return 0

    cdef int _unblock(self, Trap trap) except -1:
        """Remove ``trap`` from whatever holds it (timer heap, poller, joiners)."""
        cdef int kind = trap.kind
        cdef Task target
        if kind == TRAP_SLEEP:
            self._timers.cancel(&trap.timer)
        elif kind == TRAP_READ:
            self._poller.unwatch(trap.fd, YL_READ)
        elif kind == TRAP_WRITE:
            self._poller.unwatch(trap.fd, YL_WRITE)
        elif kind == TRAP_JOIN:
            target = <Task>trap.arg
            if target._joiners is trap:
                target._joiners = None
            else:
                (<list>target._joiners).remove(trap)
        elif kind == TRAP_PARK:
            # As a cancelled future: the primitive that parked the task sees
            # it when the task resumes, and takes the trap off its list.
            trap.cancelled = True
        return 0

    cdef int _finish(self, Task t, object result, object exc) except -1:
        cdef object joiners
        cdef _ErrorReport report
        cdef PyObject* prev
        cdef PyObject* nxt
        _gc_show(t)                  # the kernel is about to let go of it
        if exc is None:
            if t._must_cancel:       # cancelled right before it returned
                t._must_cancel = False
                t._state = TASK_CANCELLED
                t._exception = _new_cancelled_error(t._cancel_msg)
            else:
                t._state = TASK_DONE
                t._result = result
        elif _is_cancelled_error(exc):
            t._state = TASK_CANCELLED
            t._exception = exc
        else:
            t._state = TASK_FAILED
            if type(exc) is RuntimeError:
                explain_foreign_error(exc)   # asyncio code in a native task: say so
            t._exception = exc
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                # Stop; run() re-raises it. Any other BaseException
                # (GeneratorExit, a library's own) fails this task alone,
                # as in asyncio.
                t._retrieved = True
                self._stop_now = False   # a second Ctrl-C, if it was one: not lost
                if self._abort is None:
                    self._abort = exc
        t._stack = None
        t._kernel = None             # a finished task does not keep its kernel alive
        if self._tracer is not None:
            self._tracer.record(EV_FINISH, t._state, t._id, 0, 0,
                                t._result if t._state == TASK_DONE else t._exception)
            self._tracer.task_finished(t._id, t._get_name())
        joiners = t._joiners
        t._joiners = None
        if type(joiners) is Trap:
            t._retrieved = True
            self._wake_joiner(t, <Trap>joiners)
        elif joiners:
            t._retrieved = True
            for j in <list>joiners:
                self._wake_joiner(t, j)
        if t._callbacks:
            for fn, context in t._callbacks:
                self._call_soon(fn, (t,), context)
            t._callbacks = None
        if t._state == TASK_FAILED and not t._retrieved:
            # An exception nobody joined or asked for is reported when the
            # task is freed, never lost.
            report = _ErrorReport.__new__(_ErrorReport)
            report.exc = t._exception
            report.name = t._get_name()
            t._report = report
        prev = t._prev
        nxt = t._next
        if prev != NULL:
            (<Task>prev)._next = nxt
        else:
            self._live_head = nxt
        if nxt != NULL:
            (<Task>nxt)._prev = prev
        else:
            self._live_tail = prev
        t._prev = t._next = NULL
        self.live_tasks -= 1
        Py_DECREF(t)                 # the caller still holds one reference
        return 0

    cdef int _wake_joiner(self, Task t, Trap j) except -1:
        """Answer the JOIN trap ``j`` with the outcome of ``t``, just finished."""
        # j.task may be a yieldloop.Loop task joining a native one (mixing)
        if self._tracer is not None and type(j.task) is Task:
            self._tracer.record(EV_WAKE, W_TASK, (<Task>j.task)._id, t._id, 0, None)
        if t._state == TASK_DONE:
            return self._answer_any(j, t._result, None)
        return self._answer_any(j, None, t._exception)

    cdef bint _cancel(self, Task t, object msg) except -1:
        cdef Trap trap
        if t._state != TASK_PENDING:
            return False
        t._num_cancels += 1
        t._cancel_msg = msg
        trap = t._trap
        if trap is not None:
            self._unblock(trap)
            if trap.kind == TRAP_PARK and type(trap.arg) is not WaitList and hasattr(
                    trap.arg, "_asyncio_future_blocking"):
                trap.arg.cancel(msg)       # an asyncio future it awaits: cancelled too
            if self._tracer is not None:
                self._tracer.record(EV_WAKE, W_CANCEL, t._id,
                                    self._current._id if self._current is not None else 0, 0, None)
            self._answer(t, trap, None, _new_cancelled_error(msg))
        else:
            t._must_cancel = True
        return True

    cdef int _interrupt(self) except -1:
        self._sigint_pending = False
        self._interrupts += 1
        if self._main is not None:
            self._cancel(self._main, None)
        return 0

    cdef int _cancel_all(self) except -1:
        """Cancel every live task not already asked to stop."""
        cdef list tasks = []
        cdef PyObject* p = self._live_head
        cdef Task t
        while p != NULL:
            tasks.append(<Task>p)
            p = (<Task>p)._next
        for t in tasks:
            if t._num_cancels == 0 and not t._must_cancel:
                self._cancel(t, None)
        return 0

    cdef int _release(self) except -1:
        """After a run: drop every queue, timer, fd registration and task."""
        cdef PyObject* p
        cdef Task t
        self._sched.close()
        self._sched.native = None        # no cycle left between the core and the kernel
        self._sched.clock = None
        # Tasks still alive only if run() was stopped hard (a second Ctrl-C
        # during cleanup, or a fork): let go of them, and of every trap they
        # wait on, so that a primitive woken later finds nobody there.
        while self._live_head != NULL:
            p = self._live_head
            t = <Task>p
            _gc_show(t)
            self._live_head = t._next
            t._prev = t._next = NULL
            t._state = TASK_CANCELLED
            t._retrieved = True
            t._exception = _new_cancelled_error("the kernel stopped before this task finished")
            t._kernel = None
            _abandon_trap(t)
            t._joiners = None
            t._callbacks = None
            self.live_tasks -= 1
            Py_DECREF(t)
        self._live_tail = NULL
        self._current = None
        self._executor = None
        self._asyncgens = None
        return 0


# --- the cyclic GC and live tasks. The kernel holds each live task (its
# --- live list) until it finishes, and the kernel is held by run(): a live
# --- task and what only it holds are reachable, so the collector can never
# --- free any of it, yet walked them all at each collection, which was most
# --- of the cost of a spawn. So a live task, its coroutine and the context
# --- spawn made for it are taken out of the collector's lists, and put back
# --- when the kernel lets go of the task (_finish, _release): from then on a
# --- cycle through them is collected as usual. Untracked objects look like
# --- roots to the collector, so what they refer to stays alive: right, as
# --- all of it is reachable through the kernel meanwhile.

cdef inline void _gc_hide(Task t, bint own_context) noexcept:
    """Untrack a new task, its coroutine (a CPython coroutine or generator:
    kinds whose deallocation we know) and, if spawn made it, its context."""
    # The task and a context just made are tracked for sure: no need to ask.
    cdef unsigned char off = UNTRACKED_TASK
    PyObject_GC_UnTrack(t)
    if (PyCoro_CheckExact(t._coro) or PyGen_CheckExact(t._coro)) and yl_gc_untrack(t._coro):
        off |= UNTRACKED_CORO
    if own_context:
        PyObject_GC_UnTrack(t._context)
        off |= UNTRACKED_CONTEXT
    t._untracked = off


cdef inline void _gc_show(Task t) noexcept:
    """Track again what _gc_hide untracked. The coroutine is the one the
    task was spawned with: the bottom of its stack while it awaits
    another iterator (``x = yield awaitable``), else ``_coro``."""
    cdef unsigned char off = t._untracked
    if off == 0:
        return
    t._untracked = 0
    if off & UNTRACKED_CORO:
        yl_gc_track(t._stack[0] if t._stack else t._coro)
    if off & UNTRACKED_CONTEXT:
        yl_gc_track(t._context)
    if off & UNTRACKED_TASK:
        yl_gc_track(t)


cdef int _abandon_trap(Task t) except -1:
    """Detach the trap an abandoned task waits on: a wait list drops it, and
    it counts as cancelled, so waking it later does nothing."""
    cdef Trap trap = t._trap
    if trap is None:
        return 0
    t._trap = None
    trap.task = None
    trap.cancelled = True
    trap.state = TS_DONE
    if trap.wl_owner != NULL:
        (<WaitList>trap.wl_owner).remove(trap)
    return 0


def _shut_down_executor(Kernel kernel, executor, list done):
    # The thread of Kernel._drain_executor.
    try:
        executor.shutdown(wait=True)
    finally:
        try:
            kernel.call_soon_threadsafe(done.append, True)
        except RuntimeError:
            pass                 # run() was stopped hard meanwhile


# --- fork: in the child, no kernel runs (see _process.pyx)

def _after_fork_in_child():
    global yl_running_kernel
    cdef Kernel k = running_kernel()
    if k is not None and k._saved_hooks is not None:
        sys.set_asyncgen_hooks(*k._saved_hooks)
    yl_running_kernel = NULL
    after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --- the public functions

#: Set by ``python -m yieldloop trace``: a function giving the Tracer (or
#: file name) for each run() that is not given a trace of its own.
_trace_all = None

cdef _discard(object main):
    """Close a coroutine or generator that will never run (no warning)."""
    if PyCoro_CheckExact(main) or PyGen_Check(main):
        main.close()


cdef int _check_clock(object clock) except -1:
    for name in ("current_time", "deadline_to_sleep_time"):
        if not callable(getattr(clock, name, None)):
            raise TypeError(
                "run(): clock must be an object with current_time() and "
                "deadline_to_sleep_time() methods, such as yieldloop.testing.MockClock(); "
                "got %s, which has no %s()" % (_short_repr(clock), name))
    return 0


cdef int _close_signal_receivers(Kernel k) except -1:
    """At the end of a run: close the signal receivers its tasks left open
    (only a hard stop abandons a task inside its block), so that no
    handler of this run stays installed."""
    receivers, k._signal_receivers = k._signal_receivers, None
    for r in reversed(receivers):
        try:
            r._abandon()
        except BaseException as e:
            logger().error("cannot restore the signal handlers of %r", r, exc_info=e)
    return 0


cdef object _coroutine_of(object target, tuple args, str what):
    """What a task runs for ``target``: a coroutine, a generator, or the
    iterator of an awaitable; functions are called with ``args`` first."""
    cdef object obj = target
    if args or (callable(target) and not yl_is_awaitable(target)):
        if not callable(target):
            raise TypeError("%s(): arguments were given but %s is not callable"
                            % (what, _short_repr(target)))
        obj = target(*args)
    return _checked_coroutine(obj, target, what)


cdef object _coroutine_of_array(object target, PyObject** args, Py_ssize_t nargs, str what):
    """_coroutine_of() with the arguments in a C array (spawn's own)."""
    cdef object obj = target
    if nargs or (callable(target) and not yl_is_awaitable(target)):
        if not callable(target):
            raise TypeError("%s(): arguments were given but %s is not callable"
                            % (what, _short_repr(target)))
        obj = PyObject_Vectorcall(target, args, <size_t>nargs, NULL)
    return _checked_coroutine(obj, target, what)


cdef object _checked_coroutine(object obj, object target, str what):
    """``obj`` (``target`` or what calling it gave) as what a task runs."""
    if PyCoro_CheckExact(obj):
        return obj
    if PyGen_Check(obj):
        if obj.gi_frame is None:
            # It would return None at once: say so, as CPython does for a
            # coroutine awaited twice.
            raise RuntimeError("%s() got a generator that has already finished; "
                               "give it a new one" % what)
        return obj
    if isinstance(obj, Task):
        raise TypeError("%s() got a Task, which is already running; await it instead" % what)
    if yl_is_awaitable(obj):
        return yl_await_iter(obj)
    if obj is target:
        raise TypeError("%s() needs a coroutine, a generator, or a function returning "
                        "one; got %s" % (what, type(obj).__name__))
    raise TypeError("%s() needs a coroutine, a generator, or a function returning one; "
                    "%s returned %s" % (what, _short_repr(target), type(obj).__name__))


cdef inline Kernel _running_kernel(str what):
    cdef Kernel k
    if yl_running_kernel == NULL:
        k = _loop_kernel()
        if k is None:
            raise RuntimeError("%s needs a running yieldloop kernel: call it from a task "
                               "started by yieldloop.run() or run by yieldloop.Loop" % what)
        return k
    return <Kernel>yl_running_kernel


cdef Kernel running_kernel():
    """The kernel running in this thread (or the one of the yieldloop.Loop
    running in it), or None."""
    return <Kernel>yl_running_kernel if yl_running_kernel != NULL else _loop_kernel()


cdef Kernel _loop_kernel():
    """The kernel front end of the yieldloop.Loop running in this thread
    (made on first use), or None: native awaitables and spawn() work in
    asyncio code the Loop runs."""
    events = sys.modules.get("asyncio.events")
    if events is None:
        return None
    core = getattr(events._get_running_loop(), "_core", None)
    if type(core) is not Core:
        return None
    return kernel_of_core(<Core>core)


cdef Kernel kernel_of_core(Core core):
    """The kernel front end of ``core``: the one running on it, or a guest
    kernel made for it (a yieldloop.Loop's core), which runs the native
    tasks spawned from asyncio code and performs the traps asyncio Tasks
    await. It lives until the Loop closes (see LoopCore.close)."""
    cdef Kernel k
    if core.native is not None:
        return <Kernel>core.native
    if core.aio is None:
        raise RuntimeError("this core has no yieldloop.Loop to run a kernel on")
    _load_task_hooks()
    k = Kernel.__new__(Kernel)
    k._sched = core
    k._ready = core.ready
    k._timers = core.timers
    k._poller = core.poller
    k._guest = True
    k._aio = core.aio
    k._inbox_open = True
    core.native = k
    core.native_task_type = Task
    return k


cdef foreign_wake_fn _foreign_waker = NULL


cdef int set_foreign_waker(foreign_wake_fn fn) except -1:
    global _foreign_waker
    _foreign_waker = fn
    return 0


cdef int wake_foreign(object waiter) except -1:
    """Queue ``waiter`` (a task of another front end) whose trap was answered."""
    if _foreign_waker == NULL:
        raise RuntimeError("no front end wakes %r" % (waiter,))
    return _foreign_waker(waiter)


cdef str waiter_name(object waiter):
    """The name of the task waiting on a trap, whichever its front end."""
    if type(waiter) is Task:
        return (<Task>waiter)._get_name()
    try:
        return waiter.get_name()
    except Exception:
        return _short_repr(waiter)


cdef object _future_loop(object fut):
    """asyncio.futures._get_loop: get_loop(), or else the _loop attribute."""
    get_loop = getattr(fut, "get_loop", None)
    if get_loop is not None:
        return get_loop()
    return getattr(fut, "_loop", None)


@cython.final
cdef class _FutureWaker:
    """The done-callback an asyncio future gets from the native task that
    awaits it: answers the task's PARK trap (nothing if it is done, e.g.
    the task was cancelled first)."""
    cdef Trap _trap

    def __call__(self, fut):
        if not trap_done(self._trap):
            wake(self._trap, None, None)


cdef object _FutureWaker_new(Trap trap):
    cdef _FutureWaker w = _FutureWaker.__new__(_FutureWaker)
    w._trap = trap
    return w


# asyncio's _enter_task / _leave_task, loaded with the first Loop attached.
cdef object _enter_task = None
cdef object _leave_task = None


cdef object _current_tasks = None     # asyncio's dict loop -> current task (3.10-3.13)


cdef int _load_task_hooks() except -1:
    global _enter_task, _leave_task, _current_tasks
    if _enter_task is None:
        from yieldloop._aio_private import enter_task, leave_task, current_tasks
        _enter_task = enter_task
        _leave_task = leave_task
        _current_tasks = current_tasks
    return 0


cdef Kernel need_kernel(str what):
    """The kernel running in this thread; RuntimeError naming ``what`` if none."""
    return _running_kernel(what)


cdef Task spawn_task(Kernel k, object coro, object name, object context=None):
    """spawn() for the primitives: ``coro`` may be any awaitable; the task
    runs in ``context`` (default: a copy of the current context)."""
    return k._spawn(_coroutine_of(coro, (), "spawn"), name, context)


cdef class _GenAwaitable:
    """Makes a plain generator awaitable from ``async def`` code."""
    cdef object _gen

    def __await__(self):
        return self._gen


cdef object as_awaitable(object aw):
    """``aw``, or a wrapper that lets ``async def`` code await it if it is a
    plain generator (the kernel runs those as generator-based coroutines)."""
    cdef _GenAwaitable w
    if PyGen_Check(aw):
        w = _GenAwaitable.__new__(_GenAwaitable)
        w._gen = aw
        return w
    return aw


cdef int wake(Trap trap, object value, object exc) except -1:
    """Answer a PARK trap with ``value`` or ``exc``, as Future.set_result /
    set_exception; nothing happens if it is already done."""
    cdef Task t, by
    if trap_done(trap):
        return 0
    if trap.task is None:
        # Not yet awaited: it returns at once when it is.
        trap.result = value
        trap.exc = exc
        trap.state = TS_READY
        return 0
    if type(trap.task) is not Task:
        # An asyncio Task awaiting a native primitive (_bridge.pyx).
        waiter, trap.task = trap.task, None
        trap.result = value
        trap.exc = exc
        trap.state = TS_READY
        return wake_foreign(waiter)
    t = <Task>trap.task
    if t._kernel is None:
        return 0                 # abandoned by a hard stop (Kernel._release)
    if t._kernel._tracer is not None:
        by = t._kernel._current
        t._kernel._tracer.record(EV_WAKE, W_TASK if by is not None else W_CALLBACK, t._id,
                                 by._id if by is not None else 0, 0, _park_label(trap))
    return t._kernel._answer(t, trap, value, exc)


cdef int discard(Trap trap) except -1:
    """As Future.cancel() on a PARK trap nobody will wait on any more."""
    if trap_done(trap):
        return 0
    if trap.task is not None:
        if type(trap.task) is Task:
            (<Task>trap.task)._trap = None
        trap.task = None
    trap.cancelled = True
    trap.state = TS_DONE
    return 0


def run(main, *args, trace=None, clock=None):
    """Run ``main`` on a new kernel until it finishes and return its result.

    ``main`` is a coroutine, a generator, or a function (async def,
    generator function) called with ``args``. Its exception propagates. On
    exit every task still alive is cancelled and waited for, and nothing
    stays registered. Ctrl-C cancels main and then raises
    KeyboardInterrupt. Calling run() inside a running kernel is an error.
    ``trace`` records the run: a yieldloop.Tracer, or a file name to write
    the trace to (.txt log, .svg or .html timeline, .png chart).
    ``clock`` replaces the monotonic clock for timers, timeouts and time()
    during the run: a yieldloop.testing.MockClock, for tests in virtual time.

        async def main(n):
            await yieldloop.sleep(0.1)
            return n * 2

        assert yieldloop.run(main, 21) == 42
    """
    return Kernel().run(main, *args, trace=trace, clock=clock)


cdef object _spawn_call(object coro, PyObject** args, Py_ssize_t nargs, object name):
    """spawn() once yl_spawn_fastcall (compat.h) has parsed its arguments."""
    cdef Kernel k = _running_kernel("spawn()")
    return k._spawn(_coroutine_of_array(coro, args, nargs, "spawn"), name)


# spawn() is a METH_FASTCALL builtin made in C: a Cython def would copy
# *args into a tuple, and calling ``coro(*args)`` would unpack it again.
# The docstring (kept alive here: the builtin points into it) starts with
# the signature, for help() and inspect.signature().
_SPAWN_DOC = b"""spawn(coro, *args, name=None)
--

Start a task running ``coro`` and return its Task. The task starts
after the current one yields; it runs in a copy of the current context.

``coro`` is a coroutine or generator, or a function called with ``args``.

    task = yieldloop.spawn(worker, queue, name="worker-1")
"""
spawn = yl_new_spawn(__name__, _SPAWN_DOC, _spawn_call)


@cython.embedsignature(True)
@cython.binding(False)
def current_task():
    """The Task running now (None outside a task step): a native Task, or,
    in asyncio code run by yieldloop.Loop, asyncio's current task."""
    cdef Kernel k = _running_kernel("current_task()")
    if k._current is None and k._aio is not None:
        return sys.modules["asyncio"].current_task(k._aio)
    return k._current


def notify_closing(fileobj):
    """Call before closing ``fileobj`` (an fd or an object with fileno())
    that tasks may be waiting on: they wake with ClosedResourceError, and
    the kernel forgets the fd, so that its number can be reused safely.

        yieldloop.notify_closing(sock)
        sock.close()
    """
    fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
    if fd < 0:
        raise ValueError("notify_closing(): %r is already closed" % (fileobj,))
    _running_kernel("notify_closing()").close_fd(fd)


def current_kernel():
    """The Kernel running in this thread: hand it to other threads so they
    can call its call_soon_threadsafe() / run_coroutine_threadsafe()."""
    return _running_kernel("current_kernel()")


def stats():
    """``Kernel.stats()`` of the running kernel."""
    return _running_kernel("stats()").stats()


@cython.embedsignature(True)
@cython.binding(False)
def time():
    """Seconds on the running kernel's clock: the clock given to
    ``run(clock=...)``, else the monotonic clock (time.monotonic's), which
    is also the answer outside a kernel. Timers and timeouts follow it."""
    return kernel_time()


cdef double kernel_time() except? -1.0:
    """time() for the layers above (timeouts): the running kernel's clock."""
    if yl_running_kernel != NULL:
        return (<Kernel>yl_running_kernel)._now()
    return yl_monotonic()


# --- garbage collection: the kernel owns one reference to each live task
# --- through the intrusive live list, which Cython's traverse cannot see.

cdef traverseproc _base_traverse = NULL


cdef int _traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    cdef PyObject* p = (<Kernel>o)._live_head
    cdef int r = _base_traverse(o, visit, arg)
    while r == 0 and p != NULL:
        r = visit(p, arg)
        p = (<Task>p)._next
    return r


yl_set_iternext(Task, _task_next)

_base_traverse = yl_hook_traverse(Kernel, _traverse)
if _base_traverse == NULL:
    raise ImportError("yieldloop.native._kernel: Kernel has no GC support")
