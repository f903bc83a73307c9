# yieldloop.Loop's Task (see _aiotask.pyx).
cimport cython
from yieldloop.aio._aiofuture cimport Future
from yieldloop.aio._loopbase cimport LoopBase


@cython.final
cdef class Task(Future):
    cdef object _coro_v
    cdef object _context_v
    cdef object _name_v           # the name once formatted or set; else None
    cdef unsigned long long _name_no   # "Task-<n>", formatted on first use
    cdef object _fut_waiter_v     # what the task awaits, or None
    cdef object _step_exc         # to throw in at the next step from the queue
    cdef object _wakeup_cb        # its wake-up callable, made on first use
    cdef int _num_cancels
    cdef bint _must_cancel
    cdef bint _log_destroy_pending
    cdef bint _own_context        # the context is the copy made for it
    cdef unsigned char _hidden    # HID_* flags: what gc_hide untracked (_taskgc.pxd)
    cdef unsigned char _reg       # REG_*: where all_tasks() finds it (_aiotask.pyx)

    cdef int _start(self, bint eager) except -1
    cdef int _schedule_step(self, object exc) except -1
    cdef int run_ready(self) except -1
    cdef int step_failed(self) except -1
    cdef int _step(self, object exc, bint enter) except -1
    cdef int _step_body(self, object exc) except -1
    cdef int _handle_yield(self, object result) except -1
    cdef int _await_trap(self, object trap) except -1
    cdef int _eager_start(self) except -1
    cdef bint _cancel_task(self, object msg) except -1
    cdef int _unqueued(self) except -1


cdef Task new_task(object loop, object coro, object name, object context)
cdef object task_step_callable(Task t)
cdef int run_ready_fn(Task t) except -1
