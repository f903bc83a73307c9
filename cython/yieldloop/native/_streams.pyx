# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Streams over connected sockets, and the client connections that make them.

Reading is pulled by the task that reads: read(), readexactly(),
readline() and readuntil() receive straight from the fd (into the stream's
buffer, or for a plain read() into the bytes returned) and park the task on
the fd only when nothing is there. One task reads at a time; a second one
gets BusyResourceError.

Writing is pushed: write() sends at once what the socket takes and keeps
the rest, which an I/O callback flushes whenever the fd is writable.
drain() waits while the unsent data is above the high-water mark, until it
is down to the low-water mark: a slow reader slows a writer that drains.
send_all() waits until everything written is sent.

Closing wakes a task parked on the stream's fd with ClosedResourceError and
makes the kernel forget the fd, so a reused fd number starts clean.

Servers, which make a Stream of each connection they accept, are in
_servers.pyx; TLS over a Stream in _tls.pyx.
"""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.bytearray cimport PyByteArray_AS_STRING
from yieldloop.core._traps cimport Trap, make_trap, TRAP_READ
from yieldloop.native._waitlist cimport WaitList
from yieldloop.core._handles cimport Handle, new_handle
from yieldloop.native._traphost cimport wake
from yieldloop.native._kernel cimport Kernel
from yieldloop.native._api cimport need_kernel, running_kernel
from yieldloop.core._poller cimport YL_WRITE
from yieldloop.includes.net cimport (
    YL_WOULD_BLOCK, yl_recv_bytes, yl_recv_append, yl_send_from, yl_buffer_len)

import os as _os
import socket as _socket

from yieldloop._errors import ClosedResourceError, IncompleteReadError, LimitOverrunError
from yieldloop.native._sockets import getaddrinfo, sock_connect

#: Longest line or separator search readline()/readuntil() accept (asyncio's).
DEFAULT_LIMIT = 2 ** 16
#: Unsent bytes above which drain() waits, and down to which it waits.
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024

cdef enum:
    RECV_CHUNK = 65536


cdef inline Trap _wait_readable(int fd, object owner):
    cdef Trap t = make_trap(TRAP_READ)
    t.fd = fd
    t.arg = owner
    return t


cdef int close_socket(object sock) except -1:
    """Close ``sock``, first waking whoever waits on it (see notify_closing)."""
    cdef Kernel k = running_kernel()
    cdef int fd = sock.fileno()
    if fd >= 0 and k is not None:
        k.close_fd(fd)
    sock.close()
    return 0


# The docstring line "Name(sig)\n--\n" is the signature CPython gives a C type
# (and a slot like __init__) for help() and inspect.signature().
@cython.final
cdef class Stream:
    """Stream(sock, *, limit=65536, high_water=65536, low_water=-1)\n--\n
    A connected socket with buffered reads and flow-controlled writes.

        async with await yieldloop.open_connection("127.0.0.1", 8888) as s:
            s.write(b"ping\\n")
            await s.drain()
            reply = await s.readline()

    Made by open_connection(), open_unix_connection() and servers; wrap a
    connected socket of your own with ``Stream(sock)`` inside a running
    kernel. ``limit`` bounds readline()/readuntil(); ``high_water`` and
    ``low_water`` set when drain() waits.
    """
    # The fields are declared in _streams.pxd.

    def __init__(self, sock, *, Py_ssize_t limit=DEFAULT_LIMIT,
                 Py_ssize_t high_water=HIGH_WATER, Py_ssize_t low_water=-1):
        """__init__($self, /, sock, *, limit=65536, high_water=65536, low_water=-1)\n--\n
        See help(Stream)."""
        if limit <= 0:
            raise ValueError("limit must be positive")
        if low_water < 0:
            low_water = high_water // 4
        if not 0 <= low_water <= high_water:
            raise ValueError("need 0 <= low_water <= high_water")
        self._kernel = need_kernel("Stream()")
        self._fd = sock.fileno()
        if self._fd < 0:
            raise ValueError("Stream(): the socket is closed")
        sock.setblocking(False)
        self._sock = sock
        self._rbuf = bytearray()
        self._wbuf = bytearray()
        self._writers = WaitList("Stream drain")
        self._limit = limit
        self._high = high_water
        self._low = low_water

    # --- reading

    cdef _check_open(self):
        if self._closed:
            raise ClosedResourceError("the stream is closed")
        if self._wrapped:
            raise ClosedResourceError(
                "start_tls() handed this stream's socket to a TLS stream: use that one")

    async def _receive(self):
        """Append at least one byte to the buffer, or mark the end of stream."""
        cdef Py_ssize_t got
        while True:
            self._check_open()
            if self._drained:
                # A short read emptied the socket: a recv now would only
                # fail with EAGAIN. Waiting costs no system call (the fd
                # stays armed) and returns at once if data came meanwhile.
                self._drained = False
                await _wait_readable(self._fd, self._sock)
                continue
            got = yl_recv_append(self._fd, self._rbuf, RECV_CHUNK)
            if got != YL_WOULD_BLOCK:
                if got == 0:
                    self._eof = True
                elif got < RECV_CHUNK:
                    self._drained = True
                return
            await _wait_readable(self._fd, self._sock)

    cdef bytes _take(self, Py_ssize_t n):
        cdef bytes data = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(self._rbuf), n)
        del self._rbuf[:n]
        return data

    async def read(self, Py_ssize_t n=-1):
        """Up to ``n`` bytes (at least one, unless the stream ended: b"");
        with ``n < 0``, everything until the end of the stream."""
        if n == 0:
            return b""
        if n < 0:
            while not self._eof:
                await self._receive()
            return self._take(len(self._rbuf))
        if self._rbuf:
            return self._take(min(n, len(self._rbuf)))
        # Nothing buffered: receive straight into the bytes returned.
        while not self._eof:
            self._check_open()
            if self._drained:
                self._drained = False
                await _wait_readable(self._fd, self._sock)
                continue
            data = yl_recv_bytes(self._fd, n)
            if data is not None:
                if not data:
                    self._eof = True
                elif len(data) < n:
                    self._drained = True
                return data
            await _wait_readable(self._fd, self._sock)
        return b""

    async def readexactly(self, Py_ssize_t n):
        """Exactly ``n`` bytes; IncompleteReadError (with the bytes read in
        ``partial``) if the stream ends first."""
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        while len(self._rbuf) < n:
            if self._eof:
                raise IncompleteReadError(self._take(len(self._rbuf)), n)
            await self._receive()
        return self._take(n)

    async def readuntil(self, separator=b"\n"):
        """The bytes up to and including ``separator``.

        IncompleteReadError if the stream ends first; LimitOverrunError
        (data left in the buffer) if no separator comes within the limit:
        the buffer never grows much beyond the limit.
        """
        cdef Py_ssize_t seplen = len(separator), offset = 0, isep, buflen
        if seplen == 0:
            raise ValueError("Separator should be at least one-byte string")
        while True:
            buflen = len(self._rbuf)
            if buflen - offset >= seplen:
                isep = self._rbuf.find(separator, offset)
                if isep != -1:
                    break
                offset = buflen + 1 - seplen
                if offset > self._limit:
                    raise LimitOverrunError(
                        "Separator is not found, and chunk exceed the limit", offset)
            if self._eof:
                raise IncompleteReadError(self._take(len(self._rbuf)), None)
            await self._receive()
        if isep > self._limit:
            raise LimitOverrunError("Separator is found, but chunk is longer than limit", isep)
        return self._take(isep + seplen)

    async def readline(self):
        """One line, ``\\n`` included (b"" at the end of the stream, the last
        bytes if they have no newline). A line longer than the limit raises
        ValueError and is dropped."""
        try:
            return await self.readuntil(b"\n")
        except IncompleteReadError as e:
            return e.partial
        except LimitOverrunError as e:
            if self._rbuf.startswith(b"\n", e.consumed):
                del self._rbuf[:e.consumed + 1]
            else:
                self._rbuf.clear()
            raise ValueError(e.args[0])

    def at_eof(self):
        """True once the peer finished sending and the buffer is empty."""
        return self._eof and not self._rbuf

    def __aiter__(self):
        return self

    async def __anext__(self):
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # --- writing

    cdef _check_writable(self):
        self._check_open()
        if self._write_error is not None:
            raise self._write_error
        if self._eof_sent:
            raise ClosedResourceError("send_eof() was called: the stream cannot write")

    def write(self, data):
        """Send ``data`` (bytes-like) as soon as possible: what the socket
        does not take at once is buffered and sent in the background. Follow
        with ``await drain()`` so that a slow peer slows you down."""
        self._check_writable()
        self._send(data)

    cdef int _send(self, object data) except -1:
        cdef Py_ssize_t total, sent = 0
        total = yl_buffer_len(data)
        if total == 0:
            return 0
        if not self._wbuf:
            try:
                sent = yl_send_from(self._fd, data, 0)
            except OSError as e:
                self._write_error = e
                raise
            if sent == YL_WOULD_BLOCK:
                sent = 0
            if sent == total:
                return 0
        if sent == 0 and type(data) is bytes:
            self._wbuf += <bytes>data
        else:
            self._wbuf += memoryview(data).cast("B")[sent:]
        if self._flusher is None:
            self._flusher = new_handle(self._flush, (), None)
            self._kernel.watch_fd(self._fd, YL_WRITE, self._flusher, self._sock)
        return 0

    def writelines(self, lines):
        """write() each item of ``lines``."""
        for line in lines:
            self.write(line)

    def _flush(self):
        # I/O callback: the fd is writable and data is waiting.
        self._flusher = None
        if self._closed:
            return
        try:
            sent = yl_send_from(self._fd, self._wbuf, 0)
        except OSError as e:
            self._write_error = e
            self._wbuf.clear()
        else:
            if sent > 0:
                del self._wbuf[:sent]
            if self._wbuf:
                self._flusher = new_handle(self._flush, (), None)
                self._kernel.watch_fd(self._fd, YL_WRITE, self._flusher, self._sock)
        if len(self._wbuf) <= self._low:
            self._wake_writers()

    cdef _wake_writers(self):
        cdef Trap t = self._writers.first()
        while t is not None:
            wake(t, None, None)
            t = self._writers.next_after(t)

    async def _wait_buffer(self, Py_ssize_t level):
        """Wait until at most ``level`` bytes are unsent (or it failed)."""
        cdef Trap t
        while len(self._wbuf) > level and self._write_error is None and not self._closed:
            t = self._writers.park()
            try:
                await t
            finally:
                self._writers.remove(t)
        self._check_open()
        if self._write_error is not None:
            raise self._write_error

    async def drain(self):
        """Wait while the unsent data is above the high-water mark, until it
        is down to the low-water mark; raise a send error if one occurred."""
        self._check_open()
        if self._write_error is not None:
            raise self._write_error
        if len(self._wbuf) > self._high:
            await self._wait_buffer(self._low)

    async def send_all(self, data):
        """Write ``data`` and wait until all of it has been sent."""
        self.write(data)
        if self._wbuf:
            await self._wait_buffer(0)

    async def send_eof(self):
        """Send what is buffered, then close the writing half (the peer
        reads the end of the stream; this side can still read)."""
        if self._eof_sent:
            return
        if self._wbuf:
            await self._wait_buffer(0)
        self._check_writable()
        self._eof_sent = True
        self._sock.shutdown(_socket.SHUT_WR)

    # --- TLS

    async def start_tls(self, ssl_context, *, bint server_side=False, server_hostname=None,
                        ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
        """Upgrade the connection to TLS (after a plaintext exchange such as
        STARTTLS): send what is buffered, run the handshake, and return a
        TLSStream over this stream's socket. This Stream is then the TLS
        stream's: use only the one returned. If the handshake fails, the
        socket is closed.

            tls = await stream.start_tls(ssl.create_default_context(),
                                         server_hostname="mail.example.org")
        """
        self._check_open()
        if self._wbuf:
            await self._wait_buffer(0)
        return await tls_module().wrap(self, ssl_context, server_side, server_hostname,
                                       ssl_handshake_timeout, ssl_shutdown_timeout)

    # --- closing

    async def aclose(self):
        """Send what is buffered, then close. Cancelling it closes at once."""
        if self._closed:
            return
        try:
            if self._wbuf and self._write_error is None:
                await self._wait_buffer(0)
        except (ClosedResourceError, OSError):
            pass
        finally:
            self.close()

    def close(self):
        """Close now, dropping unsent data. A task parked on the stream's fd
        wakes with ClosedResourceError."""
        if self._closed:
            return
        self._closed = True
        self._wbuf.clear()
        self._flusher = None
        if self._kernel._running and self._sock.fileno() >= 0:
            self._kernel.close_fd(self._fd)
        self._sock.close()
        self._wake_writers()

    @property
    def closed(self):
        """True once the stream is closed."""
        return self._closed

    @property
    def socket(self):
        """The underlying socket."""
        return self._sock

    def get_extra_info(self, name, default=None):
        """asyncio-style: "peername", "sockname" or "socket"."""
        try:
            if name == "peername":
                return self._sock.getpeername()
            if name == "sockname":
                return self._sock.getsockname()
        except OSError:
            return default
        if name == "socket":
            return self._sock
        return default

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.aclose()

    def __repr__(self):
        state = "closed" if self._closed else "fd=%d" % self._fd
        return "<Stream %s buffered=%d unsent=%d>" % (state, len(self._rbuf), len(self._wbuf))


cdef object _tls_module = None


cdef object tls_module():
    """yieldloop.native._tls, imported on first use: the ssl module is
    slow to import, and only TLS needs it."""
    global _tls_module
    if _tls_module is None:
        from yieldloop.native import _tls as mod
        _tls_module = mod
    return _tls_module


cdef object _client_tls(object ssl, object server_hostname, object host,
                        object handshake_timeout, object shutdown_timeout):
    """The SSLContext and server name for a client's ``ssl=`` (asyncio's rules)."""
    if ssl is None or ssl is False:
        if server_hostname is not None:
            raise ValueError("server_hostname is only meaningful with ssl")
        if handshake_timeout is not None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if shutdown_timeout is not None:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        return None, None
    mod = tls_module()
    context = mod.client_context(ssl)
    mod.check_timeout(handshake_timeout, "ssl_handshake_timeout")
    mod.check_timeout(shutdown_timeout, "ssl_shutdown_timeout")
    if server_hostname is None:
        if not host:
            raise ValueError("You must set server_hostname when using ssl without a host")
        server_hostname = host
    return context, server_hostname


cdef object server_tls(object ssl, object handshake_timeout, object shutdown_timeout):
    if ssl is None:
        if handshake_timeout is not None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if shutdown_timeout is not None:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        return None
    mod = tls_module()
    if not isinstance(ssl, mod._ssl.SSLContext):
        raise TypeError("ssl argument must be an SSLContext or None, got %r" % (ssl,))
    mod.check_timeout(handshake_timeout, "ssl_handshake_timeout")
    mod.check_timeout(shutdown_timeout, "ssl_shutdown_timeout")
    return ssl


async def _wrap_client(Stream stream, context, server_hostname, handshake_timeout,
                       shutdown_timeout):
    try:
        return await tls_module().wrap(stream, context, False, server_hostname,
                                       handshake_timeout, shutdown_timeout)
    except BaseException:
        stream.close()
        raise


cdef int nodelay(object sock) except -1:
    if sock.family in (_socket.AF_INET, _socket.AF_INET6):
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    return 0


async def open_connection(host, port, *, Py_ssize_t limit=DEFAULT_LIMIT, family=0,
                          ssl=None, server_hostname=None, ssl_handshake_timeout=None,
                          ssl_shutdown_timeout=None):
    """Connect to ``host``:``port`` over TCP and return a Stream. A host
    name is resolved in a worker thread; each address is tried in turn.

        stream = await yieldloop.open_connection("127.0.0.1", 8888)

    With ``ssl`` (an ssl.SSLContext, or True for ssl.create_default_context():
    the server's certificate verified, its name checked) the connection is
    TLS and a TLSStream is returned once the handshake is done.
    ``server_hostname`` (default: ``host``) is the name sent (SNI) and
    checked; ``ssl_handshake_timeout`` (60 s) bounds the handshake
    (TimeoutError), ``ssl_shutdown_timeout`` (30 s) the closing exchange.
    """
    context, server_hostname = _client_tls(ssl, server_hostname, host,
                                           ssl_handshake_timeout, ssl_shutdown_timeout)
    infos = await getaddrinfo(host, port, family=family, type=_socket.SOCK_STREAM)
    if not infos:
        raise OSError("getaddrinfo(%r, %r) returned no address" % (host, port))
    errors = []
    for af, kind, proto, _, address in infos:
        sock = _socket.socket(af, kind, proto)
        try:
            sock.setblocking(False)
            await sock_connect(sock, address)
            nodelay(sock)
            stream = Stream(sock, limit=limit)
        except BaseException as e:
            close_socket(sock)
            if not isinstance(e, OSError):
                raise
            errors.append(e)
            continue
        if context is None:
            return stream
        return await _wrap_client(stream, context, server_hostname,
                                  ssl_handshake_timeout, ssl_shutdown_timeout)
    if len(errors) == 1:
        raise errors[0]
    raise OSError("Multiple exceptions: %s" % ", ".join(str(e) for e in errors))


async def open_unix_connection(path, *, Py_ssize_t limit=DEFAULT_LIMIT, ssl=None,
                               server_hostname=None, ssl_handshake_timeout=None,
                               ssl_shutdown_timeout=None):
    """Connect to the Unix socket at ``path`` and return a Stream; with
    ``ssl``, a TLSStream (see open_connection(); ``server_hostname`` is
    then required, there being no host name to default to)."""
    context, server_hostname = _client_tls(ssl, server_hostname, None,
                                           ssl_handshake_timeout, ssl_shutdown_timeout)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await sock_connect(sock, _os.fspath(path))
        stream = Stream(sock, limit=limit)
    except BaseException:
        close_socket(sock)
        raise
    if context is None:
        return stream
    return await _wrap_client(stream, context, server_hostname,
                              ssl_handshake_timeout, ssl_shutdown_timeout)
