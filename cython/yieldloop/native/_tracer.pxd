# The tracer: the kernel's events recorded as C structs, rendered later.
cimport cython
from cpython.object cimport PyObject

cdef enum TraceKind:
    EV_SPAWN = 1     # `task` spawned by `other` (0: by run())
    EV_RESUME        # the kernel resumed `task`; `obj` was sent in (thrown if code == 1)
    EV_YIELD         # `task` gave control back: `code` says how (see YieldCode)
    EV_WAKE          # `task` made ready again: `code` says by what (see WakeCause)
    EV_FINISH        # `task` finished: code 1 returned, 2 raised, 3 cancelled; `obj` the outcome

cdef enum YieldCode:
    Y_BARE = 100     # a bare yield: back of the ready queue
    Y_AWAITABLE      # yielded an awaitable the kernel runs for it (`obj`)
    Y_BAD            # yielded something it may not (`obj`): TypeError follows
    # Below 100: the trap kinds of _traps.pxd (TRAP_YIELD ... TRAP_PARK)

cdef enum WakeCause:
    W_TIMER = 1      # its timer fired
    W_FD             # fd `number` became ready
    W_TASK           # task `other` finished (a join) or woke it (a primitive)
    W_CANCEL         # cancelled by task `other` (0: by the kernel)
    W_CLOSED         # its fd `number` was closed
    W_CALLBACK       # woken from a callback (another thread, a done-callback)

cdef struct trace_event:
    double t
    int kind
    int code
    unsigned long long task
    unsigned long long other
    double number     # a deadline, a delay or an fd
    PyObject* obj     # owned reference, or NULL


@cython.final
cdef class Tracer:
    cdef trace_event* _events
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap
    cdef readonly Py_ssize_t limit      # most events kept; later ones are counted, not kept
    cdef readonly Py_ssize_t dropped
    cdef readonly dict tasks             # task id -> Task while it runs, then its name
    cdef readonly double start

    cdef int record(self, int kind, int code, unsigned long long task,
                    unsigned long long other, double number, object obj) except -1
    cdef int task_spawned(self, unsigned long long task_id, object task) except -1
    cdef int task_finished(self, unsigned long long task_id, str name) except -1
