# cython: language_level=3, boundscheck=False, wraparound=False
"""The tracer: every spawn, resume, yield, wake-up and finish of a kernel run.

The kernel calls ``record()`` at each of those points when a Tracer is
attached (one pointer test when none is). An event is a small C struct with
a timestamp; only the values a task was resumed with, yielded or finished
with are kept as object references (so they stay alive while the trace
does). Rendering (text log, SVG/HTML timeline, PNG) is yieldloop.trace's
job: ``events()`` hands the events over as tuples.

Memory is bounded: past ``limit`` events the rest are counted in
``dropped``, not kept, and ``tasks`` (for names) only gains the tasks
spawned while events are kept; a task is held there while it runs and
replaced by its name when it finishes.
"""
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from cpython.ref cimport Py_INCREF, Py_XDECREF
from yieldloop.includes.capi cimport (
    yl_monotonic, visitproc, traverseproc, yl_hook_traverse)

cdef enum:
    INITIAL_EVENTS = 1024

KINDS = {EV_SPAWN: "spawn", EV_RESUME: "resume", EV_YIELD: "yield", EV_WAKE: "wake",
         EV_FINISH: "finish"}
WAKE_CAUSES = {W_TIMER: "timer", W_FD: "fd", W_TASK: "task", W_CANCEL: "cancel",
               W_CLOSED: "closed", W_CALLBACK: "callback"}
YIELD_BARE = Y_BARE
YIELD_AWAITABLE = Y_AWAITABLE
YIELD_BAD = Y_BAD


# The docstring line "Name(sig)\n--\n" is the signature CPython gives a C type
# (and a slot like __init__) for help() and inspect.signature().
cdef class Tracer:
    """Tracer(limit=1000000)\n--\n
    Records what a kernel does; pass it as ``yieldloop.run(main, trace=tracer)``.

        tracer = yieldloop.Tracer()
        yieldloop.run(main, trace=tracer)
        print(yieldloop.trace.text(tracer))
    """

    def __init__(self, Py_ssize_t limit=1_000_000):
        """__init__($self, /, limit=1000000)\n--\n
        See help(Tracer)."""
        if limit <= 0:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.tasks = {}
        self.start = yl_monotonic()

    def __dealloc__(self):
        self.clear()
        PyMem_Free(self._events)

    cdef int record(self, int kind, int code, unsigned long long task,
                    unsigned long long other, double number, object obj) except -1:
        cdef trace_event* ev
        cdef void* grown
        if self._len == self.limit:
            self.dropped += 1
            return 0
        if self._len == self._cap:
            grown = PyMem_Realloc(self._events, 2 * max(self._cap, INITIAL_EVENTS // 2)
                                  * sizeof(trace_event))
            if grown == NULL:
                raise MemoryError()
            self._events = <trace_event*>grown
            self._cap = 2 * max(self._cap, INITIAL_EVENTS // 2)
        ev = &self._events[self._len]
        ev.t = yl_monotonic()
        ev.kind = kind
        ev.code = code
        ev.task = task
        ev.other = other
        ev.number = number
        ev.obj = NULL
        if obj is not None:
            Py_INCREF(obj)
            ev.obj = <PyObject*>obj
        self._len += 1
        return 0

    cdef int task_spawned(self, unsigned long long task_id, object task) except -1:
        """Remember ``task`` for its name, if its events are kept."""
        if self._len < self.limit:
            self.tasks[task_id] = task
        return 0

    cdef int task_finished(self, unsigned long long task_id, str name) except -1:
        """Keep only the name of a finished task, not the task."""
        if task_id in self.tasks:
            self.tasks[task_id] = name
        return 0

    def __len__(self):
        return self._len

    def events(self):
        """The events as ``(t, kind, code, task, other, number, obj)`` tuples;
        ``t`` in seconds since the tracer was made, ``kind`` a name."""
        cdef Py_ssize_t i
        cdef trace_event* ev
        out = []
        for i in range(self._len):
            ev = &self._events[i]
            out.append((ev.t - self.start, KINDS[ev.kind], ev.code, ev.task, ev.other,
                        ev.number, <object>ev.obj if ev.obj != NULL else None))
        return out

    def clear(self):
        """Drop every event recorded so far."""
        cdef Py_ssize_t i
        for i in range(self._len):
            Py_XDECREF(self._events[i].obj)
            self._events[i].obj = NULL
        self._len = 0
        self.dropped = 0
        if self.tasks is not None:
            self.tasks.clear()


# --- garbage collection: the objects events keep are held in a C array,
# --- which Cython's generated tp_traverse cannot see.

cdef traverseproc _base_traverse = NULL


cdef int _traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    # Fields are read through casts of the borrowed pointer: no reference
    # is taken while the collector walks.
    cdef trace_event* events = (<Tracer>o)._events
    cdef Py_ssize_t i
    cdef int r = _base_traverse(o, visit, arg)
    for i in range((<Tracer>o)._len):
        if r:
            break
        if events[i].obj != NULL:
            r = visit(events[i].obj, arg)
    return r


_base_traverse = yl_hook_traverse(Tracer, _traverse)
if _base_traverse == NULL:
    raise ImportError("yieldloop.native._tracer: Tracer has no GC support")
