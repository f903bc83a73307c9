# cython: language_level=3
"""throw_into(): the throw() counterpart of PyIter_Send, for both front
ends' task steps (the kernel's Task and yieldloop.Loop's Task)."""
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from yieldloop.includes.capi cimport PySendResult, PYGEN_RETURN, PYGEN_ERROR, PYGEN_NEXT


cdef inline PySendResult throw_into(object it, object exc, PyObject** out) noexcept:
    """Throw ``exc`` into iterator ``it``; like PyIter_Send, the outcome goes
    to ``*out`` (the yielded or returned value, or the exception raised)."""
    cdef object r
    try:
        meth = getattr(it, "throw", None)
        if meth is None:
            # No throw(): the error surfaces at the await, as with `yield from`.
            r = exc
            Py_INCREF(r)
            out[0] = <PyObject*>r
            return PYGEN_ERROR
        r = meth(exc)
    except StopIteration as e:
        r = e.value
        Py_INCREF(r)
        out[0] = <PyObject*>r
        return PYGEN_RETURN
    except BaseException as e:
        r = e
        Py_INCREF(r)
        out[0] = <PyObject*>r
        return PYGEN_ERROR
    Py_INCREF(r)
    out[0] = <PyObject*>r
    return PYGEN_NEXT
