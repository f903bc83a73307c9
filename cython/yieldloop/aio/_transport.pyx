# cython: language_level=3, boundscheck=False, wraparound=False
"""The asyncio front end's socket transport, for TCP and Unix stream sockets.

SocketTransport does what asyncio's _SelectorSocketTransport does, with
the same semantics (the protocol calls, their order, the flow control), in
Cython and with the system calls made on the fd directly:

- reading: a persistent reader on the fd hands what each call receives to
  ``protocol.data_received()``: small reads through a 64 KiB stack buffer
  (the object is of the size read), and once data comes in bulk, what the
  socket holds, up to 64 KiB (YL_RECV_MAX), received straight into the
  bytes object handed on (includes/net.h, yl_recv_sized), reusing the
  block of a chunk the protocol did not keep (one per loop); or it receives into
  the buffer of a BufferedProtocol (``get_buffer()`` / ``buffer_updated()``,
  which is how asyncio's TLS layer reads); end of stream goes to
  ``eof_received()``;
- writing: ``write()`` sends at once what the socket takes and queues the
  rest, a large bytes object by reference with an offset, not copied
  (includes/sendq.h); a writer on the fd flushes the queue, several buffers
  per sendmsg(); the protocol's ``pause_writing()`` / ``resume_writing()``
  follow the high and low water marks;
- closing: ``close()`` flushes first, ``abort()`` does not; either ends
  with ``connection_lost()`` and the socket closed.
"""
cimport cython
from yieldloop.aio._loop cimport LoopCore
from yieldloop.core._poller cimport YL_READ, YL_WRITE
from yieldloop.includes.net cimport (
    YL_WOULD_BLOCK, YL_RECV_SMALL, YL_RECV_MAX, yl_recv_sized, yl_recv_keep_spare, yl_recv_into,
    yl_send_from, yl_buffer_len)
from yieldloop.includes.sendq cimport (
    yl_sendq, yl_sendq_push, yl_sendq_send, yl_sendq_clear, yl_sendq_free)

import socket as _socket
import warnings

import sys

from asyncio import constants, protocols, trsock
from asyncio.log import logger
from yieldloop._aio_private import (
    FlowControlMixin, SendfileMode, set_nodelay, set_result_unless_cancelled)

cdef object _BufferedProtocol = protocols.BufferedProtocol

# How data_received() chunks are sized (includes/net.h), for the tests.
RECV_SMALL = YL_RECV_SMALL
RECV_MAX = YL_RECV_MAX


cdef extern from *:
    """
    /* Cython gives an instance with a __dict__ slot an empty dict at once.
       Without one, CPython specializes the lookup of a method on the
       instance (transport.write) as for a class without __dict__; one is
       made again on first use (setattr, the __dict__ getter). */
    static void yl_drop_instance_dict(PyObject *o)
    {
        PyObject **slot = (PyObject **)((char *)o + Py_TYPE(o)->tp_dictoffset);
        Py_CLEAR(*slot);
    }
    """
    void yl_drop_instance_dict(object o) noexcept


