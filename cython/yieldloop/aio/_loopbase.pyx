# cython: language_level=3, boundscheck=False, wraparound=False
"""The base of yieldloop.Loop's core that its Future and Task schedule on.

A future's done-callbacks and a task's steps go to the ready queue of the
loop's scheduler core (_core.pyx) directly (a task is queued itself,
without a Handle): this class holds the core and what a push must respect
(the loop being closed, calls queued from other threads first, debug
mode). LoopCore (_loop.pyx) derives from it and adds timers, fd callbacks
and running.
"""
import sys

from yieldloop.core._handles cimport new_handle, KIND_ASYNCIO
from yieldloop.core._core cimport Core, FrontEnd
from yieldloop.includes.capi cimport PyContext_CopyCurrent

from yieldloop._aio_private import extract_stack


cdef object _extract_stack():
    """Where a handle is being made (asyncio's debug mode keeps it)."""
    # Cython functions push no Python frame: frame 0 is the Python code
    # that called into the loop (call_soon, a future's set_result...).
    return extract_stack(sys._getframe(0))


# The core the next Loop made is to run on (_make_on_core), else None.
cdef Core _next_core = None


def _make_on_core(cls, Core core):
    """A new ``cls`` (yieldloop.Loop) on ``core``, a kernel's (yieldloop.run
    gives asyncio code this loop), instead of a core of its own."""
    global _next_core
    if core.aio is not None:
        raise RuntimeError("this core has a yieldloop.Loop already")
    _next_core = core
    try:
        return cls()
    finally:
        _next_core = None


cdef class LoopBase(FrontEnd):
    """The scheduler core and scheduling flags of yieldloop.Loop."""

    def __cinit__(self, *args, **kwargs):
        global _next_core
        if _next_core is not None:
            self._sched, _next_core = _next_core, None
        else:
            self._sched = Core()
            self._sched.open_poller()
        self._sched.aio = self
        self._ready_c = self._sched.ready

    @property
    def _thread_id(self):
        return self._thread_id_v

    @_thread_id.setter
    def _thread_id(self, value):
        self._thread_id_v = value
        self._running_c = value is not None

    cdef _check_open(self):
        if self._closed_c:
            raise RuntimeError("Event loop is closed")

    cdef object _context(self, object context):
        return PyContext_CopyCurrent() if context is None else context

    cdef _drain_inbox(self):
        self._sched.drain_inbox()

    cdef Handle _handle(self, callback, tuple args, context, unsigned char kind):
        cdef Handle h = new_handle(callback, args, self._context(context))
        h.kind = kind
        if self._debug_c:
            h.debug = True
            h.source_traceback = _extract_stack()
        return h

    cdef Handle _soon(self, callback, tuple args, context):
        """call_soon() for the transports: in ``context`` (None: a copy of
        the current one)."""
        cdef Handle h = self._handle(callback, args, context, KIND_ASYNCIO)
        self._ready_c.push(h)
        return h

    cdef Handle _call_soon_c(self, callback, tuple args, context):
        """call_soon() for futures and tasks, with its checks: refused once
        the loop is closed; after what other threads queued first."""
        cdef Handle h
        self._check_open()
        if self._debug_c:
            # asyncio's call_soon() checks, which its futures' callbacks
            # and tasks' steps go through in debug mode.
            self._check_thread()
            self._check_callback(callback, "call_soon")
        h = self._handle(callback, args, context, KIND_ASYNCIO)
        push_ready(self, h)
        return h
