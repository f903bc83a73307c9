"""Exceptions of the native API (CancelledError is asyncio's, see __init__)."""


class BusyResourceError(RuntimeError):
    """A task tried to wait on something only one task may wait on at a time,
    e.g. reading an fd another task is already waiting to read."""


class ClosedResourceError(OSError):
    """The fd, socket or stream was closed, possibly while a task waited on it.

    Raised in a task waiting on an fd when ``notify_closing()`` (or a
    Stream's ``aclose()``) closes it, and by operations on a closed stream.
    """


class IncompleteReadError(EOFError):
    """The stream ended before the requested bytes arrived.

    ``partial`` holds the bytes read before the end, ``expected`` what was
    asked for (None when reading until a separator).
    """

    def __init__(self, partial, expected):
        what = "undefined" if expected is None else repr(expected)
        super().__init__(f"{len(partial)} bytes read on a total of {what} expected bytes")
        self.partial = partial
        self.expected = expected

    def __reduce__(self):
        return type(self), (self.partial, self.expected)


class LimitOverrunError(Exception):
    """No separator was found within the stream's limit.

    ``consumed`` is how many bytes the separator search looked at.
    """

    def __init__(self, message, consumed):
        super().__init__(message)
        self.consumed = consumed

    def __reduce__(self):
        return type(self), (self.args[0], self.consumed)


_ASYNCIO_HINT = (
    "asyncio code needs an asyncio event loop: yieldloop.run() gives it one (a "
    "yieldloop.Loop on the kernel's core) when asyncio is imported before run() starts; "
    "import asyncio first, or use yieldloop's own awaitables there "
    "(yieldloop.sleep(), yieldloop.Queue, yieldloop.open_connection()...), or run the "
    "asyncio code on yieldloop.Loop: yieldloop.run_asyncio(main()) or "
    "asyncio.run(main(), loop_factory=yieldloop.new_event_loop)"
)


def explain_foreign_error(exc):
    """Add a note saying what to use instead to the error asyncio raises
    when its code runs in a yieldloop.run() task ("no running event loop").
    Called by the kernel on a task's exception; returns ``exc``."""
    if type(exc) is RuntimeError and exc.args == ("no running event loop",):
        notes = getattr(exc, "__notes__", None)
        if notes is None or _ASYNCIO_HINT not in notes:
            if hasattr(exc, "add_note"):
                exc.add_note(_ASYNCIO_HINT)
            else:  # Python 3.10: the exceptiongroup backport prints __notes__
                exc.__notes__ = [*(notes or ()), _ASYNCIO_HINT]
    return exc
