# cython: language_level=3, boundscheck=False, wraparound=False
"""Traps and the awaitables built on them: sleep, wait_readable, wait_writable.

A trap is a request to the kernel (sleep, wait for an fd, join a task, park
on a wait list). Every awaitable of the native API is a trap, and a trap is
usable three ways:

- ``await trap`` and ``yield from trap``: ``__next__`` yields the trap
  itself to the kernel; the kernel performs it and resumes the task with
  ``send(None)``, which reaches ``__next__`` again and returns the answer;
- ``x = yield trap`` (Tornado style): the kernel sees an unused trap,
  performs it and sends the answer (or throws the error) into the generator.

Traps come from a freelist and are not reusable: awaiting one twice is an
error, as for a coroutine.
"""
cimport cython
from libc.math cimport isnan
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.exc cimport PyErr_Occurred
from cpython.long cimport PyLong_AsDouble
from yieldloop.includes.capi cimport (
    yl_stop_iteration, yl_raise, yl_result, yl_set_iternext)


@cython.final
@cython.freelist(64)
cdef class Trap:
    """A request to the yieldloop kernel; await it (or yield it) from a task."""

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __dealloc__(self):
        # As Python does for a coroutine never awaited: the usual mistake
        # is `yieldloop.sleep(1)` without `await`, which does nothing. One
        # compare on the hot path; the warning only when it is true.
        if self.state == TS_FRESH and self.kind <= TRAP_WRITE:
            _warn_never_awaited(self._describe())

    # The type's tp_iternext is _trap_next itself (installed below); these
    # are the same step for Python callers.

    def __next__(self):
        """Yield the trap once; once the kernel answered, return the answer."""
        return _python_step(_trap_next(<PyObject*>self))

    def send(self, value):
        """Resume; the value is ignored (the kernel answers through the trap)."""
        return _python_step(_trap_next(<PyObject*>self))

    def throw(self, typ, val=None, tb=None):
        """As a coroutine's throw(): raise the exception here. A trap not
        yet handed to the kernel (or answered and not yet consumed) is
        finished by it, as a coroutine is: this is how a task that is
        cancelled before its first step ends."""
        cdef object exc = _exception_of(typ, val)
        if self.state == TS_AWAITING and self.task is None:
            # Yielded through __next__ but never taken by a yieldloop
            # kernel (it sets ``task`` when it takes a trap): another
            # runner got it and throws its complaint back, e.g. asyncio's
            # "Task got bad yield". Say what went wrong and what to use.
            self.state = TS_DONE
            raise RuntimeError(_foreign_runner_message(self.kind, self._describe())) from exc
        if self.state == TS_FRESH or self.state == TS_READY:
            self.state = TS_DONE
            self.result = self.exc = None
        raise exc

    def close(self):
        """As a coroutine's close(): a trap that was never handed to the
        kernel is finished quietly (no "never awaited" warning)."""
        if self.state == TS_FRESH or self.state == TS_READY:
            self.state = TS_DONE
            self.result = self.exc = None

    def _describe(self):
        if self.kind == TRAP_YIELD:
            return "sleep(0)"
        if self.kind == TRAP_SLEEP:
            return "sleep(%r)" % self.delay
        if self.kind == TRAP_READ:
            return "wait_readable(%d)" % self.fd
        if self.kind == TRAP_WRITE:
            return "wait_writable(%d)" % self.fd
        if self.kind == TRAP_JOIN:
            return "join of %r" % (self.arg,)
        if self.arg is None:
            return "park"
        label = getattr(self.arg, "label", self.arg)
        return "park on %s" % (label,)

    def __repr__(self):
        return "<yieldloop trap %s>" % self._describe()


