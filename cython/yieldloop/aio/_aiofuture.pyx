# cython: language_level=3, boundscheck=False, wraparound=False
"""yieldloop.Loop's Future: asyncio's Future, scheduled on the loop's core.

``loop.create_future()`` returns one. It behaves as asyncio's (C) Future in
everything a program can see: its methods and private attributes, the
messages of its errors, the order and context of its done-callbacks, the
"exception was never retrieved" report; ``isinstance(f, asyncio.Future)``
and ``asyncio.isfuture(f)`` are true. A cdef class cannot derive from
asyncio's C Future (its layout is private to CPython and differs between
versions), so it presents asyncio's class as its ``__class__``, as
yieldloop's Handle does; ``type(f)`` tells the truth.

What differs is underneath: a done-callback is queued on the loop's ready
queue without a call through ``loop.call_soon``, and a yieldloop Task that
awaits the future is kept as itself and queued directly when the future is
done: no callback object, no Handle (see _aiotask.pyx). On another loop
(asyncio's own, a test's), it schedules through that loop's call_soon().
The iterator ``await fut`` runs is in _futureiter.pyx.
"""
from yieldloop.aio._loopbase cimport LoopBase, push_ready
from yieldloop.aio._futureiter cimport new_iter
from yieldloop.includes.capi cimport (
    PyContext_CopyCurrent, PyExceptionInstance_Check, PyExceptionClass_Check, yl_gc_track)

import sys
from types import GenericAlias

from asyncio import events, exceptions, futures

from yieldloop._aio_private import FUTURE_STATES as _FUTURE_STATES
from yieldloop._aio_private import extract_stack, future_repr, future_repr_info

cdef object _CancelledError = exceptions.CancelledError
cdef object _InvalidStateError = exceptions.InvalidStateError
cdef object _AioFuture = futures.Future
cdef object _get_event_loop = events.get_event_loop
cdef tuple _STATE_NAMES = _FUTURE_STATES

# How versions differ (each checked against asyncio's C Future):
# 3.11+: a task's CancelledError is kept and handed on as it is; before,
#   a new one is made each time, with the kept one as its __context__.
cdef bint _PY311 = sys.version_info >= (3, 11)
# 3.13+: set_exception() wraps any StopIteration in a RuntimeError; before,
#   an exact StopIteration is refused with a TypeError (asyncio's C Future;
#   its Python one changed in 3.12).
cdef bint _PY313 = sys.version_info >= (3, 13)
# 3.15+: __init__ on an initialized future is refused.
cdef bint _PY315 = sys.version_info >= (3, 15)
# asyncio's repr: base_futures._future_repr from 3.11, _future_repr_info before.
cdef object _future_repr = future_repr
cdef object _future_repr_info = future_repr_info


