# cython: language_level=3, boundscheck=False, wraparound=False
"""Callback handles: a function with its arguments, to be called soon or at
a deadline by the kernel (done-callbacks, timeouts, calls from threads).

A handle embeds its TimerSlot, so the same freelisted object serves the
ready queue and the timer heap; cancel() flags it and, if it sits in a heap,
tells the heap in O(1).

yieldloop.Loop's call_soon_threadsafe() handles carry a re-entrant lock, as
asyncio's _ThreadSafeHandle (3.14+) does: the loop holds it while the
callback runs, and cancel()/cancelled() take it, so a cancel() from another
thread waits for a running callback to end, and one that wins the race keeps
the callback from running. Other handles have none and pay nothing for it.
"""
cimport cython
from yieldloop.core._timerheap cimport TIMER_SCHEDULED
from yieldloop.includes.capi cimport PyContext_Enter, PyContext_Exit

# asyncio's Handle classes, imported on first use: the kernel's handles
# never need them, and importing yieldloop must not import asyncio.
cdef object _AioHandle = None
cdef object _AioTimerHandle = None
cdef object _AioThreadSafeHandle = None
cdef object _format_callback_source = None


cdef _import_asyncio():
    global _AioHandle, _AioTimerHandle, _AioThreadSafeHandle, _format_callback_source
    from asyncio import events
    from yieldloop._aio_private import ThreadSafeHandle, format_callback_source
    _AioHandle = events.Handle
    _AioTimerHandle = events.TimerHandle
    # asyncio's class for call_soon_threadsafe() handles, where it has one.
    _AioThreadSafeHandle = events.Handle if ThreadSafeHandle is None else ThreadSafeHandle
    _format_callback_source = format_callback_source


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
        """Do not run the callback (no effect once it has run). On a
        call_soon_threadsafe() handle, waits for the callback if it is
        running in another thread."""
        if self.kind != KIND_ASYNCIO_THREADSAFE:
            self.cancel_unlocked()
            return
        with self.extra:
            self.cancel_unlocked()

    cdef int cancel_unlocked(self) except -1:
        if self.cancelled_:
            return 0
        if self.debug:
            # asyncio keeps the repr, for "Executing <Handle ...> took" warnings.
            self.repr_ = repr(self)
        self.cancelled_ = True
        if self.heap is not None and self.timer.state == TIMER_SCHEDULED:
            self.heap.cancel(&self.timer)
        self.heap = None
        self.fn = None
        self.args = None
        return 0

    def cancelled(self):
        """True once cancel() was called. On a call_soon_threadsafe()
        handle, waits for the callback if it is running in another thread."""
        if self.kind != KIND_ASYNCIO_THREADSAFE:
            return self.cancelled_
        with self.extra:
            return self.cancelled_

    def when(self):
        """The deadline on the loop's clock (timers only), as given to
        call_at() (an int stays an int, as with asyncio's TimerHandle)."""
        if self.extra is not None and self.kind == KIND_ASYNCIO_TIMER:
            return self.extra
        return self.timer.when

    def get_context(self):
        """The contextvars.Context the callback runs in (None: the current one)."""
        return self.context

    def _run(self):
        # asyncio's spelling, for code that runs a handle by hand; a
        # call_soon_threadsafe() handle runs under its lock, unless
        # cancelled meanwhile (asyncio's _ThreadSafeHandle._run).
        if self.kind != KIND_ASYNCIO_THREADSAFE:
            self.run()
            return
        with self.extra:
            if not self.cancelled_:
                self.run()

    # asyncio's private attribute names, which asyncio's own helpers (its
    # reprs, its slow-callback warning, TimerHandle's comparisons) read.
    @property
    def _cancelled(self):
        return self.cancelled_

    @property
    def _source_traceback(self):
        # Where it was made, recorded in asyncio's debug mode (else None).
        return self.source_traceback

    @property
    def _callback(self):
        return self.fn

    @property
    def _args(self):
        return self.args

    @property
    def _context(self):
        return self.context

    @property
    def _when(self):
        return self.when()

    # yieldloop.Loop's handles present themselves as asyncio.Handle and
    # asyncio.TimerHandle (isinstance() consults __class__ when the real
    # type does not match); a cdef class cannot inherit asyncio's Python
    # classes. type() still tells the truth.
    @property
    def __class__(self):
        return self._presented_class()

    cdef object _presented_class(self):
        if self.kind == KIND_KERNEL:
            return Handle
        if _AioHandle is None:
            _import_asyncio()
        if self.kind == KIND_ASYNCIO_TIMER:
            return _AioTimerHandle
        if self.kind == KIND_ASYNCIO_THREADSAFE:
            return _AioThreadSafeHandle
        return _AioHandle

    def _repr_info(self):
        # asyncio's Handle._repr_info / TimerHandle._repr_info: the class
        # name first (_ThreadSafeHandle on 3.14+).
        info = [self._presented_class().__name__]
        if self.cancelled_:
            info.append("cancelled")
        if self.kind == KIND_ASYNCIO_TIMER:
            info.append(f"when={self.when()}")
        if self.fn is not None:
            if _format_callback_source is None:
                _import_asyncio()
            info.append(_format_callback_source(self.fn, self.args, self.debug))
        if self.source_traceback:
            frame = self.source_traceback[-1]
            info.append(f"created at {frame[0]}:{frame[1]}")
        return info

    def __repr__(self):
        if self.repr_ is not None:
            return self.repr_
        if self.kind != KIND_KERNEL:
            return "<%s>" % " ".join(self._repr_info())
        if self.cancelled_:
            return "<Handle cancelled>"
        name = getattr(self.fn, "__qualname__", None) or repr(self.fn)
        return "<Handle %s%r>" % (name, self.args)

    # A timer orders and compares as asyncio's TimerHandle does (by its
    # deadline, with real TimerHandles too); other handles by identity.
    def __hash__(self):
        if self.kind == KIND_ASYNCIO_TIMER:
            return hash(self.when())
        return object.__hash__(self)

    def __richcmp__(self, other, int op):
        if self.kind != KIND_ASYNCIO_TIMER:
            if op == 2:
                return self is other
            if op == 3:
                return self is not other
            return NotImplemented
        if _AioTimerHandle is None:
            _import_asyncio()
        if not isinstance(other, _AioTimerHandle):
            return NotImplemented
        when = self.when()
        if op == 0:
            return when < other._when
        if op == 4:
            return when > other._when
        eq = (when == other._when and self.fn == other._callback
              and self.args == other._args and self.cancelled_ == other._cancelled)
        if op == 2:
            return eq
        if op == 3:
            return not eq
        if op == 1:
            return when < other._when or eq
        return when > other._when or eq


cdef Handle new_handle(object fn, tuple args, object context):
    cdef Handle h = Handle.__new__(Handle)
    h.fn = fn
    h.args = args
    h.context = context
    return h
