# Traps: the only door into the kernel. Every awaitable of the native API
# is one of these requests; the kernel performs it and answers.
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._timerheap cimport TimerSlot

cdef enum TrapKind:
    TRAP_YIELD = 1   # go to the back of the ready queue (sleep(0))
    TRAP_SLEEP       # wait until `delay` seconds after the kernel takes the trap
    TRAP_READ        # wait until `fd` is readable
    TRAP_WRITE       # wait until `fd` is writable
    TRAP_JOIN        # wait until the task in `arg` finishes
    TRAP_PARK        # wait until woken by wake() (sync primitives, threads)

cdef enum TrapState:
    TS_FRESH = 0     # made, not yet handed to the kernel
    TS_AWAITING      # yielded through __next__ (await / yield from): resumed by send(None)
    TS_BARE          # yielded as a value (`x = yield trap`): resumed by send(result) / throw
    TS_READY         # answered; the next __next__ returns `result` or raises `exc`
    TS_DONE          # consumed


@cython.final
cdef class Trap:
    cdef TimerSlot timer     # SLEEP: this trap's place in the timer heap
    cdef unsigned char kind
    cdef unsigned char state
    cdef int fd              # READ / WRITE
    cdef double delay        # SLEEP
    cdef object task         # the Task blocked on this trap, set by the kernel
    cdef object arg          # READ/WRITE: owner of fd; JOIN: target Task; PARK: wait list
    cdef object result
    cdef object exc
    # PARK traps behave like asyncio futures for the primitives built on
    # them: pending (FRESH/AWAITING), done (READY/DONE), and cancelled.
    cdef bint cancelled
    # Links of the WaitList holding this trap (borrowed; the list owns the trap).
    cdef PyObject* wl_owner
    cdef PyObject* wl_prev
    cdef PyObject* wl_next


# sleep(0)'s awaitable: a TRAP_YIELD trap reduced to its state. It is never
# answered with a value or an exception, and it is what most tasks of a
# spawn-heavy program hold while they wait in the ready queue: 24 bytes and
# outside the cyclic GC, where a Trap is 128 (see _traps.pyx).
@cython.final
cdef class YieldTrap:
    cdef unsigned char state     # TrapState, as a Trap's


cdef inline Trap make_trap(int kind):
    cdef Trap t = Trap.__new__(Trap)
    t.kind = kind
    return t


cdef inline bint trap_done(Trap t) noexcept:
    """As Future.done(): answered, or cancelled."""
    return t.state >= TS_READY


cdef inline Trap ready_trap(object result):
    """An awaitable that is already answered: awaiting it does not suspend."""
    cdef Trap t = make_trap(TRAP_YIELD)
    t.result = result
    t.state = TS_READY
    return t
