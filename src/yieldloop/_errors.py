"""Exceptions of the native API (CancelledError is asyncio's, see __init__)."""


class BusyResourceError(RuntimeError):
    """A task tried to wait on something only one task may wait on at a time,
    e.g. reading an fd another task is already waiting to read."""
