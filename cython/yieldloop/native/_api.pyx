# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The kernel running in this thread, and the native API's entry points.

run() makes a Kernel and runs it; spawn(), current_task(), stats(),
notify_closing() and current_kernel() ask the kernel running in this
thread: the one run() is running (_kernel.pyx keeps it), or else the guest
kernel of the yieldloop.Loop running in it, made on first use, so that
native awaitables and spawn() work in asyncio code the Loop runs. None of
them works outside a kernel; time() then reads the monotonic clock. The
layers above (primitives, streams, the Loop's Task) find the kernel here
too (need_kernel, running_kernel, kernel_of_core).

In a forked child no kernel runs: the at-fork hook here forgets the
parent's (see _process.pyx for the rest of a child's clean start).
"""
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._core cimport Core
from yieldloop.native._task cimport (
    Task, coroutine_of, coroutine_of_array, kernel_finder, set_kernel_finder)
from yieldloop.native._scheduler cimport load_task_hooks
from yieldloop.native._kernel cimport Kernel, thread_kernel, forget_thread_kernel
from yieldloop.native._process cimport after_fork_in_child
from yieldloop.includes.capi cimport yl_monotonic, yl_new_spawn

import os
import sys


cdef inline Kernel _running_kernel(str what):
    cdef PyObject* p = thread_kernel()
    cdef Kernel k
    if p == NULL:
        k = _loop_kernel()
        if k is None:
            raise RuntimeError("%s needs a running yieldloop kernel: call it from a task "
                               "started by yieldloop.run() or run by yieldloop.Loop" % what)
        return k
    return <Kernel>p


cdef Kernel running_kernel():
    """The kernel running in this thread (or the one of the yieldloop.Loop
    running in it), or None."""
    cdef PyObject* k = thread_kernel()
    return <Kernel>k if k != NULL else _loop_kernel()


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
    load_task_hooks()
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


cdef Kernel need_kernel(str what):
    """The kernel running in this thread; RuntimeError naming ``what`` if none."""
    return _running_kernel(what)


set_kernel_finder(<kernel_finder>need_kernel)   # for Task.add_done_callback()


cdef Task spawn_task(Kernel k, object coro, object name, object context=None):
    """spawn() for the primitives: ``coro`` may be any awaitable; the task
    runs in ``context`` (default: a copy of the current context)."""
    return k._spawn(coroutine_of(coro, (), "spawn"), name, context)


cdef double kernel_time() except? -1.0:
    """time() for the layers above (timeouts): the running kernel's clock."""
    cdef PyObject* k = thread_kernel()
    if k != NULL:
        return (<Kernel>k)._now()
    return yl_monotonic()


def _after_fork_in_child():
    cdef Kernel k = running_kernel()
    if k is not None and k._saved_hooks is not None:
        sys.set_asyncgen_hooks(*k._saved_hooks)
    forget_thread_kernel()
    after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --- the entry points

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
    return k._spawn(coroutine_of_array(coro, args, nargs, "spawn"), name)


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
    need_kernel("notify_closing()").close_fd(fd)


def current_kernel():
    """The Kernel running in this thread: hand it to other threads so they
    can call its call_soon_threadsafe() / run_coroutine_threadsafe()."""
    return need_kernel("current_kernel()")


def stats():
    """``Kernel.stats()`` of the running kernel."""
    return need_kernel("stats()").stats()


@cython.embedsignature(True)
@cython.binding(False)
def time():
    """Seconds on the running kernel's clock: the clock given to
    ``run(clock=...)``, else the monotonic clock (time.monotonic's), which
    is also the answer outside a kernel. Timers and timeouts follow it."""
    return kernel_time()
