# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""TLS over a Stream: an ssl.SSLObject between two memory BIOs, driven by
the task that reads or writes, on the kernel's own traps.

Nothing blocks: the handshake, reads and the closing exchange run OpenSSL
against memory buffers. When OpenSSL needs bytes from the peer, the task
receives up to 64 KiB of ciphertext from the socket in one system call
into the incoming BIO and tries again, parking on the socket's fd only when
nothing is there, exactly as a Stream's reader does: a task waiting on TLS
is, for the kernel and the tracer, a task waiting on its socket.

Reading decrypts everything the incoming BIO holds, a record per call,
into the stream's buffer (or, for read(n) with nothing buffered, straight
into the bytes returned). Writing encrypts all of the data into the
outgoing BIO at once (a memory BIO never refuses) and hands the records,
in one piece, to the Stream underneath, which sends them at once or keeps
them for its writability callback; drain() waits on the Stream's buffer.

The end of the stream is the peer's close_notify, or, as with asyncio's
TLS, the socket's end without one. aclose() sends close_notify, waits (at
most ``ssl_shutdown_timeout``) for the peer's, then closes the socket.
"""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING
from yieldloop.core._traps cimport Trap, make_trap, TRAP_READ
from yieldloop.native._streams cimport Stream
from yieldloop.includes.net cimport yl_recv_chunk, yl_buffer_len

import ssl as _ssl

from yieldloop._errors import (
    BusyResourceError, ClosedResourceError, IncompleteReadError, LimitOverrunError)
from yieldloop.native._structured import timeout as _timeout

#: Seconds a handshake may take, and the closing exchange (asyncio's defaults).
HANDSHAKE_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 30.0

cdef object SSLContext = _ssl.SSLContext
cdef object MemoryBIO = _ssl.MemoryBIO
cdef object SSLObject = _ssl.SSLObject
cdef object SSLWantReadError = _ssl.SSLWantReadError
cdef object SSLZeroReturnError = _ssl.SSLZeroReturnError
cdef object SSLEOFError = _ssl.SSLEOFError
cdef object SSLError = _ssl.SSLError

cdef enum:
    # Larger than any TLS record's plaintext (16 KiB): a decrypt that
    # returns less has emptied OpenSSL's own buffer.
    RECV_CHUNK = 65536

cdef enum:
    RAW_EOF = 0         # the socket ended
    RAW_GOT = 1         # ciphertext went into the incoming BIO
    RAW_WAIT = 2        # nothing there: park on the fd, then try again


cdef inline Trap _wait_readable(Stream tr):
    cdef Trap t = make_trap(TRAP_READ)
    t.fd = tr._fd
    t.arg = tr._sock
    return t


cdef double _positive(object value, double default, str name) except -1:
    if value is None:
        return default
    if not value > 0:       # also refuses NaN
        raise ValueError("%s should be a positive number, got %r" % (name, value))
    return value


@cython.final
cdef class TLSStream:
    """A TLS connection over a Stream, with the Stream's API.

        ctx = ssl.create_default_context()
        async with await yieldloop.open_connection(
                "example.org", 443, ssl=ctx) as s:
            s.write(b"HEAD / HTTP/1.0\\r\\nHost: example.org\\r\\n\\r\\n")
            print(await s.readline())

    Made by open_connection() / open_unix_connection() with ``ssl=``, by
    servers started with ``ssl=`` (the handler gets one, handshake done),
    and by Stream.start_tls(). read(), readexactly(), readline(),
    readuntil(), write() + drain(), send_all(), aclose() behave as a
    Stream's; get_extra_info() also answers "ssl_object", "peercert",
    "cipher", "compression" and "sslcontext". TLS has no half-close:
    send_eof() raises NotImplementedError.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("TLSStream objects are made by open_connection(ssl=...), "
                        "servers started with ssl=... and Stream.start_tls()")

    # --- the synchronous steps

    cdef _check_open(self):
        if self._closed or self._transport._closed:
            raise ClosedResourceError("the stream is closed")

    cdef int _recv_ciphertext(self) except -1:
        """One recv from the socket into the incoming BIO."""
        cdef Stream tr = self._transport
        cdef object chunk
        if self._raw_eof:
            return RAW_EOF
        if tr._drained:
            # The last recv was short: the socket is empty, wait first
            # (free: the fd stays armed, and the wait returns at once if
            # data came meanwhile).
            tr._drained = False
            return RAW_WAIT
        chunk = yl_recv_chunk(tr._fd)
        if chunk is None:
            return RAW_WAIT
        if PyBytes_GET_SIZE(chunk) == 0:
            self._raw_eof = True
            self._incoming.write_eof()
            return RAW_EOF
        if PyBytes_GET_SIZE(chunk) < RECV_CHUNK:
            tr._drained = True
        self._in_write(chunk)
        return RAW_GOT

    cdef object _decrypt(self):
        """One record's plaintext (b"" at the end of the stream), or None:
        the incoming BIO holds no complete record."""
        cdef object data
        try:
            data = self._ssl_read(RECV_CHUNK)
        except SSLWantReadError:
            self._ssl_more = False
            data = None
        except SSLZeroReturnError:          # the peer's close_notify
            self._ssl_more = False
            self._eof = True
            data = b""
        except SSLEOFError:
            # The socket ended without close_notify: the end of the
            # stream, as asyncio's TLS takes it.
            if not self._raw_eof:
                raise
            self._ssl_more = False
            self._eof = True
            data = b""
        else:
            if type(data) is not bytes:     # from an SSLObject subclass of the context's
                data = bytes(data)
            if PyBytes_GET_SIZE(data) == 0:
                self._eof = True
            self._ssl_more = PyBytes_GET_SIZE(data) == RECV_CHUNK
        if self._outgoing.pending:
            # Reading can make records to send (a TLS 1.3 key update). A
            # send error is the Stream's to report, at the next write.
            try:
                self._flush_out()
            except OSError:
                pass
        return data

    cdef object _pull(self):
        """Decrypted bytes (b"" once the stream ended), or None when nothing
        is there yet: the caller parks on the fd, then calls again."""
        cdef object data
        while True:
            if self._ssl_more or self._raw_eof or self._incoming.pending:
                data = self._decrypt()
                if data is not None:
                    return data
                if self._raw_eof:           # a partial record, then the end
                    self._eof = True
                    return b""
            if self._recv_ciphertext() == RAW_WAIT:
                return None

    cdef int _flush_out(self) except -1:
        """Hand every record made so far, in one piece, to the Stream."""
        cdef object data = self._out_read()
        if PyBytes_GET_SIZE(data):
            self._transport._send(data)
        return 0

    cdef bytes _take(self, Py_ssize_t n):
        cdef bytes data = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(self._rbuf), n)
        del self._rbuf[:n]
        return data

    # --- the handshake

    async def _handshake(self, double handshake_timeout):
        cdef Stream tr = self._transport
        cdef int got
        scope = _timeout(handshake_timeout)
        try:
            async with scope:
                while True:
                    try:
                        self._sslobj.do_handshake()
                        break
                    except SSLWantReadError:
                        pass
                    except SSLEOFError as e:
                        raise ConnectionResetError(
                            "the peer closed the connection during the TLS handshake") from e
                    except SSLError:
                        try:
                            self._flush_out()       # the alert, so that the peer knows why
                        except OSError:
                            pass
                        raise
                    try:
                        self._flush_out()
                        got = self._recv_ciphertext()
                    except ConnectionError as e:    # reset, broken pipe
                        raise ConnectionResetError(
                            e.errno, "the peer reset the connection during the TLS handshake"
                        ) from e
                    if got == RAW_WAIT:
                        await _wait_readable(tr)
                    elif got == RAW_EOF:
                        # OpenSSL took every whole record and wants more:
                        # none will come.
                        raise ConnectionResetError(
                            "the peer closed the connection during the TLS handshake")
        except TimeoutError:
            if scope.expired():
                raise TimeoutError("the TLS handshake took longer than %g seconds"
                                   % handshake_timeout) from None
            raise
        self._flush_out()

    # --- reading

    async def _receive(self):
        """Append at least one decrypted byte to the buffer, or mark the end."""
        cdef object data
        while True:
            self._check_open()
            data = self._pull()
            if data is None:
                await _wait_readable(self._transport)
                continue
            if PyBytes_GET_SIZE(data):
                self._rbuf += data
            return

    async def read(self, Py_ssize_t n=-1):
        """Up to ``n`` bytes (at least one, unless the stream ended: b"");
        with ``n < 0``, everything until the end of the stream."""
        cdef object data
        if n == 0:
            return b""
        if n < 0:
            while not self._eof:
                await self._receive()
            return self._take(len(self._rbuf))
        if self._rbuf:
            return self._take(min(n, len(self._rbuf)))
        while not self._eof:
            self._check_open()
            data = self._pull()
            if data is None:
                await _wait_readable(self._transport)
                continue
            if PyBytes_GET_SIZE(data) > n:
                self._rbuf += memoryview(data)[n:]
                return data[:n]
            return data
        return b""

    async def readexactly(self, Py_ssize_t n):
        """Exactly ``n`` bytes; IncompleteReadError (with the bytes read in
        ``partial``) if the stream ends first."""
        cdef object data
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        while len(self._rbuf) < n:
            if self._eof:
                raise IncompleteReadError(self._take(len(self._rbuf)), n)
            self._check_open()
            data = self._pull()
            if data is None:
                await _wait_readable(self._transport)
            elif not self._rbuf and PyBytes_GET_SIZE(data) == n:
                return data                 # one record, exactly what was asked
            else:
                self._rbuf += data
        return self._take(n)

    async def readuntil(self, separator=b"\n"):
        """The bytes up to and including ``separator``.

        IncompleteReadError if the stream ends first; LimitOverrunError
        (data left in the buffer) if no separator comes within the limit.
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
        cdef Stream tr = self._transport
        self._check_open()
        if tr._write_error is not None:
            raise tr._write_error

    def write(self, data):
        """Encrypt ``data`` (bytes-like) and send it as soon as possible
        (what the socket does not take at once is sent in the background).
        Follow with ``await drain()`` so that a slow peer slows you down."""
        self._check_writable()
        if yl_buffer_len(data) == 0:
            return
        try:
            self._ssl_write(data)
        except SSLWantReadError:
            # Only a TLS 1.2 renegotiation in progress makes a write wait
            # for the peer; not supported.
            raise SSLError("write() during a TLS renegotiation is not supported") from None
        self._flush_out()

    def writelines(self, lines):
        """write() each item of ``lines``, sent together."""
        self._check_writable()
        for line in lines:
            if yl_buffer_len(line):
                self._ssl_write(line)
        self._flush_out()

    async def _wait_sent(self, Py_ssize_t level):
        """Wait until at most ``level`` bytes are unsent (or it failed)."""
        cdef Stream tr = self._transport
        cdef Trap t
        while len(tr._wbuf) > level and tr._write_error is None and not tr._closed:
            t = tr._writers.park()
            try:
                await t
            finally:
                tr._writers.remove(t)
        self._check_open()
        if tr._write_error is not None:
            raise tr._write_error

    async def drain(self):
        """Wait while the unsent data is above the high-water mark, until it
        is down to the low-water mark; raise a send error if one occurred."""
        cdef Stream tr = self._transport
        self._check_open()
        if tr._write_error is not None:
            raise tr._write_error
        if len(tr._wbuf) > tr._high:
            await self._wait_sent(tr._low)

    async def send_all(self, data):
        """Write ``data`` and wait until all of it has been sent."""
        self.write(data)
        if self._transport._wbuf:
            await self._wait_sent(0)

    async def send_eof(self):
        """TLS has no half-close (as asyncio's TLS transports): raises
        NotImplementedError. aclose() ends the connection."""
        raise NotImplementedError("TLS streams cannot half-close: use aclose()")

    # --- closing

    async def _shutdown(self):
        cdef Stream tr = self._transport
        cdef int got
        if tr._wbuf and tr._write_error is None:
            await self._wait_sent(0)
        while True:
            try:
                self._sslobj.unwrap()       # sends close_notify, then looks for the peer's
                break
            except SSLWantReadError:
                pass
            self._flush_out()
            got = self._recv_ciphertext()
            if got == RAW_EOF:
                break
            if got == RAW_WAIT:
                await _wait_readable(tr)
        self._flush_out()
        if tr._wbuf:
            await self._wait_sent(0)

    async def aclose(self):
        """Send what is buffered and close_notify, wait (at most the stream's
        ``ssl_shutdown_timeout``) for the peer's close_notify, then close the
        socket. Errors on the way are not raised: the stream ends closed.
        Cancelling it closes at once."""
        if self._closed:
            return
        try:
            if not self._transport._closed:
                async with _timeout(self._shutdown_timeout):
                    await self._shutdown()
        except (TimeoutError, OSError, BusyResourceError):
            # SSLError and ClosedResourceError are OSErrors; busy: another
            # task is reading, and the close wakes it.
            pass
        finally:
            self.close()

    def close(self):
        """Close the socket now, without close_notify, dropping unsent data.
        A task parked on the stream wakes with ClosedResourceError."""
        if self._closed:
            return
        self._closed = True
        self._transport._wrapped = False
        self._transport.close()

    @property
    def closed(self):
        """True once the stream is closed."""
        return self._closed

    @property
    def socket(self):
        """The underlying socket."""
        return self._transport._sock

    @property
    def ssl_object(self):
        """The ssl.SSLObject: version(), cipher(), getpeercert(), ..."""
        return self._sslobj

    def get_extra_info(self, name, default=None):
        """asyncio-style: "ssl_object", "peercert", "cipher", "compression",
        "sslcontext", and the socket's "peername", "sockname", "socket"."""
        if name == "ssl_object":
            return self._sslobj
        if name == "peercert":
            return self._sslobj.getpeercert()
        if name == "cipher":
            return self._sslobj.cipher()
        if name == "compression":
            return self._sslobj.compression()
        if name == "sslcontext":
            return self._context
        return self._transport.get_extra_info(name, default)

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.aclose()

    def __repr__(self):
        cdef Stream tr = self._transport
        if self._closed:
            state = "closed"
        else:
            state = "fd=%d %s" % (tr._fd, self._sslobj.version() or "handshaking")
        return "<TLSStream %s buffered=%d unsent=%d>" % (state, len(self._rbuf), len(tr._wbuf))


cdef TLSStream _new_tls(Stream transport, object context, bint server_side,
                        object server_hostname, double shutdown_timeout):
    cdef TLSStream s = TLSStream.__new__(TLSStream)
    s._transport = transport
    s._context = context
    s._incoming = MemoryBIO()
    s._outgoing = MemoryBIO()
    s._sslobj = context.wrap_bio(s._incoming, s._outgoing, server_side=server_side,
                                 server_hostname=server_hostname)
    # ssl.SSLObject's read() and write() are Python methods that only call
    # the same method of its _ssl._SSLSocket: call that one, one Python
    # frame less per record (not for a subclass, which may add to them).
    inner = getattr(s._sslobj, "_sslobj", None) if type(s._sslobj) is SSLObject else None
    s._ssl_read = (inner or s._sslobj).read
    s._ssl_write = (inner or s._sslobj).write
    s._in_write = s._incoming.write
    s._out_read = s._outgoing.read
    s._rbuf = bytearray()
    s._limit = transport._limit
    s._shutdown_timeout = shutdown_timeout
    # What the Stream received before the TLS stream took it over (the
    # peer's first records right after a plaintext STARTTLS exchange).
    if transport._rbuf:
        s._in_write(bytes(transport._rbuf))
        transport._rbuf.clear()
    if transport._eof:
        s._raw_eof = True
        s._incoming.write_eof()
    transport._wrapped = True
    return s


def check_timeout(value, name):
    """``value`` if it is None or a positive number; ValueError otherwise."""
    if value is not None:
        _positive(value, 0, name)
    return value


def client_context(ssl):
    """The SSLContext for ``ssl=``: True makes a default one (certificates
    verified against the system's CAs, host name checked)."""
    if ssl is True:
        return _ssl.create_default_context()
    if not isinstance(ssl, SSLContext):
        raise TypeError("ssl should be an ssl.SSLContext or True, got %r" % (ssl,))
    return ssl


async def wrap(Stream transport, context, bint server_side=False, server_hostname=None,
               ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
    """Run the TLS handshake over ``transport`` and return the TLSStream.
    On failure (or cancellation) the socket is closed and the error raised:
    TimeoutError after ``ssl_handshake_timeout``, ssl.SSLCertVerificationError
    for a certificate that does not verify, ConnectionResetError if the peer
    closes first."""
    cdef TLSStream s
    cdef double handshake = _positive(ssl_handshake_timeout, HANDSHAKE_TIMEOUT,
                                      "ssl_handshake_timeout")
    cdef double shutdown = _positive(ssl_shutdown_timeout, SHUTDOWN_TIMEOUT,
                                     "ssl_shutdown_timeout")
    if not isinstance(context, SSLContext):
        raise TypeError("the ssl context should be an ssl.SSLContext, got %r" % (context,))
    transport._check_open()
    s = _new_tls(transport, context, server_side, server_hostname, shutdown)
    try:
        await s._handshake(handshake)
    except BaseException:
        s.close()
        raise
    return s