@cython.final
cdef class SocketTransport:
    """An asyncio transport over a connected stream socket (TCP or Unix)."""
    # readonly: asyncio's own code reads these private names of a transport
    # (sendfile's fallback, the TLS layer): see yieldloop._aio_private.
    cdef readonly LoopCore _loop
    cdef object _loop_obj
    cdef object _sk
    cdef int _fd
    cdef object _protocol
    cdef bint _buffered          # the protocol is a BufferedProtocol
    cdef object _server
    cdef dict _extra
    cdef yl_sendq _wq             # unsent data; _wq.size is the buffer size
    cdef int _rbulk              # yl_recv_sized's state: the last read was of 64 KiB or more
    cdef Py_ssize_t _high, _low
    cdef readonly bint _protocol_paused   # pause_writing() was called
    cdef readonly bint _paused            # reading paused
    cdef readonly bint _closing           # close() or a fatal error began the end
    cdef bint _eof               # write_eof() was called
    cdef int _conn_lost
    cdef bint _writer_on
    cdef object _empty_waiter    # sendfile's future: done when the buffer is empty
    # The context every protocol call runs in (3.15's asyncio hands each
    # connection one); None before 3.15: each call in a copy of the current.
    cdef object _context
    cdef object __weakref__      # asyncio keeps transports in a WeakValueDictionary
    # Attributes set on the instance, as on asyncio's Python transports: a
    # method replaced there (mock.patch.object(transport, "write")) shadows
    # the class's for callers; the transport's own C code calls its own.
    cdef dict __dict__

    def __cinit__(self, loop, sock, protocol, waiter=None, extra=None, server=None,
                  context=None):
        yl_drop_instance_dict(self)
        self._loop = <LoopCore?>loop
        self._context = context
        self._loop_obj = loop
        self._sk = sock
        self._fd = sock.fileno()
        self._extra = {} if extra is None else dict(extra)
        self._set_write_buffer_limits(None, None)
        self._server = server
        self._extra["socket"] = trsock.TransportSocket(sock)
        try:
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            self._extra["sockname"] = None
        try:
            self._extra["peername"] = sock.getpeername()
        except OSError:
            self._extra["peername"] = None
        self.set_protocol(protocol)
        if server is not None:
            _server_call(server, "_attach", self)
        set_nodelay(sock)
        loop._transports[self._fd] = self
        self._loop._soon(self._protocol.connection_made, (self,), self._context)
        self._loop._soon(self._start_reading, (), self._context)
        if waiter is not None:
            self._loop._soon(set_result_unless_cancelled, (waiter, None), self._context)

    # asyncio's loop.sendfile() sends straight from the file (os.sendfile)
    # once the transport's buffer is flushed; these are the hooks it uses.
    _sendfile_compatible = SendfileMode.TRY_NATIVE
    # loop.start_tls() may wrap this transport in asyncio's SSL protocol.
    _start_tls_compatible = True

    @property
    def _sock(self):
        return self._sk

    @property
    def _sock_fd(self):
        return self._fd

    def _make_empty_waiter(self):
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self._loop_obj.create_future()
        if self._wq.size == 0:
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None

    # isinstance(transport, asyncio.Transport) holds: isinstance() consults
    # __class__ when the real type does not match (as for mock objects), and
    # a cdef class cannot inherit asyncio's Python Transport itself.
    @property
    def __class__(self):
        return _AsyncioSocketTransport

    def _start_reading(self):
        if not self._closing and not self._paused:
            self._loop._watch(self._fd, YL_READ, self._read_ready, (), self._context)

    # --- asyncio.BaseTransport

    def get_extra_info(self, name, default=None):
        """"socket", "sockname" or "peername" (and what the loop added)."""
        return self._extra.get(name, default)

    def is_closing(self):
        return self._closing

    def set_protocol(self, protocol):
        self._protocol = protocol
        self._buffered = isinstance(protocol, _BufferedProtocol)

    def get_protocol(self):
        return self._protocol

    def close(self):
        """Close once the buffered data is sent; connection_lost(None) follows."""
        if self._closing:
            return
        self._closing = True
        self._loop._unwatch(self._fd, YL_READ)
        if self._wq.size == 0:
            self._conn_lost += 1
            self._loop._unwatch(self._fd, YL_WRITE)
            self._loop._soon(self._call_connection_lost, (None,), self._context)

    def __dealloc__(self):
        yl_sendq_free(&self._wq)

    def __del__(self):
        if self._sk is not None and self._sk.fileno() != -1:
            warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._sk.close()

    # --- reading

    def is_reading(self):
        return not self._paused and not self._closing

    def pause_reading(self):
        if self._closing or self._paused:
            return
        self._paused = True
        self._loop._unwatch(self._fd, YL_READ)

    def resume_reading(self):
        if self._closing or not self._paused:
            return
        self._paused = False
        self._loop._watch(self._fd, YL_READ, self._read_ready, (), self._context)

    def _read_ready(self):
        if self._conn_lost:
            return
        if self._buffered:
            self._read_into_buffer()
            return
        try:
            data = yl_recv_sized(self._fd, &self._rbulk, &self._loop._rspare)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on socket transport")
            return
        if data is None:
            return                       # spurious wake-up
        if not data:
            self._read_eof()
            return
        try:
            self._protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")
            return
        yl_recv_keep_spare(data, &self._loop._rspare)

    cdef _read_into_buffer(self):
        cdef Py_ssize_t n
        try:
            buf = self._protocol.get_buffer(-1)
            if not len(buf):
                raise RuntimeError("get_buffer() returned an empty buffer")
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
            return
        try:
            n = yl_recv_into(self._fd, buf, 0)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on socket transport")
            return
        if n == YL_WOULD_BLOCK:
            return
        if n == 0:
            self._read_eof()
            return
        try:
            self._protocol.buffer_updated(n)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.buffer_updated() call failed.")

    cdef _read_eof(self):
        if self._loop._debug_c:
            logger.debug("%r received EOF", self)
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if keep_open:
            # The protocol wants to write more: stop reading, stay open.
            self._loop._unwatch(self._fd, YL_READ)
        else:
            self.close()

    # --- writing

    def write(self, data):
        """Send ``data`` (bytes-like) now if possible, else buffer it."""
        self._write(data)

    cdef _write(self, data):
        cdef Py_ssize_t n = 0, total
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, "
                            f"not {type(data).__name__!r}")
        total = self._write_size(data, -1)
        if total == 0:
            return
        if self._wq.size == 0:
            try:
                n = yl_send_from(self._fd, data, 0)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on socket transport")
                return
            if n == YL_WOULD_BLOCK:
                n = 0
            if n == total:
                return
            if not self._queue(data, n):
                return
            self._start_writer()
        elif not self._queue(data, 0):
            return
        self._maybe_pause_protocol()

    cdef Py_ssize_t _write_size(self, data, Py_ssize_t total) except -1:
        """What every write checks first, in asyncio's order: refused after
        write_eof() or during sendfile(); then the size to send (``total``,
        or that of ``data`` when ``total`` < 0), or 0 when there is nothing
        to do: no data, or a lost connection, whose writes are counted and,
        past a threshold, logged (as asyncio's transport does)."""
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._empty_waiter is not None:
            # loop.sendfile() owns the socket until it resets the waiter.
            raise RuntimeError("unable to write; sendfile is in progress")
        if total < 0:
            total = yl_buffer_len(data)
        if total == 0:
            return 0
        if self._conn_lost:
            if self._conn_lost >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning("socket.send() raised exception.")
            self._conn_lost += 1
            return 0
        return total

    cdef int _start_writer(self) except -1:
        """Watch for writability until the queue is flushed."""
        self._loop._watch(self._fd, YL_WRITE, self._write_ready, (), self._context)
        self._writer_on = True
        return 0

    cdef bint _queue(self, data, Py_ssize_t start) except -1:
        """Queue data[start:]; False if that failed and ended the connection."""
        try:
            yl_sendq_push(&self._wq, data, start)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            # Out of memory, or a buffer that changed under us: what was
            # written cannot all be sent, so the stream cannot go on (as
            # asyncio's transport does when send() itself fails so).
            self._fatal_error(exc, "Fatal write error on socket transport")
            return False
        return True

    def writelines(self, list_of_data):
        """write() the concatenation of the buffers (one system call if possible)."""
        if _OWN_WRITELINES:
            if self._eof:
                raise RuntimeError("Cannot call writelines() after write_eof()")
            if self._empty_waiter is not None:
                raise RuntimeError("unable to writelines; sendfile is in progress")
        if type(list_of_data) is list and _all_bytes(<list>list_of_data):
            # Queued as they are, large ones without a copy, and sent with
            # one sendmsg(): what joining them would send, without the join.
            self._write_queued(<list>list_of_data)
        else:
            self._write(b"".join(list_of_data))

    cdef _write_queued(self, list items):
        cdef Py_ssize_t total = 0
        cdef bint was_empty
        for item in items:
            total += len(<bytes>item)
        if self._write_size(None, total) == 0:
            return
        was_empty = self._wq.size == 0
        for item in items:
            if not self._queue(item, 0):
                return
        if was_empty:
            try:
                yl_sendq_send(&self._wq, self._fd)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on socket transport")
                return
            if self._wq.size == 0:
                return
            self._start_writer()
        self._maybe_pause_protocol()

    def _write_ready(self):
        if self._conn_lost:
            return
        try:
            yl_sendq_send(&self._wq, self._fd)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop._unwatch(self._fd, YL_WRITE)
            self._writer_on = False
            yl_sendq_clear(&self._wq)
            self._fatal_error(exc, "Fatal write error on socket transport")
            return
        self._maybe_resume_protocol()
        if self._wq.size == 0:
            self._loop._unwatch(self._fd, YL_WRITE)
            self._writer_on = False
            if self._empty_waiter is not None:
                self._empty_waiter.set_result(None)
            if self._closing:
                self._call_connection_lost(None)
            elif self._eof:
                self._sk.shutdown(_socket.SHUT_WR)

    def write_eof(self):
        """Close the writing half once the buffer is sent."""
        if self._closing or self._eof:
            return
        self._eof = True
        if self._wq.size == 0:
            self._sk.shutdown(_socket.SHUT_WR)

    def can_write_eof(self):
        return True

    def abort(self):
        """Close now, dropping unsent data; connection_lost(None) follows."""
        self._close_now(None)

    # --- flow control (asyncio's _FlowControlMixin)

    def get_write_buffer_size(self):
        return self._wq.size

    def get_write_buffer_limits(self):
        return (self._low, self._high)

    def set_write_buffer_limits(self, high=None, low=None):
        self._set_write_buffer_limits(high, low)
        self._maybe_pause_protocol()

    cdef _set_write_buffer_limits(self, high, low):
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high = high
        self._low = low

    cdef _maybe_pause_protocol(self):
        if self._wq.size <= self._high or self._protocol_paused:
            return
        self._protocol_paused = True
        try:
            self._protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop_obj.call_exception_handler({
                "message": "protocol.pause_writing() failed", "exception": exc,
                "transport": self, "protocol": self._protocol})

    cdef _maybe_resume_protocol(self):
        if self._protocol_paused and self._wq.size <= self._low:
            self._protocol_paused = False
            try:
                self._protocol.resume_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._loop_obj.call_exception_handler({
                    "message": "protocol.resume_writing() failed", "exception": exc,
                    "transport": self, "protocol": self._protocol})

    # --- errors and the end

    cdef _fatal_error(self, exc, message):
        if isinstance(exc, OSError):
            if self._loop._debug_c:
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop_obj.call_exception_handler({
                "message": message, "exception": exc, "transport": self,
                "protocol": self._protocol})
        self._close_now(exc)

    def _force_close(self, exc):
        # asyncio's TLS layer calls this on the transport under it.
        self._close_now(exc)

    cdef _close_now(self, exc):
        if self._empty_waiter is not None and not self._empty_waiter.done():
            self._empty_waiter.set_exception(
                exc if exc is not None else ConnectionError("Connection is closed by peer"))
        if self._conn_lost:
            return
        yl_sendq_clear(&self._wq)
        self._loop._unwatch(self._fd, YL_WRITE)
        self._writer_on = False
        if not self._closing:
            self._closing = True
            self._loop._unwatch(self._fd, YL_READ)
        self._conn_lost += 1
        self._loop._soon(self._call_connection_lost, (exc,), self._context)

    def _call_connection_lost(self, exc):
        try:
            if self._protocol is not None:
                self._protocol.connection_lost(exc)
        finally:
            self._sk.close()
            self._sk = None
            self._protocol = None
            server, self._server = self._server, None
            if server is not None:
                _server_call(server, "_detach", self)

    def __repr__(self):
        state = "closed" if self._sk is None else ("closing" if self._closing else "open")
        return (f"<yieldloop SocketTransport fd={self._fd} {state} "
                f"write_buffer={self._wq.size}>")


class _AsyncioSocketTransport(FlowControlMixin):
    """What a SocketTransport presents as its class: an asyncio.Transport
    with asyncio's flow control (loop.sendfile()'s fallback insists on it)."""
    __slots__ = ()


_AsyncioSocketTransport.__name__ = _AsyncioSocketTransport.__qualname__ = "SocketTransport"
_AsyncioSocketTransport.__module__ = __name__


cdef bint _ATTACH_TAKES_TRANSPORT = sys.version_info >= (3, 13)
# asyncio's socket transport has a writelines() of its own, with its own
# error messages, from 3.12 on; before, the base class's calls write().
cdef bint _OWN_WRITELINES = sys.version_info >= (3, 12)


cdef bint _all_bytes(list items):
    for item in items:
        if type(item) is not bytes:
            return False
    return True


cdef _server_call(server, str name, transport):
    # asyncio's Server._attach/_detach take the transport from 3.13 on.
    if _ATTACH_TAKES_TRANSPORT:
        getattr(server, name)(transport)
    else:
        getattr(server, name)()
