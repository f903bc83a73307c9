# The kernel's scheduler (see _scheduler.pyx): spawns, steps and finishes
# native tasks. Derives from TrapHost; Kernel (_kernel.pxd) derives from it.
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._traps cimport Trap
from yieldloop.native._task cimport Task
from yieldloop.native._traphost cimport TrapHost


cdef class Scheduler(TrapHost):
    cdef PyObject* _live_head        # oldest live task (borrowed, see Task._prev)
    cdef PyObject* _live_tail
    cdef readonly Py_ssize_t live_tasks
    cdef readonly unsigned long long switches
    cdef readonly unsigned long long spawned
    cdef object _abort               # BaseException that stops the kernel (KeyboardInterrupt, ...)
    cdef bint _stop_now              # a second Ctrl-C came: stop at the next iteration

    # Mixing (see _bridge.pyx): the yieldloop.Loop on the same core, whose
    # futures native tasks may await, or None; set for a guest kernel (made
    # for a Loop's core, not run by run()) too.
    cdef object _aio

    # Final: called directly within this module, never overridden.
    @cython.final
    cdef Task _spawn(self, object coro, object name, object context=*)

    @cython.final
    cdef int _step(self, Task t) except -1

    @cython.final
    cdef int _step_entered(self, Task t) except -1

    @cython.final
    cdef int _dispatch(self, Task t, object value) except -1

    @cython.final
    cdef int _await_other(self, Task t, object value) except -1

    @cython.final
    cdef int _park_on_future(self, Task t, object fut) except -1

    @cython.final
    cdef int _finish(self, Task t, object result, object exc) except -1

    @cython.final
    cdef int _wake_joiner(self, Task t, Trap j) except -1

    @cython.final
    cdef int _cancel_all(self) except -1

    @cython.final
    cdef int _abandon_all(self) except -1


# asyncio's hooks for its current task, loaded when a Loop first shares a core.
cdef int load_task_hooks() except -1
