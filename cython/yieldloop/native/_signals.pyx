# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Signals received by tasks: open_signal_receiver().

    async with yieldloop.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as sigs:
        async for signum in sigs:
            ...

How a signal reaches a task. While a receiver is open, each of its signals
has our handler (signal.signal, so: main thread only). The OS-level handler
of Python writes to the wake-up fd, which run() pointed at its poller's
self-pipe, so a blocked poll returns; the kernel then runs Python's signal
handlers (PyErr_CheckSignals), and ours records the signal in the receiver
and wakes the task waiting in it. The handler runs no bytecode, so it never
interrupts itself or a receiver halfway through a change.

The rules, trio's:

- Pending signals: a receiver keeps the signals that arrived and were not
  yet received, one entry per signal number, in the order of their first
  arrival. Arrivals of one signal before it is received count as one (as
  the OS coalesces a pending signal), so what waits is bounded by the
  number of signals the receiver takes.
- Several receivers of one signal: the one opened last (and still open)
  gets it; once it closes, the one before gets it again.
- Closing (however the block ends: normally, by an exception, by
  cancellation): once no receiver takes a signal any more, the handler
  that was there before the first one is put back. Signals still pending
  go to the previous receiver of that signal or, if none is left, are
  raised again (signal.raise_signal) for the handler now installed: a
  SIGINT nobody received still interrupts, a SIGTERM still terminates
  unless its handler says otherwise. A task waiting in receive() at that
  moment gets ClosedResourceError.
- SIGINT: run() takes it (Ctrl-C cancels main); a receiver that takes
  SIGINT has it instead while it is open.
- A run that ends with a receiver still open (only a hard stop abandons a
  task inside its block) closes it: no handler of ours outlives the run.
  Its pending signals are dropped then.
