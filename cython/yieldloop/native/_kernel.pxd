# The kernel: tasks and the run loop that drives them with PyIter_Send.
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._readyqueue cimport ReadyQueue
from yieldloop.core._timerheap cimport TimerHeap
from yieldloop.core._poller cimport Poller
from yieldloop.core._traps cimport Trap
from yieldloop.core._handles cimport Handle
from yieldloop.native._tracer cimport Tracer
from yieldloop.core._core cimport Core, FrontEnd

cdef enum TaskState:
    TASK_PENDING = 0     # not finished: ready, running or blocked on a trap
    TASK_DONE            # returned a value
    TASK_FAILED          # raised an exception
    TASK_CANCELLED       # finished by CancelledError


@cython.final
cdef class Task:
    # What every step reads and writes comes first, together: fewer cache
    # lines per switch.
    cdef object _coro            # the iterator the kernel resumes (innermost)
    cdef object _context         # contextvars.Context every step runs in
    cdef object _send            # value for the next resume
    cdef object _throw           # exception for the next resume, or None
    cdef Trap _trap              # the trap this task is blocked on, or None
    cdef bint _must_cancel       # cancel() came while not blocked: throw at next step
    cdef unsigned char _state
    cdef unsigned char _untracked  # what spawn took out of the cyclic GC (see _gc_hide)
    cdef bint _retrieved         # outcome seen by a joiner, result() or exception()
    cdef list _stack             # enclosing iterators while a yielded awaitable runs, or None
    cdef Kernel _kernel
    cdef object _name            # None until asked for or set: "Task-<_id>"
    cdef unsigned long long _id
    cdef int _num_cancels        # cancel() requests not undone by uncancel()
    cdef object _cancel_msg
    cdef object _result
    cdef object _exception
    cdef object _report          # _ErrorReport of an exception not yet retrieved, or None
    cdef object _joiners         # JOIN trap of the task waiting for this one, a list of them, or None
    cdef list _callbacks         # done-callbacks [(fn, context)], or None
    cdef object __weakref__      # weakref.ref(task) tells when a task is freed
    # Intrusive list of the kernel's live tasks; the kernel owns one
    # reference to each live task, so these links are borrowed.
    cdef PyObject* _prev
    cdef PyObject* _next

    cdef str _get_name(self)


@cython.final
cdef class Kernel(FrontEnd):
    # The scheduler core the kernel runs on (_core.pyx); _ready, _timers
    # and _poller are the core's own (same objects), named for the hot paths.
    cdef Core _sched
    cdef ReadyQueue _ready
    cdef TimerHeap _timers
    cdef Poller _poller
    cdef Task _current
    cdef Task _main
    cdef PyObject* _live_head        # oldest live task (borrowed, see Task._prev)
    cdef PyObject* _live_tail
    cdef readonly Py_ssize_t live_tasks
    cdef readonly unsigned long long switches
    cdef readonly unsigned long long spawned
    cdef bint _running
    cdef object _abort               # BaseException that stops the kernel (KeyboardInterrupt, ...)
    cdef bint _sigint_pending        # set by the SIGINT handler, acted on by the loop
    cdef bint _stop_now              # a second Ctrl-C came: stop at the next iteration
    cdef int _interrupts             # Ctrl-C presses seen in this run
    cdef bint _inbox_open            # call_soon_threadsafe() accepts calls (see _shut_down)
    cdef object _saved_hooks         # the asyncgen hooks run() replaced, or None
    cdef object _executor            # to_thread()'s pool (made on first use)
    cdef object _asyncgens           # WeakSet of async generators started in this run
    cdef Tracer _tracer              # records what the kernel does, or None
    cdef object _clock               # run(clock=...): the run's clock, or None (C monotonic)
    cdef list _signal_receivers      # open_signal_receiver()s open in this run, or None
    # Mixing (see _bridge.pyx): the yieldloop.Loop on the same core, whose
    # futures native tasks may await, or None; set for a guest kernel (made
    # for a Loop's core, not run by run()) too.
    cdef object _aio
    cdef bint _guest

    cdef Task _spawn(self, object coro, object name, object context=*)
    cdef double _now(self) except? -1.0
    cdef double _clock_time(self) except? -1.0
    cdef int _poll_on_clock(self, double deadline) except -1
    cdef int _run_once(self) except -1
    cdef int _step(self, Task t) except -1
    cdef int _dispatch(self, Task t, object value) except -1
    cdef int _take_trap(self, Task t, Trap trap) except -1
    cdef int _await_other(self, Task t, object value) except -1
    cdef int _trace_trap(self, Task t, Trap trap) except -1
    cdef int _answer(self, Task t, Trap trap, object result, object exc) except -1
    cdef int _answer_any(self, Trap trap, object result, object exc) except -1
    cdef int _park_on_future(self, Task t, object fut) except -1
    cdef int _step_entered(self, Task t) except -1
    cdef int _attach_loop(self) except -1
    cdef int _detach_loop(self) except -1
    cdef int _cancel_aio_tasks(self) except -1
    cdef int _fail_trap(self, Task t, Trap trap, object exc) except -1
    cdef int _deliver_ready(self, Task t, Trap trap) except -1
    cdef int _unblock(self, Trap trap) except -1
    cdef int _finish(self, Task t, object result, object exc) except -1
    cdef int _wake_joiner(self, Task t, Trap j) except -1
    cdef bint _cancel(self, Task t, object msg) except -1
    cdef int _interrupt(self) except -1
    cdef int _cancel_all(self) except -1
    cdef int _release(self) except -1
    cdef int _shut_down(self) except -1
    cdef int _drain_executor(self) except -1
    cdef int _check_not_forked(self) except -1
    cdef Handle _call_soon(self, object fn, tuple args, object context)
    cdef Handle _call_at(self, double when, object fn, tuple args, object context)
    cdef object _get_executor(self)
    cdef int _shutdown_asyncgens(self) except -1
    cdef bint _evict_stale(self, Trap trap, int side) except -1
    # I/O callbacks for the layers above (streams): `h` goes to the ready
    # queue when `fd` is ready for `side`.
    cdef int watch_fd(self, int fd, int side, Handle h, object owner) except -1
    cdef object unwatch_fd(self, int fd, int side)
    cdef int close_fd(self, int fd) except -1


# A trap awaited by a task of another front end (an asyncio Task of
# yieldloop.Loop) is answered, then its waiter woken through this function,
# which that front end registers.
ctypedef int (*foreign_wake_fn)(object waiter) except -1
cdef int set_foreign_waker(foreign_wake_fn fn) except -1
cdef int wake_foreign(object waiter) except -1
# The kernel front end of a core: its own, or a guest one made for it.
cdef Kernel kernel_of_core(Core core)
cdef str waiter_name(object waiter)

# For the primitives built on the kernel (sync, queues, structured, threads).
cdef Kernel running_kernel()
cdef Kernel need_kernel(str what)
cdef double kernel_time() except? -1.0
cdef int wake(Trap trap, object value, object exc) except -1
cdef int discard(Trap trap) except -1
cdef bint is_cancelled_error(object exc) except -1
cdef object new_cancelled_error(object msg)
cdef Task spawn_task(Kernel k, object coro, object name, object context=*)
cdef object as_awaitable(object aw)
cdef object logger()
