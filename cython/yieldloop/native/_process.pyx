# cython: language_level=3
"""What a kernel's run shares with the whole process: signals and fork().

Signals: a run in the main thread takes SIGINT (Ctrl-C cancels main; see
Kernel._on_sigint) unless the program installed a handler of its own, and
points Python's signal wake-up fd at its poller's self-pipe, so that any
signal ends a blocked wait. It gives both back when it ends. Only the main
thread's run can hold them, so one record of what to give back suffices.

fork(): the child gets a copy of everything, a running kernel included, and
its copy of the epoll descriptor names the parent's epoll set: whatever the
child registered there would change what the parent's loop is told. So in
the child (``os.register_at_fork``) no kernel counts as running any more,
the signals a run took are given back, and every poller of the parent is
closed, which closes only the child's copies of its descriptors; using one
afterwards raises RuntimeError. The child starts clean: it may run a kernel
of its own (``yieldloop.run(...)`` then ``os._exit()``, the usual pattern).
The kernel module's at-fork hook calls after_fork_in_child().
"""
import _signal

from yieldloop.core._poller cimport forget_inherited_pollers

# What the run holding the signals has to give back, or None.
cdef object _held = None


cdef object take_signals(object on_sigint, int wakeup_fd):
    """Install ``on_sigint`` and the wake-up fd; return what to give back
    (None outside the main thread, where signals are not ours)."""
    global _held
    try:
        old_wakeup = _signal.set_wakeup_fd(wakeup_fd, warn_on_full_buffer=False)
    except ValueError:
        return None
    old_handler = _signal.getsignal(_signal.SIGINT)
    if old_handler is _signal.default_int_handler:
        try:
            _signal.signal(_signal.SIGINT, on_sigint)
        except BaseException:
            _signal.set_wakeup_fd(old_wakeup)
            raise
    else:
        old_handler = None         # the program installed its own: leave it
    _held = (old_wakeup, old_handler)
    return _held


cdef int restore_signals(object saved) except -1:
    """Give back what take_signals() returned (nothing if None)."""
    global _held
    if saved is None:
        return 0
    if _held is saved:
        _held = None
    old_wakeup, old_handler = saved
    _signal.set_wakeup_fd(old_wakeup)
    if old_handler is not None:
        _signal.signal(_signal.SIGINT, old_handler)
    return 0


cdef int after_fork_in_child() except -1:
    """In a forked child: give back the signals a run held in the parent,
    then close the child's copies of every poller's descriptors."""
    if _held is not None:
        restore_signals(_held)
    forget_inherited_pollers()
    return 0
