# Child processes on the native kernel: Process, open_process(), run_process().
cimport cython
from yieldloop.native._kernel cimport Kernel
from yieldloop.core._traps cimport Trap
from yieldloop.native._waitlist cimport WaitList


@cython.final
cdef class Process:
    cdef object _args
    cdef int _pid
    cdef object _stdin, _stdout, _stderr   # Streams or None
    cdef object _popen             # the subprocess.Popen that started it
    cdef object _returncode        # None until reaped
    cdef Kernel _kernel
    cdef WaitList _waiters         # tasks in wait()
    cdef object _watcher           # the Task that reaps it
    cdef int _exit_fd              # readable once the process exited, or -1
    cdef bint _thread_saw_exit     # fallback: the waiting thread saw the exit
    cdef Trap _thread_trap         # fallback: the watcher parks here meanwhile
    cdef object _early_cancel      # a cancellation that came before the watcher ran

    cdef int _reap(self) except -1
    cdef int _kill_quietly(self) except -1
    cdef int _wait_in_thread(self) except -1
    cdef int _close_exit_fd(self) except -1
    cdef int _close_pipes(self) except -1
    cdef int _finish(self) except -1


@cython.final
cdef class _WatcherStart:
    cdef object _coro
    cdef Process _p
    cdef bint _started
