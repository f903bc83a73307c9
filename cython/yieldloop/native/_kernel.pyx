# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The kernel: a run of native tasks, from run(main) until nothing is left.

Kernel derives from Scheduler (_scheduler.pyx: spawning, stepping and
finishing tasks), which derives from TrapHost (_traphost.pyx: the traps
tasks yield, callbacks and timers). What is here is what a run is:
``run()`` takes the signals (Ctrl-C cancels main, a second one stops at
once), the async generator hooks and, when asyncio is imported, asyncio's
running loop (a yieldloop.Loop on the same core, so that asyncio code
works in native tasks); it drives the core's run loop until main is done,
then shuts down as asyncio.run does (cancels and awaits the tasks left,
closes the async generators left open, waits for to_thread() calls) and
gives everything back. Also here: the entry points other threads may call
(call_soon_threadsafe, run_coroutine_threadsafe), the wait for a timer on a
clock of the run's own, and which kernel run() is running in this thread
(_api.pyx looks it up for the rest of the package).

Invariants:
- at most one kernel runs per thread (``yl_running_kernel``), and only
  inside run();
- when run() returns, the kernel holds no task, timer, fd registration,
  signal handler or async generator hook of the run;
- call_soon_threadsafe() takes a call exactly when the kernel will run it
  (``_inbox_open``).
"""
cimport cython
from libc.math cimport INFINITY
from cpython.object cimport PyObject
from yieldloop.core._poller cimport Poller
from yieldloop.core._handles cimport Handle, new_handle
from yieldloop.native._task cimport (
    Task, TASK_PENDING, TASK_DONE, retrieve, coroutine_of, discard_coroutine, short_repr, logger)
from yieldloop.native._scheduler cimport load_task_hooks
from yieldloop.native._process cimport take_signals, restore_signals
from yieldloop.native._tracer cimport Tracer

import sys

cdef extern from *:
    """
    /* The kernel running in this thread (borrowed: run() holds it). */
    static _Thread_local PyObject *yl_running_kernel = NULL;
    """
    PyObject* yl_running_kernel


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
            retrieve(task)
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
cdef class Kernel(Scheduler):
    """Kernel()\n--\n
    The native front end of a scheduler core (a ready queue, a timer heap
    and a poller; see _core.pyx).

    ``yieldloop.run(main)`` makes one and runs it; make your own to look at
    ``stats()`` after a run:

        kernel = yieldloop.Kernel()
        kernel.run(main)
        assert kernel.stats()["tasks"] == 0
    """

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
            discard_coroutine(main)
            raise RuntimeError("this kernel runs the native tasks of a yieldloop.Loop: "
                               "it is run by the Loop, not by run()")
        if yl_running_kernel != NULL:
            discard_coroutine(main)
            raise RuntimeError(
                "yieldloop.run() cannot be called while a yieldloop kernel is "
                "running in this thread; await the coroutine or spawn() it")
        if self._running:
            discard_coroutine(main)
            if self._poller is not None and self._poller._forked:
                self._check_not_forked()
            raise RuntimeError("this kernel is already running")
        if trace is not None and not isinstance(trace, Tracer):
            from yieldloop.trace import check_target
            try:
                check_target(trace)      # before main runs: a typo must not cost the run
            except BaseException:
                discard_coroutine(main)
                raise
        if clock is not None:
            try:
                _check_clock(clock)
            except BaseException:
                discard_coroutine(main)
                raise
        coro = coroutine_of(main, args, "run")
        try:
            logger()
            if trace is None and _trace_all is not None:
                trace = _trace_all()
            trace_file = None
            if trace is not None and not isinstance(trace, Tracer):
                trace_file, trace = trace, Tracer()
            poller = self._sched.open_poller()
        except BaseException:
            discard_coroutine(coro)
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
                discard_coroutine(coro)             # it never became a task
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
        load_task_hooks()
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
                discard_coroutine(coro)
                return
            try:
                task = kernel._spawn(coroutine_of(coro, (), "run_coroutine_threadsafe"), None)
            except BaseException as e:
                fut.set_exception(e)
                return
            task.add_done_callback(_copy_outcome(fut))
            fut.add_done_callback(_cancel_from_future(kernel, task))

        try:
            self.call_soon_threadsafe(start)
        except RuntimeError:
            discard_coroutine(coro)           # refused: it will never run
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

    cdef int handle_failed(self, Handle h, object exc) except -1:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            self._stop_now = False      # a second Ctrl-C, if it was one: not lost
            if self._abort is None:
                self._abort = exc       # stop, as asyncio's loop does
        else:
            _report_callback_error(h, exc)
        return 0

    cdef int wait_for_timer(self, double deadline) except -1:
        return self._poll_on_clock(deadline)

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

    cdef int _interrupt(self) except -1:
        self._sigint_pending = False
        self._interrupts += 1
        if self._main is not None:
            self._cancel(self._main, None)
        return 0

    cdef int _release(self) except -1:
        """After a run: drop every queue, timer, fd registration and task."""
        self._sched.close()
        self._sched.native = None        # no cycle left between the core and the kernel
        self._sched.clock = None
        # Tasks still alive only if run() was stopped hard (a second Ctrl-C
        # during cleanup, or a fork): let go of them, and of every trap they
        # wait on, so that a primitive woken later finds nobody there.
        self._abandon_all()
        self._executor = None
        self._asyncgens = None
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


# --- run()'s helpers

#: Set by ``python -m yieldloop trace``: a function giving the Tracer (or
#: file name) for each run() that is not given a trace of its own.
_trace_all = None


cdef int _check_clock(object clock) except -1:
    for name in ("current_time", "deadline_to_sleep_time"):
        if not callable(getattr(clock, name, None)):
            raise TypeError(
                "run(): clock must be an object with current_time() and "
                "deadline_to_sleep_time() methods, such as yieldloop.testing.MockClock(); "
                "got %s, which has no %s()" % (short_repr(clock), name))
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


# --- the kernel running in this thread (yieldloop.native._api looks it up)

cdef PyObject* thread_kernel() noexcept:
    """The kernel run() is running in this thread (borrowed), or NULL."""
    return yl_running_kernel


cdef int forget_thread_kernel() except -1:
    """In a forked child: no kernel runs (the parent's is not ours)."""
    global yl_running_kernel
    yl_running_kernel = NULL
    return 0
