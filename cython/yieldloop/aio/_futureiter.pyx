# cython: language_level=3, boundscheck=False, wraparound=False
"""The iterator of ``await future`` on yieldloop.Loop's Future (_aiofuture.pyx).

``await fut`` (and ``yield from fut``) iterates it: while the future is
pending it yields the future itself once, with ``_asyncio_future_blocking``
set, which tells the awaiting Task to wait for it (asyncio's protocol); then
it returns the result or raises the exception (CancelledError if it was
cancelled). Its tp_iternext is a C function (``_iter_next``): a Cython
``raise`` would add a traceback entry to every await that ends. send(),
throw() and close() behave as those of asyncio's C future iterator.

The two modules import each other (Future.__await__ makes the iterator,
the iterator reads the future): neither type is the other's base, so
either may be imported first.
"""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from yieldloop.aio._aiofuture cimport Future, ST_PENDING, ST_CANCELLED
from yieldloop.includes.capi cimport (
    PyExceptionInstance_Check, PyExceptionClass_Check, yl_stop_iteration, yl_raise, yl_result,
    yl_set_iternext)

import sys
from types import TracebackType

# 3.12+: the iterator's throw() warns about its three-argument form.
cdef bint _PY312 = sys.version_info >= (3, 12)


@cython.final
@cython.freelist(64)
cdef class _FutureIter:
    """The iterator of ``await`` on a yieldloop Future."""

    def __iter__(self):
        return self

    def __next__(self):
        # (The type's tp_iternext is _iter_next, in C, set below.)
        return _iter_next_obj(self)

    def send(self, value, /):
        """Resume the await (the value is ignored, as asyncio's does)."""
        return _iter_next_obj(self)

    def throw(self, typ, val=None, tb=None, /):
        """Raise an exception at the await."""
        if _PY312 and (val is not None or tb is not None):
            import warnings
            warnings.warn("the (type, exc, tb) signature of throw() is deprecated, "
                          "use the single-arg signature instead.", DeprecationWarning, 2)
        self._fut = None
        if tb is not None and type(tb) is not TracebackType:
            raise TypeError("throw() third argument must be a traceback")
        if PyExceptionClass_Check(typ):
            exc = typ() if val is None else (val if isinstance(val, typ) else typ(val))
        elif PyExceptionInstance_Check(typ):
            if val is not None:
                raise TypeError("instance exception may not have a separate value")
            exc = typ
        else:
            raise TypeError("exceptions must be classes deriving BaseException or "
                            "instances of such a class")
        if tb is not None:
            exc = exc.with_traceback(tb)
        raise exc

    def close(self):
        """Forget the future."""
        self._fut = None


cdef _FutureIter new_iter(Future fut):
    """The iterator of ``await fut`` (Future.__await__)."""
    cdef _FutureIter it = _FutureIter.__new__(_FutureIter)
    it._fut = fut
    return it


cdef object _iter_next_obj(_FutureIter it):
    if it._fut is None:
        raise StopIteration
    return yl_result(_iter_next(<PyObject*>it))


cdef PyObject* _iter_next(PyObject* o) noexcept:
    """The iterator's tp_iternext, in C: a Cython ``raise`` would add a
    traceback entry to every await that ends."""
    cdef _FutureIter it = <_FutureIter>o
    cdef Future fut = it._fut
    cdef object value
    if fut is None:
        return NULL
    if fut._state == ST_PENDING:
        if not fut._blocking:
            fut._blocking = True
            Py_INCREF(fut)
            return <PyObject*>fut
        return yl_raise(RuntimeError("await wasn't used with future"))
    it._fut = None
    if fut._state == ST_CANCELLED:
        return _raise_cancelled(fut)
    fut._log_tb = False
    if fut._exc_v is not None:
        value = fut._exc_v
        value.__traceback__ = fut._exc_tb
        return yl_raise(value)
    return yl_stop_iteration(fut._result_v)


cdef PyObject* _raise_cancelled(Future fut) noexcept:
    try:
        exc = fut._make_cancelled_error_c()
    except BaseException:
        return NULL
    return yl_raise(exc)


yl_set_iternext(_FutureIter, _iter_next)
