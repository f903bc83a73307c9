# cython: language_level=3, boundscheck=False, wraparound=False
"""What yieldloop.Loop shows as asyncio's selector (``loop._selector``).

asyncio's selector event loop keeps a selector, and some of asyncio's code
looks at it: a transport's repr asks its map whether the transport's fd is
being read or written. yieldloop.Loop polls through the scheduler core's
poller instead (_loop.pyx), so ``loop._selector`` is a read-only view: its
map lists the fds with a reader or a writer callback, found in the poller's
tables, and each key's fileobj is the object the callback was added with.
It never registers or selects: those raise NotImplementedError.

Invariant: only the Loop's own (persistent) waiters are keys; a native
task's wait on the same core is not a callback and does not show.
"""
from yieldloop.aio._loop cimport LoopCore
from yieldloop.core._poller cimport YL_READ, YL_WRITE

import selectors
from collections.abc import Mapping


class _PollerSelector(selectors.BaseSelector):
    """What asyncio's code may ask of ``loop._selector``: a read-only map of
    the fd callbacks (transports' reprs use it). The loop never selects
    through it."""

    def __init__(self, loop):
        self._map = _CallbackMap(loop)

    def register(self, fileobj, events, data=None):
        raise NotImplementedError("yieldloop.Loop registers fds itself")

    def unregister(self, fileobj):
        raise NotImplementedError("yieldloop.Loop registers fds itself")

    def select(self, timeout=None):
        raise NotImplementedError("yieldloop.Loop polls itself")

    def get_map(self):
        return self._map

    def close(self):
        pass


class _CallbackMap(Mapping):
    """A selector's map over the loop's fd callbacks, as asyncio's selector
    map is: it lists the fds with a reader or a writer, finds a key by fd
    or by the object it was added with (an int or an object with fileno()),
    and each key's fileobj is that object."""

    def __init__(self, loop):
        self._loop = loop

    def __getitem__(self, fileobj):
        cdef LoopCore core = self._loop
        cdef int fd = core._lookup_fileobj(fileobj)
        key = _key(core, fd)
        if key is None:
            raise KeyError("%r is not registered" % (fileobj,))
        return key

    def __iter__(self):
        cdef LoopCore core = self._loop
        return iter([key.fd for key in _keys(core)])

    def __len__(self):
        cdef LoopCore core = self._loop
        return len(_keys(core))


cdef object _key(LoopCore core, int fd):
    """The SelectorKey of ``fd``'s callbacks (data: (reader, writer)), or None.
    Only the loop's own (persistent) waiters count: native tasks' waits on
    the same core are not callbacks."""
    reader = core._poller_c.waiter(fd, YL_READ)
    writer = core._poller_c.waiter(fd, YL_WRITE)
    if reader is not None and not core._poller_c.persistent_waiter(fd, YL_READ):
        reader = None
    if writer is not None and not core._poller_c.persistent_waiter(fd, YL_WRITE):
        writer = None
    if reader is None and writer is None:
        return None
    mask = (selectors.EVENT_READ if reader is not None else 0) | (
        selectors.EVENT_WRITE if writer is not None else 0)
    return selectors.SelectorKey(core._fileobjs.get(fd, fd), fd, mask, (reader, writer))


cdef list _keys(LoopCore core):
    """Every fd's key, by fd number: the poller is scanned up to the last fd
    with a callback (it keeps them in tables indexed by fd)."""
    cdef list keys = []
    cdef Py_ssize_t left = core._poller_c.nwaiters
    cdef int fd = 0
    if core._closed_c:
        return keys
    while left > 0:
        left -= (core._poller_c.waiter(fd, YL_READ) is not None) + (
            core._poller_c.waiter(fd, YL_WRITE) is not None)
        key = _key(core, fd)
        if key is not None:
            keys.append(key)
        fd += 1
    return keys