cdef PyObject* _trap_next(PyObject* o) noexcept:
    """The trap's tp_iternext, in C: ending with a value must not cost a
    traceback entry, which a Cython ``raise StopIteration(v)`` would add."""
    cdef Trap t = <Trap>o
    cdef object value
    if t.state == TS_FRESH:
        t.state = TS_AWAITING
        Py_INCREF(t)
        return o
    if t.state == TS_READY:
        t.state = TS_DONE
        if t.exc is not None:
            value, t.exc = t.exc, None
            return yl_raise(value)
        value, t.result = t.result, None
        return yl_stop_iteration(value)
    return yl_raise(_misuse(t.state, t._describe()))


cdef object _python_step(PyObject* r):
    """What __next__() and send() give for ``r``, what tp_iternext returned:
    the value yielded, or StopIteration (NULL without an error: the end
    with no value) or the error set."""
    if r == NULL and not PyErr_Occurred():
        raise StopIteration
    return yl_result(r)


cdef object _exception_of(object typ, object val):
    """The exception that throw(typ, val) raises."""
    if isinstance(typ, BaseException):
        return typ
    return typ() if val is None else typ(val)


cdef int _warn_never_awaited(str what) except -1:
    import warnings
    warnings.warn("yieldloop %s was never awaited: it does nothing until a task "
                  "awaits it (or yields it)" % what, RuntimeWarning, stacklevel=1)
    return 0


# What to use instead, in asyncio code, of each kind of trap.
_ASYNCIO_INSTEAD = {
    TRAP_YIELD: "asyncio.sleep()",
    TRAP_SLEEP: "asyncio.sleep()",
    TRAP_READ: "loop.add_reader() or asyncio's streams",
    TRAP_WRITE: "loop.add_writer() or asyncio's streams",
    TRAP_JOIN: "asyncio's tasks",
    TRAP_PARK: "asyncio's own queues, locks and events",
}


cdef str _foreign_runner_message(int kind, str what):
    return ("yieldloop %s was awaited in a task that yieldloop's kernel does not run "
            "(an asyncio task, for example): the awaitables of yieldloop's native API "
            "work only in tasks run by yieldloop.run(). In asyncio code, also on "
            "yieldloop.Loop, use %s instead." % (what, _ASYNCIO_INSTEAD[kind]))


cdef object _misuse(int state, str what):
    if state == TS_DONE:
        return RuntimeError("cannot reuse already awaited %s" % what)
    return RuntimeError(
        "%s was resumed before the yieldloop kernel answered it (awaited twice, "
        "or in a task neither yieldloop.run() nor yieldloop.Loop runs)" % what)


yl_set_iternext(Trap, _trap_next)


@cython.final
@cython.freelist(256)          # safe: no finalizer but a warning, no references
cdef class YieldTrap:
    """What ``sleep(0)`` returns: let the other ready tasks run first.

    A Trap of the one kind the kernel answers at once, with nothing: it
    keeps only its state (fresh, yielded, answered, consumed) and behaves
    as a Trap does, in every way of awaiting it and of misusing it."""

    def __init__(self, *args, **kwargs):
        self.state = TS_DONE             # no "never awaited" warning for it
        raise TypeError("YieldTrap objects are made by yieldloop.sleep(0)")

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __dealloc__(self):
        if self.state == TS_FRESH:
            _warn_never_awaited("sleep(0)")

    def __next__(self):
        """Yield the trap once; once the kernel answered, return None."""
        return _python_step(_yield_trap_next(<PyObject*>self))

    def send(self, value):
        """Resume; the value is ignored (the kernel answers through the trap)."""
        return _python_step(_yield_trap_next(<PyObject*>self))

    def throw(self, typ, val=None, tb=None):
        """As Trap.throw(): raise the exception here."""
        cdef object exc = _exception_of(typ, val)
        if self.state == TS_AWAITING:
            # Yielded, and not answered: the kernels answer it at once when
            # they take it, so another runner got it (see Trap.throw).
            self.state = TS_DONE
            raise RuntimeError(_foreign_runner_message(TRAP_YIELD, "sleep(0)")) from exc
        self.state = TS_DONE
        raise exc

    def close(self):
        """As Trap.close(): finish it quietly."""
        if self.state == TS_FRESH or self.state == TS_READY:
            self.state = TS_DONE

    def _describe(self):
        return "sleep(0)"

    def __repr__(self):
        return "<yieldloop trap sleep(0)>"


