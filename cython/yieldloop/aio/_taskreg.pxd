# Where asyncio finds yieldloop.Loop's tasks (see _taskreg.pyx).

cdef enum:
    # Task._reg: where asyncio.all_tasks() finds a pending task.
    REG_NONE = 0
    REG_STRONG = 1     # asyncio's set of eager tasks (queued or running)
    REG_WEAK = 2       # asyncio's WeakSet of tasks

cdef int enter_task(object loop, object task) except -1
cdef int leave_task(object loop, object task) except -1
cdef object swap_current_task(object loop, object task)
cdef int add_strong(object task) except -1
cdef int discard_strong(object task) except -1
cdef int add_weak(object task) except -1
cdef bint strong_possible
