# C-API declarations used by the kernel, kept apart from its logic.
from cpython.object cimport PyObject

cdef extern from "Python.h":
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    # No exception check: the caller inspects the result and fetches errors.
    PySendResult PyIter_Send(object iter, object arg, PyObject** presult) noexcept

    object PyContext_CopyCurrent()
    int PyContext_Enter(object ctx) except -1
    int PyContext_Exit(object ctx) except -1

    bint PyCoro_CheckExact(object o)
    bint PyGen_Check(object o)
    bint PyGen_CheckExact(object o)
    void PyObject_GC_UnTrack(object o) noexcept    # does nothing if not tracked
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf, PyObject* kwnames)
    bint PyExceptionInstance_Check(object o)
    bint PyExceptionClass_Check(object o)
    int PyErr_CheckSignals() except -1
    int PyObject_GenericSetAttr(object o, object name, PyObject* value) except -1

cdef extern from "compat.h":
    double yl_monotonic() noexcept nogil
    PySendResult yl_send(object it, object value, PyObject** out) noexcept
    bint yl_is_awaitable(object obj) noexcept
    object yl_await_iter(object obj)
    PyObject* yl_stop_iteration(object value) noexcept
    PyObject* yl_raise(object exc) noexcept
    object yl_result(PyObject* r)
    ctypedef PyObject* (*iternextfunc)(PyObject*) noexcept
    void yl_set_iternext(object tp, iternextfunc fn) noexcept
    ctypedef int (*visitproc)(PyObject*, void*) noexcept
    ctypedef int (*traverseproc)(PyObject*, visitproc, void*) noexcept
    ctypedef int (*inquiry)(PyObject*) noexcept
    traverseproc yl_hook_traverse(object tp, traverseproc fn) noexcept
    inquiry yl_hook_clear(object tp, inquiry fn) noexcept
    ctypedef object (*yl_spawn_impl_fn)(object, PyObject**, Py_ssize_t, object)
    object yl_new_spawn(object module_name, const char* doc, yl_spawn_impl_fn impl)
    bint yl_gc_untrack(object o) noexcept
    void yl_gc_track(object o) noexcept