cdef PyObject* _yield_trap_next(PyObject* o) noexcept:
    """YieldTrap's tp_iternext: the trap itself, then (answered) the end
    with no value: NULL without an exception, which is StopIteration(None)
    without making one."""
    cdef YieldTrap t = <YieldTrap>o
    if t.state == TS_FRESH:
        t.state = TS_AWAITING
        Py_INCREF(t)
        return o
    if t.state == TS_READY:
        t.state = TS_DONE
        return NULL
    return yl_raise(_misuse(t.state, "sleep(0)"))


yl_set_iternext(YieldTrap, _yield_trap_next)


cdef double _seconds(object seconds, str what) except? -1.0:
    cdef double d
    if type(seconds) is int:
        # An int would go through int.__float__ and a temporary float.
        return PyLong_AsDouble(seconds)
    try:
        d = seconds
    except TypeError:
        raise TypeError("%s needs a number of seconds, got %s"
                        % (what, type(seconds).__name__)) from None
    if isnan(d):
        raise ValueError("%s got NaN seconds" % what)
    return d


@cython.embedsignature(True)   # help() and inspect.signature() see (seconds, /)
@cython.binding(False)         # a METH_O builtin: the cheapest call there is
def sleep(seconds, /):
    """Suspend the calling task for ``seconds`` (int or float).

    ``sleep(0)`` only lets the other ready tasks run first, like a bare
    ``yield``. Negative values count as 0, as in asyncio; NaN is a
    ValueError. Works as ``await sleep(s)``, ``yield from sleep(s)`` and
    ``yield sleep(s)``.

        async def tick():
            await yieldloop.sleep(0.5)
    """
    cdef double d = _seconds(seconds, "sleep()")
    cdef Trap t
    if d <= 0.0:
        return YieldTrap.__new__(YieldTrap)
    t = make_trap(TRAP_SLEEP)
    t.delay = d
    return t


cdef int _fileno(object fileobj, str what) except -1:
    cdef object fd = fileobj
    if not isinstance(fileobj, int):
        try:
            fd = fileobj.fileno()
        except AttributeError:
            raise TypeError("%s needs an fd (int) or an object with fileno(), got %s"
                            % (what, type(fileobj).__name__)) from None
        if not isinstance(fd, int):
            raise TypeError("%s: fileno() returned %s, not int"
                            % (what, type(fd).__name__))
    if fd < 0:
        if fd is fileobj:
            raise ValueError("%s: invalid file descriptor %d" % (what, fd))
        raise ValueError("%s: %r is closed (fileno() returned %d)" % (what, fileobj, fd))
    return fd


@cython.embedsignature(True)
@cython.binding(False)
def wait_readable(fileobj, /):
    """Suspend the calling task until ``fileobj`` (an fd or an object with
    ``fileno()``) is readable.

    Closing the fd while a task waits must go through
    ``yieldloop.notify_closing()``, which wakes the waiter with an error.
    Only one task may wait to read a given fd at a time.

        await yieldloop.wait_readable(sock)
        data = sock.recv(4096)
    """
    cdef int fd = _fileno(fileobj, "wait_readable()")    # before the trap: a refused
    cdef Trap t = make_trap(TRAP_READ)                   # argument leaves none behind
    t.fd = fd
    if not isinstance(fileobj, int):
        t.arg = fileobj
    return t


@cython.embedsignature(True)
@cython.binding(False)
def wait_writable(fileobj, /):
    """Suspend the calling task until ``fileobj`` (an fd or an object with
    ``fileno()``) is writable. See wait_readable()."""
    cdef int fd = _fileno(fileobj, "wait_writable()")
    cdef Trap t = make_trap(TRAP_WRITE)
    t.fd = fd
    if not isinstance(fileobj, int):
        t.arg = fileobj
    return t
