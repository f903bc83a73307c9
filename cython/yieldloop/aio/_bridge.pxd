# Mixing the front ends (see _bridge.pyx): what an asyncio Task of
# yieldloop.Loop calls to wait on a native trap, and to stop waiting.
from yieldloop.native._kernel cimport Kernel
from yieldloop.core._traps cimport Trap

cdef object take_foreign_trap(Kernel k, object waiter, Trap trap)
cdef bint cancel_foreign_wait(Kernel k, Trap trap, object msg) except -1
