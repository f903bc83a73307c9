# The kernel (see _kernel.pyx): a run of native tasks on a scheduler core.
# Derives from Scheduler (_scheduler.pxd), which derives from TrapHost.
cimport cython
from cpython.object cimport PyObject
from yieldloop.core._handles cimport Handle
from yieldloop.native._task cimport Task
from yieldloop.native._scheduler cimport Scheduler


@cython.final
cdef class Kernel(Scheduler):
    cdef Task _main
    cdef bint _running
    cdef bint _sigint_pending        # set by the SIGINT handler, acted on by the loop
    cdef int _interrupts             # Ctrl-C presses seen in this run
    cdef bint _inbox_open            # call_soon_threadsafe() accepts calls (see _shut_down)
    cdef object _saved_hooks         # the asyncgen hooks run() replaced, or None
    cdef object _executor            # to_thread()'s pool (made on first use)
    cdef object _asyncgens           # WeakSet of async generators started in this run
    cdef list _signal_receivers      # open_signal_receiver()s open in this run, or None
    cdef bint _guest                 # made for a yieldloop.Loop's core (see _api.kernel_of_core)

    cdef int _poll_on_clock(self, double deadline) except -1
    cdef int _run_once(self) except -1
    cdef int _attach_loop(self) except -1
    cdef int _detach_loop(self) except -1
    cdef int _cancel_aio_tasks(self) except -1
    cdef int _interrupt(self) except -1
    cdef int _release(self) except -1
    cdef int _shut_down(self) except -1
    cdef int _drain_executor(self) except -1
    cdef int _check_not_forked(self) except -1
    cdef object _get_executor(self)
    cdef int _shutdown_asyncgens(self) except -1
    # I/O callbacks for the layers above (streams): `h` goes to the ready
    # queue when `fd` is ready for `side`.
    cdef int watch_fd(self, int fd, int side, Handle h, object owner) except -1
    cdef object unwatch_fd(self, int fd, int side)


# The kernel run() is running in this thread (borrowed), or NULL; see _api
# for the lookups the rest of the package uses.
cdef PyObject* thread_kernel() noexcept
cdef int forget_thread_kernel() except -1
