# yieldloop.Loop's queued tasks and the cyclic GC. A task in the ready queue
# of a loop inside run_forever() is held by the queue, and the loop by that
# call: it cannot be garbage, yet the collector walked it, its coroutine and
# the contexts made for it and its first done-callback at each collection, a
# large part of the cost of a task that runs a step or two (asyncio's own
# tasks are walked the same way). So they are out of the collector's lists
# while the task is queued there (gc_hide, called by the task as it queues
# itself) and, up to 3.13, while it runs the step the loop took it out for
# (the loop holds it meanwhile; _aiotask.pyx says why not from 3.14 on); they are back when that step leaves it waiting, done or
# failed (gc_show, Task.run_ready and Task.step_failed), and for every task
# still queued when run_forever() returns (show_queued_tasks). A task that
# queues itself again in its step (a bare yield, sleep(0), a future done at
# once) stays out, without a track and untrack per step. A waiting task is
# tracked, so a cycle through it is collected, with asyncio's "Task was
# destroyed but it is pending!", as on asyncio's loop. Untracked objects look
# like roots to the collector: what they refer to stays alive, as it is
# reachable through the loop meanwhile. Nothing a step does drops the task's
# coroutine or context (a deallocator needs its object tracked); its first
# done-callback's context is shown when dropped (Future._show_ctx0).
# (Native tasks: native/_scheduler.pyx.)
from yieldloop.aio._aiotask cimport Task
from yieldloop.core._readyqueue cimport ReadyQueue
from yieldloop.includes.capi cimport PyCoro_CheckExact, PyGen_CheckExact, yl_gc_untrack, yl_gc_track

cdef enum:
    # What gc_hide untracked (Task._hidden).
    HID_TASK = 1
    HID_CORO = 2
    HID_CONTEXT = 4
    HID_CTX0 = 8        # (Future._ctx0_hidden says whether it still is)
    # Not an object: the task is running a step it was taken out hidden for
    # (Task.run_ready) and has not queued itself again.
    HID_STEPPING = 16


cdef inline void gc_hide(Task t) noexcept:
    # Untrack a queued task, its coroutine (a CPython coroutine or generator:
    # kinds whose deallocation we know) and the context made for it.
    cdef unsigned char off
    if t._hidden:
        # Queued again by the step it runs hidden: it stays so.
        t._hidden &= ~HID_STEPPING
        return
    off = HID_TASK if yl_gc_untrack(t) else 0
    if (PyCoro_CheckExact(t._coro_v) or PyGen_CheckExact(t._coro_v)) and yl_gc_untrack(t._coro_v):
        off |= HID_CORO
    if t._own_context and yl_gc_untrack(t._context_v):
        off |= HID_CONTEXT
    # The copy of the context its first done-callback runs in (asyncio.gather
    # adds one to each child), the task's alone.
    if t._own_ctx0 and not t._ctx0_hidden and t._ctx0 is not None and yl_gc_untrack(t._ctx0):
        t._ctx0_hidden = True
        off |= HID_CTX0
    t._hidden = off


cdef inline void gc_show(Task t) noexcept:
    # Track again what gc_hide untracked (the deallocators of coroutines and
    # contexts need them tracked).
    cdef unsigned char off = t._hidden
    t._hidden = 0
    t._show_ctx0()
    if off & HID_CORO:
        yl_gc_track(t._coro_v)
    if off & HID_CONTEXT:
        yl_gc_track(t._context_v)
    if off & HID_TASK:
        yl_gc_track(t)


cdef inline int show_queued_tasks(ReadyQueue ready) except -1:
    # Track again every task in ``ready`` that gc_hide untracked, and let
    # all_tasks() find it through asyncio's WeakSet: its loop leaves
    # run_forever().
    cdef Py_ssize_t i
    cdef object item
    for i in range(ready.count()):
        item = ready.item_at(i)
        if type(item) is Task:
            if (<Task>item)._hidden:
                gc_show(<Task>item)
            (<Task>item)._unqueued()
    return 0
