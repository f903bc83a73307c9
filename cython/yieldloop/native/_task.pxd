# The native Task (see _task.pyx): what spawn() returns and the kernel steps.
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._traps cimport Trap
from yieldloop.native._traphost cimport TrapHost
from yieldloop.includes.capi cimport PyCoro_CheckExact, PyObject_Vectorcall, yl_is_awaitable

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
    # One-byte flags, with _num_cancels, in the 8 bytes after _trap.
    cdef unsigned char _must_cancel  # cancel() came while not blocked: throw at next step
    cdef unsigned char _state
    cdef unsigned char _untracked  # what spawn took out of the cyclic GC (see _scheduler.pyx)
    cdef unsigned char _retrieved  # outcome seen by a joiner, result() or exception()
    cdef int _num_cancels        # cancel() requests not undone by uncancel()
    cdef list _stack             # enclosing iterators while a yielded awaitable runs, or None
    # The kernel running the task (its TrapHost part: Kernel derives from
    # it), None once the task finished.
    cdef TrapHost _kernel
    cdef object _name            # None until asked for or set: "Task-<_id>"
    cdef unsigned long long _id
    cdef object _cancel_msg
    cdef object _result
    cdef object _exception
    cdef object _report          # _ErrorReport of an exception not yet retrieved, or None
    cdef object _joiners         # JOIN trap of the task waiting for it, a list of them, or None
    cdef list _callbacks         # done-callbacks [(fn, context)], or None
    cdef object __weakref__      # weakref.ref(task) tells when a task is freed
    # Intrusive list of the kernel's live tasks; the kernel owns one
    # reference to each live task, so these links are borrowed.
    cdef PyObject* _prev
    cdef PyObject* _next

    cdef str _get_name(self)


@cython.final
cdef class _ErrorReport:
    cdef object exc
    cdef object name                 # the task's name (kept up to date by the task)


cdef inline void retrieve(Task t) noexcept:
    """The outcome of ``t`` was seen: its exception is not to be reported."""
    t._retrieved = True
    if t._report is not None:
        (<_ErrorReport>t._report).exc = None
        t._report = None


# CancelledError is asyncio's, imported on first use.
cdef object new_cancelled_error(object msg)
cdef bint is_cancelled_error(object exc) except -1

cdef str short_repr(object value)

# What a task runs for the target given to run() or spawn().
cdef object coroutine_of(object target, tuple args, str what)
cdef object checked_coroutine(object obj, object target, str what)


cdef inline object coroutine_of_array(object target, PyObject** args, Py_ssize_t nargs,
                                      str what):
    """coroutine_of() with the arguments in a C array (spawn's own): inline,
    as spawn() is on the hot path."""
    cdef object obj = target
    if nargs or (callable(target) and not yl_is_awaitable(target)):
        if not callable(target):
            raise TypeError("%s(): arguments were given but %s is not callable"
                            % (what, short_repr(target)))
        obj = PyObject_Vectorcall(target, args, <size_t>nargs, NULL)
    if PyCoro_CheckExact(obj):
        return obj
    return checked_coroutine(obj, target, what)


cdef int discard_coroutine(object main) except -1
cdef object as_awaitable(object aw)

# The kernel running in this thread, as _api.need_kernel finds it
# (RuntimeError naming ``what`` if none): _api registers it, as this module cannot
# cimport _api (the kernel's modules cimport this one).
ctypedef TrapHost (*kernel_finder)(str what)
cdef int set_kernel_finder(kernel_finder fn) except -1

cdef str waiter_name(object waiter)
cdef object logger()
