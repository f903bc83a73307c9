# yieldloop.Loop's Future (see _aiofuture.pyx), which Task (_aiotask.pxd)
# extends.
from cpython.object cimport PyObject
from yieldloop.aio._loopbase cimport LoopBase

cdef extern from *:
    """
    /* Drop an attribute a type has on this Python but asyncio's class does
       not (a method added in a later version). */
    static int yl_type_drop(PyObject *tp, const char *name)
    {
        PyObject *d = ((PyTypeObject *)tp)->tp_dict;
        if (PyDict_DelItemString(d, name) < 0) return -1;
        PyType_Modified((PyTypeObject *)tp);
        return 0;
    }
    /* Cython gives an instance with a __dict__ slot a dict at once; asyncio's
       futures make theirs on first use, and with none CPython specializes
       method lookups on the instance. */
    static void yl_drop_dict(PyObject *o)
    {
        PyObject **slot = (PyObject **)((char *)o + Py_TYPE(o)->tp_dictoffset);
        Py_CLEAR(*slot);
    }
    /* Hand an owned reference to Cython, which will not add one of its own. */
    static inline PyObject *yl_aio_steal(PyObject *o) { return o; }
    """
    int yl_type_drop(object tp, const char* name) except -1
    void yl_drop_dict(object o) noexcept
    object yl_aio_steal(PyObject* o)

cdef enum:
    ST_PENDING = 0
    ST_CANCELLED = 1
    ST_FINISHED = 2


cdef class Future:
    cdef object _loop_obj         # the loop (asyncio's `_loop`)
    cdef LoopBase _core           # the same loop, typed; None if not a yieldloop.Loop
    # Done-callbacks in the order added: the first one inline, the rest as
    # (callback, context) tuples. A task that awaits this future is kept as
    # (task, None): it is queued itself when the future is done.
    cdef object _cb0
    cdef object _ctx0
    cdef list _cbs
    cdef object _result_v
    cdef object _exc_v
    cdef object _exc_tb           # the exception's traceback when it was set
    cdef object _source_tb        # where it was made (debug mode), or None
    cdef object _cancel_msg
    cdef object _cancelled_exc    # the CancelledError a task ended with
    cdef unsigned char _state     # ST_*
    cdef bint _log_tb             # an exception nobody retrieved: report it
    cdef bint _blocking           # asyncio's _asyncio_future_blocking
    cdef bint _own_ctx0           # _ctx0 is a copy made for its callback
    cdef bint _ctx0_hidden        # ... and out of the cyclic GC (_taskgc.pxd)
    cdef dict __dict__
    cdef object __weakref__

    cdef int _init(self, object loop) except -1
    cdef int _check_alive(self) except -1
    cdef int _call_soon(self, object fn, tuple args, object context) except -1
    cdef int _wake(self, Future fut) except -1
    cdef object _wakeup_callable(self)
    cdef object _wake_context(self)
    cdef int _finalize(self) except -1
    cdef int _add_callback(self, object fn, object context) except -1
    cdef void _show_ctx0(self) noexcept
    cdef int _add_waiter(self, Future task) except -1
    cdef int _schedule_callbacks(self) except -1
    cdef int _set_result(self, object result) except -1
    cdef int _set_exception(self, object exc) except -1
    cdef bint _cancel(self, object msg) except -1
    cdef object _make_cancelled_error_c(self)
    cdef object _outcome(self)


cdef Future new_future(object loop)
