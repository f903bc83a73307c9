# Traps: the only door into the kernel. Every awaitable of the native API
# is one of these requests; the kernel performs it and answers.
cimport cython
from yieldloop._timerheap cimport TimerSlot

cdef enum TrapKind:
    TRAP_YIELD = 1   # go to the back of the ready queue (sleep(0))
    TRAP_SLEEP       # wait until `delay` seconds after the kernel takes the trap
    TRAP_READ        # wait until `fd` is readable
    TRAP_WRITE       # wait until `fd` is writable
    TRAP_JOIN        # wait until the task in `arg` finishes
    TRAP_PARK        # wait on the wait list in `arg` until woken

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


cdef inline Trap make_trap(int kind):
    cdef Trap t = Trap.__new__(Trap)
    t.kind = kind
    return t
