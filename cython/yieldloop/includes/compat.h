/*
 * Small C helpers for the Cython modules: the monotonic clock, the running
 * kernel of this thread, and the few C-API calls that differ by version.
 */
#ifndef YIELDLOOP_COMPAT_H
#define YIELDLOOP_COMPAT_H

#include <Python.h>
#include <time.h>

/* Seconds on the monotonic clock: the same clock as time.monotonic(). */
static inline double yl_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Take the raised exception (normalized, traceback attached) and clear it.
   Never NULL: a failure that set no exception becomes a SystemError. */
static inline PyObject *yl_fetch_exception(void)
{
    PyObject *exc;
#if PY_VERSION_HEX >= 0x030C0000
    exc = PyErr_GetRaisedException();
#else
    PyObject *type, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    if (type != NULL) {
        PyErr_NormalizeException(&type, &exc, &tb);
        if (tb != NULL) PyException_SetTraceback(exc, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
#endif
    if (exc == NULL) {
        PyErr_SetString(PyExc_SystemError, "iterator failed without setting an exception");
        return yl_fetch_exception();
    }
    return exc;
}

/* PyIter_Send that leaves the exception object in *out on PYGEN_ERROR, so
   that every outcome (yielded, returned, raised) is an owned reference. */
static inline PySendResult yl_send(PyObject *it, PyObject *value, PyObject **out)
{
    PySendResult status = PyIter_Send(it, value, out);
    if (status == PYGEN_ERROR) *out = yl_fetch_exception();
    return status;
}

/* True if `await obj` can work: a coroutine, a generator (taken as a
   generator-based coroutine) or an object with __await__. */
static inline int yl_is_awaitable(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    return PyCoro_CheckExact(obj) || PyGen_Check(obj)
        || (tp->tp_as_async != NULL && tp->tp_as_async->am_await != NULL);
}

/* The iterator that `await obj` drives (new reference), or NULL with an
   error set. Call only when yl_is_awaitable(obj). */
static inline PyObject *yl_await_iter(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *it;
    if (PyCoro_CheckExact(obj) || PyGen_Check(obj)) {
        Py_INCREF(obj);
        return obj;
    }
    it = tp->tp_as_async->am_await(obj);
    if (it == NULL) return NULL;
    if (!PyIter_Check(it) || PyCoro_CheckExact(it)) {
        PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'",
                     Py_TYPE(it)->tp_name);
        Py_DECREF(it);
        return NULL;
    }
    return it;
}

/* End an iterator with `value` as its result, as a generator's return does
   (StopIteration(value); a tuple or exception value is wrapped, not unpacked).
   Always returns NULL, for `return yl_stop_iteration(v);` in tp_iternext. */
static inline PyObject *yl_stop_iteration(PyObject *value)
{
    PyObject *e;
    if (value == Py_None) return NULL; /* no exception at all: plain exhaustion */
    if (!PyTuple_Check(value) && !PyExceptionInstance_Check(value)) {
        PyErr_SetObject(PyExc_StopIteration, value);
        return NULL;
    }
    e = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (e != NULL) {
        PyErr_SetObject(PyExc_StopIteration, e);
        Py_DECREF(e);
    }
    return NULL;
}

/* Raise exception instance `exc`; returns NULL. */
static inline PyObject *yl_raise(PyObject *exc)
{
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    return NULL;
}

/* Hand a result of a C-level call back to Cython: NULL means the error set. */
static inline PyObject *yl_result(PyObject *r) { return r; }

/* Replace the tp_traverse of a type with GC support after it is ready and
   return the old one, which the new one calls first: for references a
   cdef class holds in C arrays or intrusive links, which Cython's generated
   traverse cannot see. NULL (nothing replaced) if the type has no GC. */
static inline traverseproc yl_hook_traverse(PyObject *tp, traverseproc fn)
{
    PyTypeObject *t = (PyTypeObject *)tp;
    traverseproc old = t->tp_traverse;
    if (!PyType_IS_GC(t) || old == NULL) return NULL;
    t->tp_traverse = fn;
    return old;
}

/* The same for tp_clear. */
static inline inquiry yl_hook_clear(PyObject *tp, inquiry fn)
{
    PyTypeObject *t = (PyTypeObject *)tp;
    inquiry old = t->tp_clear;
    if (!PyType_IS_GC(t) || old == NULL) return NULL;
    t->tp_clear = fn;
    return old;
}

/* Take `o` out of the cyclic GC's lists. Returns 1 if it was tracked (the
   caller must then call yl_gc_track before it lets go of `o`: the
   deallocators of coroutines and contexts assume a tracked object), 0 if it
   was not (nothing to undo). */
static inline int yl_gc_untrack(PyObject *o)
{
    if (!PyObject_GC_IsTracked(o)) return 0;
    PyObject_GC_UnTrack(o);
    return 1;
}

/* Put `o` back under the cyclic GC; nothing if it is tracked already
   (PyObject_GC_Track aborts the process on a tracked object). */
static inline void yl_gc_track(PyObject *o)
{
    if (!PyObject_GC_IsTracked(o)) PyObject_GC_Track(o);
}

/* spawn(coro, *args, name=None) as a METH_FASTCALL builtin: the arguments
   go from the caller's array to the coroutine function's with no tuple in
   between (a Cython def would make one for *args). This parses them as
   Python would for that signature and hands them to `yl_spawn_impl`. */
typedef PyObject *(*yl_spawn_impl_fn)(PyObject *, PyObject **, Py_ssize_t, PyObject *);
static yl_spawn_impl_fn yl_spawn_impl = NULL;

static PyObject *yl_spawn_fastcall(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    PyObject *coro = nargs > 0 ? args[0] : NULL;
    PyObject *name = Py_None;
    Py_ssize_t i, nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    (void)self;
    for (i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(key, "name") == 0) {
            name = args[nargs + i];
        }
        else if (PyUnicode_CompareWithASCIIString(key, "coro") == 0) {
            if (coro != NULL) {
                PyErr_SetString(PyExc_TypeError, "spawn() got multiple values for argument 'coro'");
                return NULL;
            }
            coro = args[nargs + i];
        }
        else {
            PyErr_Format(PyExc_TypeError, "spawn() got an unexpected keyword argument '%U'", key);
            return NULL;
        }
    }
    if (coro == NULL) {
        PyErr_SetString(PyExc_TypeError, "spawn() missing 1 required positional argument: 'coro'");
        return NULL;
    }
    if (nargs > 0) {
        args++;
        nargs--;
    }
    return yl_spawn_impl(coro, (PyObject **)args, nargs, name);
}

/* The spawn builtin of module `module_name`, calling `impl`; `doc` (which
   must outlive it) starts with its signature line, "spawn(...)\n--\n\n". */
static PyObject *yl_new_spawn(PyObject *module_name, const char *doc, yl_spawn_impl_fn impl)
{
    static PyMethodDef def = {
        "spawn", (PyCFunction)(void (*)(void))yl_spawn_fastcall, METH_FASTCALL | METH_KEYWORDS, NULL};
    def.ml_doc = doc;
    yl_spawn_impl = impl;
    return PyCFunction_NewEx(&def, NULL, module_name);
}

/* Install a C tp_iternext on a type after it is ready. */
static inline void yl_set_iternext(PyObject *tp, iternextfunc fn)
{
    ((PyTypeObject *)tp)->tp_iternext = fn;
    PyType_Modified((PyTypeObject *)tp);
}

#endif