- After fork(), the child gets the handlers from before the receivers.
"""
cimport cython
from yieldloop.core._traps cimport Trap, make_trap, trap_done, ready_trap, TRAP_PARK
from yieldloop.native._traphost cimport wake
from yieldloop.native._kernel cimport Kernel
from yieldloop.native._api cimport need_kernel

import os
import _signal
from yieldloop._errors import BusyResourceError, ClosedResourceError

cdef enum ReceiverState:
    R_NEW = 0
    R_OPEN
    R_CLOSED


@cython.final
cdef class _Slot:
    """One signal that receivers take: what to put back, and who takes it."""
    cdef object previous      # the handler before the first receiver
    cdef list receivers       # open receivers of this signal, oldest first

    def __cinit__(self, previous):
        self.previous = previous
        self.receivers = []

    cdef SignalReceiver newest(self):
        # (wraparound is off in this module: a negative index is not allowed)
        return self.receivers[len(self.receivers) - 1]


# signum -> _Slot, for every signal an open receiver takes. Signals are the
# main thread's only, so no lock.
cdef dict _slots = {}


def _on_signal(signum, frame):
    # The handler of every signal a receiver takes (see the module docstring).
    cdef _Slot slot = _slots.get(signum)
    if slot is not None and slot.receivers:
        slot.newest()._deliver(signum)


cdef object _restorable(object handler):
    # signal.signal() returns None for a handler not set from Python (by C
    # code): it cannot be put back from Python; the default is what is left.
    return _signal.SIG_DFL if handler is None else handler


cdef str _name(int signum):
    import signal              # for the names only (it imports enum)
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum


@cython.final
cdef class SignalReceiver:
    """What open_signal_receiver() returns: enter it (``async with`` or
    ``with``), then receive signal numbers with ``async for``,
    ``await receive()``, ``yield from receive()`` or ``yield receive()``.
    See help(yieldloop.open_signal_receiver)."""
    cdef tuple _signums       # the signals taken, each once, as given
    cdef dict _pending        # signum -> None, in order of first arrival
    cdef Trap _waiter         # the PARK trap of the task in receive(), or None
    cdef Kernel _kernel       # the run it is open in
    cdef ReceiverState _state

    def __init__(self, *args, **kwargs):
        raise TypeError("SignalReceiver objects are made by yieldloop.open_signal_receiver()")

    def __repr__(self):
        state = ("new", "open", "closed")[self._state]
        return "<SignalReceiver %s [%s] pending=%s>" % (
            ", ".join([_name(s) for s in self._signums]), state,
            [_name(s) for s in self._pending])

    @property
    def signals(self):
        """The signal numbers this receiver takes."""
        return self._signums

    cdef int _deliver(self, int signum) except -1:
        self._pending[signum] = None
        if self._waiter is not None and not trap_done(self._waiter):
            wake(self._waiter, None, None)
        return 0

    cdef int _open(self) except -1:
        cdef Kernel k
        cdef _Slot slot
        cdef list taken = []
        if self._state != R_NEW:
            raise RuntimeError("this signal receiver was entered already; "
                               "call open_signal_receiver() again for a new one")
        import threading
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "open_signal_receiver() works only in the main thread: Python "
                "runs signal handlers there and nowhere else")
        k = need_kernel("open_signal_receiver()")
        try:
            for signum in self._signums:
                slot = _slots.get(signum)
                if slot is None:
                    slot = _Slot(_restorable(_signal.signal(signum, _on_signal)))
                    _slots[signum] = slot
                slot.receivers.append(self)
                taken.append(signum)
        except BaseException:
            self._leave(taken)
            raise
        self._state = R_OPEN
        self._kernel = k
        if k._signal_receivers is None:
            k._signal_receivers = []
        k._signal_receivers.append(self)
        return 0

    cdef object _leave(self, list signums):
        """Stop taking ``signums``; put back the handler of those no
        receiver takes any more. Returns the first error raised meanwhile
        (by another handler that ran when signal.signal() checked for
        pending signals), after finishing."""
        cdef _Slot slot
        error = None
        for signum in reversed(signums):
            slot = _slots[signum]
            if len(slot.receivers) == 1:
                # Still ours while signal.signal() runs the handlers of
                # signals already caught: those reach this receiver.
                for _ in range(2):
                    try:
                        if _signal.getsignal(signum) is _on_signal:
                            _signal.signal(signum, slot.previous)
                        # else the program replaced our handler: leave it
                        break
                    except BaseException as e:
                        if error is None:
                            error = e
                del _slots[signum]
            else:
                slot.receivers.remove(self)
        return error

    cdef int _close(self, bint redeliver) except -1:
        cdef _Slot slot
        cdef Trap waiter
        if self._state != R_OPEN:
            self._state = R_CLOSED
            return 0
        self._state = R_CLOSED
        error = self._leave(list(self._signums))
        if self._kernel._signal_receivers is not None:
            self._kernel._signal_receivers.remove(self)
        self._kernel = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not trap_done(waiter):
            wake(waiter, None, _closed_error())
        pending, self._pending = self._pending, {}
        if redeliver:
            for signum in pending:
                slot = _slots.get(signum)
                try:
                    if slot is not None:
                        slot.newest()._deliver(signum)
                    else:
                        _signal.raise_signal(signum)
                except BaseException as e:
                    if error is None:
                        error = e
        if error is not None:
            raise error
        return 0

    def _abandon(self):
        # Kernel.run()'s end: the task inside the block will never leave it.
        self._close(False)

    def __enter__(self):
        self._open()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._close(True)
        return None

    def __aenter__(self):
        self._open()
        return ready_trap(self)

    def __aexit__(self, exc_type, exc, tb):
        self._close(True)
        return ready_trap(None)

    def __aiter__(self):
        return self

    def __anext__(self):
        return self.receive()

    async def receive(self):
        """Wait for the next signal and return its number (signals that
        arrived meanwhile first, oldest first). Only one task at a time may
        wait in receive(); another gets BusyResourceError. After the block
        has ended: ClosedResourceError."""
        cdef Trap trap
        while True:
            if self._state != R_OPEN:
                if self._state == R_NEW:
                    raise RuntimeError("enter the signal receiver first: "
                                       "async with yieldloop.open_signal_receiver(...) as sigs:")
                raise _closed_error()
            if self._pending:
                signum = next(iter(self._pending))
                del self._pending[signum]
                return signum
            if self._waiter is not None:
                raise BusyResourceError(
                    "another task is already waiting in this signal receiver's receive()")
            trap = make_trap(TRAP_PARK)
            trap.arg = "signal receiver"
            self._waiter = trap
            try:
                await trap
            finally:
                if self._waiter is trap:
                    self._waiter = None


cdef object _closed_error():
    return ClosedResourceError("the open_signal_receiver() block has ended")


def open_signal_receiver(*signals):
    """Receive ``signals`` (signal numbers, e.g. ``signal.SIGTERM``) in a task.

        async with yieldloop.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as sigs:
            async for signum in sigs:
                if signum == signal.SIGHUP:
                    reload_config()
                else:
                    break

    A generator uses ``with`` and ``signum = yield from sigs.receive()``
    (or ``yield sigs.receive()``). Entering installs the handlers (main
    thread only: RuntimeError elsewhere); leaving the block, however it
    ends, puts the previous ones back. Signals that arrive while no task
    waits are kept, one per signal number, and received in order of
    arrival; signals left unreceived when the block ends are raised again
    for the previous handler. If several receivers take one signal, the
    one opened last gets it. A receiver of SIGINT takes Ctrl-C from run()
    while it is open.
    """
    cdef SignalReceiver r
    cdef list signums = []
    if not signals:
        raise TypeError("open_signal_receiver() needs at least one signal")
    valid = _signal.valid_signals()
    for s in signals:
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError("open_signal_receiver() takes signal numbers such as "
                            "signal.SIGTERM, got %r" % (s,))
        n = int(s)
        if n not in valid:
            raise ValueError("open_signal_receiver(): %d is not a signal number "
                             "on this system" % n)
        if n == _signal.SIGKILL or n == _signal.SIGSTOP:
            raise ValueError("open_signal_receiver(): %s cannot be caught" % _name(n))
        if n not in signums:
            signums.append(n)
    r = SignalReceiver.__new__(SignalReceiver)
    r._signums = tuple(signums)
    r._pending = {}
    return r


def _after_fork_in_child():
    # The child starts clean (see _process.pyx): the handlers from before
    # the receivers come back; the receivers copied from the parent close.
    cdef _Slot slot
    cdef SignalReceiver r
    for signum, slot in list(_slots.items()):
        try:
            if _signal.getsignal(signum) is _on_signal:
                _signal.signal(signum, slot.previous)
        except Exception:
            pass
        for r in slot.receivers:
            r._state = R_CLOSED
            r._pending = {}
            r._waiter = None
            r._kernel = None
    _slots.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
