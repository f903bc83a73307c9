# cython: language_level=3, boundscheck=False, wraparound=False
"""Callback handles: a function with its arguments, to be called soon or at
a deadline by the kernel (done-callbacks, timeouts, calls from threads).

A handle embeds its TimerSlot, so the same freelisted object serves the
ready queue and the timer heap; cancel() flags it and, if it sits in a heap,
tells the heap in O(1).
"""
cimport cython
from yieldloop._timerheap cimport TIMER_SCHEDULED
from yieldloop.includes.capi cimport PyContext_Enter, PyContext_Exit


@cython.final
@cython.freelist(256)
cdef class Handle:
    """A scheduled call; ``cancel()`` it to stop it from running."""

    def __init__(self, *args, **kwargs):
        raise TypeError("Handle objects are made by the kernel's call_soon/call_later")

    cdef int run(self) except -1:
        # Own the callable, its arguments and the context for the call: the
        # callback may cancel its own handle (a transport closing from its
        # reader), which drops them, and with them maybe the last reference
        # to the object whose method is running.
        cdef object fn = self.fn
        cdef tuple args = self.args
        cdef object context = self.context
        if context is None:
            fn(*args)
            return 0
        PyContext_Enter(context)
        try:
            fn(*args)
        finally:
            PyContext_Exit(context)
        return 0

    def cancel(self):
        """Do not run the callback (no effect once it has run)."""
        if self.cancelled_:
            return
        self.cancelled_ = True
        if self.heap is not None and self.timer.state == TIMER_SCHEDULED:
            self.heap.cancel(&self.timer)
        self.heap = None
        self.fn = None
        self.args = None

    def cancelled(self):
        """True once cancel() was called."""
        return self.cancelled_

    def when(self):
        """The deadline on the kernel's clock (timers only)."""
        return self.timer.when

    def get_context(self):
        """The contextvars.Context the callback runs in (None: the current one)."""
        return self.context

    def _run(self):
        # asyncio's spelling, for code that runs a handle by hand.
        self.run()

    @property
    def _cancelled(self):
        return self.cancelled_

    @property
    def _source_traceback(self):
        # Where it was made, recorded in asyncio's debug mode (else None).
        return self.source_traceback

    def __repr__(self):
        if self.cancelled_:
            return "<Handle cancelled>"
        name = getattr(self.fn, "__qualname__", None) or repr(self.fn)
        return "<Handle %s%r>" % (name, self.args)


cdef Handle new_handle(object fn, tuple args, object context):
    cdef Handle h = Handle.__new__(Handle)
    h.fn = fn
    h.args = args
    h.context = context
    return h
