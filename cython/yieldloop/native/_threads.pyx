# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""to_thread(): run a blocking function in a worker thread without blocking the kernel.

The task parks on a PARK trap; the worker runs the function in a copy of
the task's contextvars context and hands the outcome back with the
kernel's call_soon_threadsafe(), which wakes the poller through its
self-pipe. The pool is the kernel's own, bounded (ThreadPoolExecutor's
default size), made on first use and shut down (waited for) when run()
ends, as asyncio.run does with its default executor.
"""
from yieldloop.core._traps cimport Trap, make_trap, TRAP_PARK
from yieldloop.native._traphost cimport wake
from yieldloop.native._kernel cimport Kernel
from yieldloop.native._api cimport need_kernel
from yieldloop.includes.capi cimport PyContext_CopyCurrent


def _deliver(Trap trap, result, exc):
    # Nothing happens if the waiting task was cancelled meanwhile.
    wake(trap, result, exc)


async def to_thread(fn, /, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` in a worker thread and return its result
    (or raise its exception); the kernel keeps running other tasks.

    Cancelling the awaiting task does not stop the thread (threads cannot
    be interrupted); its outcome is then dropped.

        data = await yieldloop.to_thread(path.read_bytes)
    """
    cdef Kernel kernel = need_kernel("to_thread()")
    cdef Trap trap = make_trap(TRAP_PARK)
    trap.arg = "to_thread()"
    context = PyContext_CopyCurrent()

    def work():
        try:
            result = context.run(fn, *args, **kwargs)
            exc = None
        except BaseException as e:
            result, exc = None, e
        try:
            kernel.call_soon_threadsafe(_deliver, trap, result, exc)
        except RuntimeError:
            pass                 # the kernel stopped: nobody waits any more

    kernel._get_executor().submit(work)
    return await trap