cdef class Future:
    """An asyncio.Future of yieldloop.Loop (see the module docstring)."""

    def __cinit__(self):
        # (No arguments: Cython then ignores the constructor's, and makes
        # neither a tuple nor a dict of them.)
        yl_drop_dict(self)

    def __init__(self, *, loop=None):
        self._init(loop)

    cdef int _check_alive(self) except -1:
        if self._loop_obj is None:
            raise RuntimeError("Future object is not initialized.")
        return 0

    cdef int _init(self, object loop) except -1:
        cdef bint debug
        if self._loop_obj is not None:
            if _PY315:
                raise RuntimeError("%s is already initialized" % type(self).__name__)
            # Before 3.15, __init__ again starts the future afresh.
            self._show_ctx0()
            self._cb0 = self._ctx0 = self._cbs = None
            self._result_v = self._exc_v = self._exc_tb = self._source_tb = None
            self._cancel_msg = self._cancelled_exc = None
            self._state = ST_PENDING
            self._log_tb = self._blocking = False
        if loop is None:
            loop = _get_event_loop()
        self._loop_obj = loop
        if isinstance(loop, LoopBase):
            self._core = <LoopBase>loop
            debug = self._core._debug_c
        else:
            # Another loop (asyncio's own, a test's): scheduled through its
            # call_soon(), as asyncio's Future is.
            self._core = None
            debug = loop.get_debug()
        if debug:
            self._source_tb = extract_stack(sys._getframe(0))
        return 0

    cdef int _call_soon(self, object fn, tuple args, object context) except -1:
        """The loop's call_soon(fn, *args, context=context)."""
        if self._core is not None:
            self._core._call_soon_c(fn, args, context)
        else:
            self._loop_obj.call_soon(fn, *args, context=context)
        return 0

    # --- what a program sees: asyncio's class and API

    @property
    def __class__(self):
        return _AioFuture

    def __class_getitem__(cls, item):
        return GenericAlias(cls, item)

    def __repr__(self):
        if _future_repr is not None:
            return _future_repr(self)
        return "<%s %s>" % (self.__class__.__name__, " ".join(_future_repr_info(self)))

    def _repr_info(self):
        return _future_repr_info(self)

    def result(self):
        """Return the result this future represents.

        If the future has been cancelled, raises CancelledError.  If the
        future's result isn't yet available, raises InvalidStateError.  If
        the future is done and has an exception set, this exception is raised.
        """
        if self._state == ST_CANCELLED:
            raise self._make_cancelled_error_c()
        if self._state != ST_FINISHED:
            raise _InvalidStateError("Result is not set.")
        self._log_tb = False
        if self._exc_v is not None:
            raise self._exc_v.with_traceback(self._exc_tb)
        return self._result_v

    def exception(self):
        """Return the exception that was set on this future.

        The exception (or None if no exception was set) is returned only if
        the future is done.  If the future has been cancelled, raises
        CancelledError.  If the future isn't done yet, raises
        InvalidStateError.
        """
        if self._state == ST_CANCELLED:
            raise self._make_cancelled_error_c()
        if self._state != ST_FINISHED:
            raise _InvalidStateError("Exception is not set.")
        self._log_tb = False
        return self._exc_v

    def set_result(self, result, /):
        """Mark the future done and set its result.

        If the future is already done when this method is called, raises
        InvalidStateError.
        """
        self._check_alive()
        self._set_result(result)

    def set_exception(self, exception, /):
        """Mark the future done and set an exception.

        If the future is already done when this method is called, raises
        InvalidStateError.
        """
        self._check_alive()
        self._set_exception(exception)

    def add_done_callback(self, fn, /, *, context=None):
        """Add a callback to be run when the future becomes done.

        The callback is called with a single argument - the future object. If
        the future is already done when this is called, the callback is
        scheduled with call_soon.
        """
        self._check_alive()
        self._add_callback(fn, context)

    def remove_done_callback(self, fn, /):
        """Remove all instances of a callback from the "call when done" list.

        Returns the number of callbacks removed.
        """
        # As asyncio's C Future: a comparison may run code that changes the
        # callbacks (even calls this method again); what it did stands.
        cdef Py_ssize_t removed = 0, i = 0, n
        cdef list kept
        cdef tuple e
        self._check_alive()
        if self._cb0 is not None and _same_callback(
                _entry_callback(self._cb0, self._ctx0), fn):
            self._show_ctx0()
            self._cb0 = self._ctx0 = None
            removed = 1
        if self._cbs is None:
            return removed
        n = len(self._cbs)
        kept = []
        while self._cbs is not None and i < len(self._cbs):
            e = self._cbs[i]
            if not _same_callback(_entry_callback(e[0], e[1]), fn):
                kept.append(e)
            i += 1
        if not kept or self._cbs is None:
            self._cbs = None
            return n + removed
        n = len(self._cbs)
        if len(kept) != n:
            self._cbs[:] = kept
        return n - len(kept) + removed

    def cancel(self, msg=None):
        """Cancel the future and schedule callbacks.

        If the future is already done or cancelled, return False.  Otherwise,
        change the future's state to cancelled, schedule the callbacks and
        return True.
        """
        self._check_alive()
        return self._cancel(msg)

    def cancelled(self):
        """Return True if the future was cancelled."""
        return self._state == ST_CANCELLED

    def done(self):
        """Return True if the future is done.

        Done means either that a result / exception are available, or that the
        future was cancelled.
        """
        return self._state != ST_PENDING

    def get_loop(self):
        """Return the event loop the Future is bound to."""
        self._check_alive()
        return self._loop_obj

    def _make_cancelled_error(self):
        """Create the CancelledError to raise if the Future is cancelled.

        This should only be called once when handling a cancellation since
        it erases the context exception value.
        """
        return self._make_cancelled_error_c()

    def __await__(self):
        self._check_alive()
        return new_iter(self)

    def __iter__(self):
        self._check_alive()
        return new_iter(self)

    def __del__(self):
        self._finalize()

    # --- asyncio's private attributes, which its own code and tests read

    @property
    def _state(self):
        return _STATE_NAMES[self._state]

    @property
    def _loop(self):
        return self._loop_obj

    @property
    def _result(self):
        return self._result_v

    @property
    def _exception(self):
        return self._exc_v

    @property
    def _callbacks(self):
        cdef list out = []
        if self._cb0 is not None:
            out.append(_entry(self._cb0, self._ctx0))
        if self._cbs:
            out.extend([_entry(e[0], e[1]) for e in self._cbs])
        return out if out else None

    @property
    def _source_traceback(self):
        return self._source_tb

    @property
    def _asyncio_future_blocking(self):
        return self._blocking

    @_asyncio_future_blocking.setter
    def _asyncio_future_blocking(self, value):
        self._blocking = bool(value)

    @_asyncio_future_blocking.deleter
    def _asyncio_future_blocking(self):
        raise AttributeError("cannot delete attribute")

    @property
    def _log_traceback(self):
        return self._log_tb

    @_log_traceback.setter
    def _log_traceback(self, value):
        if value:
            raise ValueError("_log_traceback can only be set to False")
        self._log_tb = False

    @_log_traceback.deleter
    def _log_traceback(self):
        raise AttributeError("cannot delete attribute")

    @property
    def _cancel_message(self):
        return self._cancel_msg

    @_cancel_message.setter
    def _cancel_message(self, value):
        self._cancel_msg = value

    @_cancel_message.deleter
    def _cancel_message(self):
        raise AttributeError("cannot delete attribute")

    @property
    def _asyncio_awaited_by(self):
        # asyncio.graph's record of who awaits a future (3.14+): kept for
        # asyncio's own tasks only; none here.
        return None

    # --- the machinery

    cdef int _wake(self, Future fut) except -1:
        # Only a Task is kept as a waiter (see _add_waiter).
        raise TypeError("a Future cannot wait for a future")

    cdef object _wakeup_callable(self):
        raise TypeError("a Future cannot wait for a future")

    cdef object _wake_context(self):
        raise TypeError("a Future cannot wait for a future")

    cdef int _finalize(self) except -1:
        """asyncio's "exception was never retrieved" report (tp_finalize)."""
        if not self._log_tb or self._loop_obj is None:
            return 0
        self._log_tb = False
        context = {"message": f"{self.__class__.__name__} exception was never retrieved",
                   "exception": self._exc_v, "future": self}
        if self._source_tb:
            context["source_traceback"] = self._source_tb
        self._loop_obj.call_exception_handler(context)
        return 0

    cdef int _add_callback(self, object fn, object context) except -1:
        cdef bint own = context is None
        if own:
            # (A None context marks a waiting task in the list.)
            context = PyContext_CopyCurrent()
        if self._state != ST_PENDING:
            self._call_soon(fn, (self,), context)
        elif self._cb0 is None and self._cbs is None:
            self._cb0 = fn
            self._ctx0 = context
            self._own_ctx0 = own
        elif self._cbs is None:
            self._cbs = [(fn, context)]
        else:
            self._cbs.append((fn, context))
        return 0

    cdef void _show_ctx0(self) noexcept:
        """Before _ctx0 is dropped: back under the cyclic GC if a queued
        task took it out (its deallocator needs it tracked)."""
        if self._ctx0_hidden:
            self._ctx0_hidden = False
            yl_gc_track(self._ctx0)

    cdef int _add_waiter(self, Future task) except -1:
        """``task`` awaits this future: it is queued when the future is done
        (at once if it is already)."""
        if self._state != ST_PENDING:
            task._wake(self)
        elif self._cb0 is None and self._cbs is None:
            self._cb0 = task
            self._ctx0 = None
        elif self._cbs is None:
            self._cbs = [(task, None)]
        else:
            self._cbs.append((task, None))
        return 0

    cdef int _schedule_callbacks(self) except -1:
        # The callbacks leave the future before any runs: a callback added
        # meanwhile is scheduled at once by _add_callback.
        cdef object cb = self._cb0, ctx = self._ctx0
        cdef list cbs = self._cbs
        cdef tuple e
        self._show_ctx0()
        self._cb0 = self._ctx0 = None
        self._cbs = None
        if cb is not None:
            if ctx is None:
                (<Future>cb)._wake(self)
            else:
                self._call_soon(cb, (self,), ctx)
        if cbs is not None:
            for e in cbs:
                if e[1] is None:
                    (<Future>e[0])._wake(self)
                else:
                    self._call_soon(e[0], (self,), e[1])
        return 0

    cdef int _set_result(self, object result) except -1:
        if self._state != ST_PENDING:
            raise _InvalidStateError("invalid state")
        self._result_v = result
        self._state = ST_FINISHED
        self._schedule_callbacks()
        return 0

    cdef int _set_exception(self, object exc) except -1:
        cdef object err
        if self._state != ST_PENDING:
            raise _InvalidStateError("invalid state")
        if PyExceptionClass_Check(exc):
            exc = exc()
            if self._state != ST_PENDING:
                raise _InvalidStateError("invalid state")
        if not PyExceptionInstance_Check(exc):
            raise TypeError("invalid exception object")
        if _PY313:
            if isinstance(exc, StopIteration):
                err = RuntimeError("StopIteration interacts badly with generators "
                                   "and cannot be raised into a Future")
                err.__cause__ = exc
                err.__context__ = exc
                exc = err
        elif type(exc) is StopIteration:
            raise TypeError("StopIteration interacts badly with generators "
                            "and cannot be raised into a Future")
        self._exc_v = exc
        self._exc_tb = exc.__traceback__
        self._state = ST_FINISHED
        self._schedule_callbacks()
        self._log_tb = True
        return 0

    cdef bint _cancel(self, object msg) except -1:
        self._log_tb = False
        if self._state != ST_PENDING:
            return False
        self._state = ST_CANCELLED
        self._cancel_msg = msg
        self._schedule_callbacks()
        return True

    cdef object _make_cancelled_error_c(self):
        cdef object exc
        if _PY311:
            if self._cancelled_exc is not None:
                exc = self._cancelled_exc
                self._cancelled_exc = None
                return exc
            if self._cancel_msg is None:
                return _CancelledError()
            return _CancelledError(self._cancel_msg)
        exc = _CancelledError() if self._cancel_msg is None else _CancelledError(self._cancel_msg)
        exc.__context__ = self._cancelled_exc
        self._cancelled_exc = None
        return exc

    cdef object _outcome(self):
        """What a task that awaited this (done) future is resumed with:
        None for a result, else the exception to throw into it (the
        CancelledError if it was cancelled). The exception counts as
        retrieved."""
        if self._state == ST_CANCELLED:
            return self._make_cancelled_error_c()
        self._log_tb = False
        if self._exc_v is not None:
            self._exc_v.__traceback__ = self._exc_tb
            return self._exc_v
        return None


cdef Future new_future(object loop):
    """A new Future on ``loop`` (a LoopBase), as loop.create_future() makes."""
    cdef Future f = Future.__new__(Future)
    f._loop_obj = loop
    f._core = <LoopBase>loop
    if f._core._debug_c:
        f._source_tb = extract_stack(sys._getframe(0))
    return f


cdef inline bint _same_callback(object cb, object fn) except -1:
    # PyObject_RichCompareBool's equality, with its identity shortcut.
    return cb is fn or cb == fn


cdef inline object _entry_callback(object cb, object ctx):
    """The callback of a done-callback entry, as asyncio's _callbacks shows
    it: for a task kept as a waiter, the task's wake-up callable."""
    if ctx is None:
        return (<Future>cb)._wakeup_callable()
    return cb


cdef inline tuple _entry(object cb, object ctx):
    if ctx is None:
        return ((<Future>cb)._wakeup_callable(), (<Future>cb)._wake_context())
    return (cb, ctx)


# asyncio's Future has these from some version on; so do we.
if sys.version_info >= (3, 11):
    yl_type_drop(Future, "_repr_info")
if sys.version_info < (3, 14):
    yl_type_drop(Future, "_asyncio_awaited_by")
