# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Servers: listening sockets whose connections become Streams.

start_server() and start_unix_server() bind and listen, then run one task
per listening socket that accepts connections (sock_accept: the task parks
on the listening fd only when nothing is pending). Each connection becomes
a Stream (_streams.pyx), first wrapped in TLS if the server has an
SSLContext, and is handed to the handler in a task of its own; the stream
is closed when the handler returns. Accept errors that mean "not now"
(out of descriptors or memory) back off and retry instead of spinning on a
listening socket that stays readable; errors about one connection skip it.

close() stops accepting (the acceptor tasks are cancelled, the listening
sockets closed, a Unix socket's file removed) and wakes serve_forever();
aclose() also cancels the connections' tasks and waits for them.
"""
cimport cython
from yieldloop.core._traps cimport Trap
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._task cimport as_awaitable, is_cancelled_error, logger
from yieldloop.native._traphost cimport wake
from yieldloop.native._kernel cimport Kernel
from yieldloop.native._api cimport need_kernel, spawn_task
from yieldloop.native._streams cimport Stream, close_socket, nodelay, server_tls, tls_module

import errno as _errno
import os as _os
import socket as _socket
import stat as _stat

from yieldloop.native._sockets import getaddrinfo, sock_accept
from yieldloop.native._streams import DEFAULT_LIMIT as _DEFAULT_LIMIT


@cython.final
cdef class Server:
    """Listening sockets with a task accepting on each; every connection is
    a Stream handed to the handler in a task of its own, and closed when the
    handler returns. Made by start_server() and start_unix_server().

        async with await yieldloop.start_server(handle, "127.0.0.1", 8888) as server:
            await server.serve_forever()
    """
    cdef Kernel _kernel
    cdef list _sockets
    cdef list _acceptors
    cdef set _connections
    cdef object _handler
    cdef Py_ssize_t _limit
    cdef object _unix_path
    cdef WaitList _closed_waiters
    cdef bint _closed
    cdef object _ssl                # SSLContext: each connection's handshake first
    cdef object _ssl_handshake_timeout
    cdef object _ssl_shutdown_timeout

    def __init__(self, *args, **kwargs):
        raise TypeError("Server objects are made by start_server() and start_unix_server()")

    @property
    def sockets(self):
        """The listening sockets (empty once closed)."""
        return list(self._sockets)

    def is_serving(self):
        """True until close()."""
        return not self._closed

    def close(self):
        """Stop accepting: the listening sockets are closed. Connections
        already accepted go on (aclose() ends them too)."""
        cdef Trap t
        if self._closed:
            return
        self._closed = True
        for task in self._acceptors:
            task.cancel()
        for sock in self._sockets:
            close_socket(sock)
        self._sockets = []
        if self._unix_path is not None:
            try:
                _os.unlink(self._unix_path)
            except FileNotFoundError:
                pass
        t = self._closed_waiters.first()
        while t is not None:
            wake(t, None, None)
            t = self._closed_waiters.next_after(t)

    async def aclose(self):
        """Close, cancel the connections' tasks and wait for them to end."""
        self.close()
        tasks = list(self._connections) + self._acceptors
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except BaseException as e:
                if not is_cancelled_error(e):
                    raise

    async def serve_forever(self):
        """Wait until the server is closed."""
        cdef Trap t
        while not self._closed:
            t = self._closed_waiters.park()
            try:
                await t
            finally:
                self._closed_waiters.remove(t)

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.aclose()

    def __repr__(self):
        names = [s.getsockname() for s in self._sockets]
        return "<Server %s connections=%d>" % (names or "closed", len(self._connections))


cdef Server _new_server(list sockets, handler, Py_ssize_t limit, object unix_path,
                        object ssl, object handshake_timeout, object shutdown_timeout):
    cdef Server server = Server.__new__(Server)
    server._ssl = ssl
    server._ssl_handshake_timeout = handshake_timeout
    server._ssl_shutdown_timeout = shutdown_timeout
    server._kernel = need_kernel("start_server()")
    server._sockets = sockets
    server._connections = set()
    server._handler = handler
    server._limit = limit
    server._unix_path = unix_path
    server._closed_waiters = WaitList("Server.serve_forever()")
    server._acceptors = [spawn_task(server._kernel, _accept_loop(server, s), None)
                         for s in sockets]
    return server


# Accept errors that mean "not now" (resources exhausted): back off and retry
# instead of spinning on a listening socket that stays readable.
_RESOURCE_ERRORS = frozenset(
    getattr(_errno, name) for name in ("EMFILE", "ENFILE", "ENOBUFS", "ENOMEM")
    if hasattr(_errno, name))
# Errors about one failed connection: skip it.
_CONNECTION_ERRORS = frozenset(
    getattr(_errno, name) for name in ("ECONNABORTED", "EPROTO", "ECONNRESET")
    if hasattr(_errno, name))


async def _accept_loop(Server server, lsock):
    from yieldloop.core._traps import sleep
    backoff = 0.0
    while True:
        try:
            conn, _ = await sock_accept(lsock)
        except OSError as e:
            if e.errno in _CONNECTION_ERRORS:
                continue
            if e.errno not in _RESOURCE_ERRORS:
                raise
            backoff = min(1.0, backoff * 2 or 0.01)
            logger().warning(
                "accept() failed (%s); retrying in %.2f s", e, backoff)
            await sleep(backoff)
            continue
        backoff = 0.0
        nodelay(conn)
        stream = Stream(conn, limit=server._limit)
        task = spawn_task(server._kernel, _serve(server, stream), None)
        server._connections.add(task)
        task.add_done_callback(server._connections.discard)


async def _serve(Server server, stream):
    handler = server._handler
    if server._ssl is not None:
        try:
            stream = await tls_module().wrap(stream, server._ssl, True, None,
                                             server._ssl_handshake_timeout,
                                             server._ssl_shutdown_timeout)
        except BaseException as e:
            peer = stream.get_extra_info("peername")
            stream.close()
            if not isinstance(e, Exception):
                raise
            # A client that fails the handshake is the client's problem (a
            # scanner, a wrong CA): not logged above debug, as in asyncio.
            logger().debug("TLS handshake with %r failed: %r", peer, e)
            return
    try:
        result = handler(stream)
        if result is not None:
            await as_awaitable(result)
    except BaseException as e:
        stream.close()
        if is_cancelled_error(e) or not isinstance(e, Exception):
            raise
        logger().error(
            "Unhandled exception in connection handler %r", handler, exc_info=e)
    else:
        await stream.aclose()


cdef list _listen_all(list infos, int backlog, bint reuse_address):
    sockets = []
    try:
        for af, kind, proto, _, address in infos:
            sock = _socket.socket(af, kind, proto)
            sockets.append(sock)
            if reuse_address:
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            if af == _socket.AF_INET6 and hasattr(_socket, "IPPROTO_IPV6"):
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as e:
                raise OSError(e.errno, "error while attempting to bind on address %r: %s"
                              % (address, e.strerror)) from None
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def start_server(handler, host="127.0.0.1", port=0, *, int backlog=_socket.SOMAXCONN,
                       Py_ssize_t limit=_DEFAULT_LIMIT, bint reuse_address=True, family=0,
                       ssl=None, ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
    """Listen on ``host``:``port`` (default 127.0.0.1 and a free port) and
    serve each connection with ``handler(stream)`` (an async function or a
    generator function) in a task of its own. Returns the Server.

    ``backlog`` defaults to the system's maximum (asyncio uses 100): a burst
    of connections that overflows the accept queue gets reset by the OS.

        async def echo(stream):
            async for line in stream:
                stream.write(line)
                await stream.drain()

        server = await yieldloop.start_server(echo, "127.0.0.1", 8888)

    With ``ssl`` (an ssl.SSLContext holding the server's certificate, e.g.
    ``ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)`` then
    ``load_cert_chain()``) each connection's TLS handshake runs in its task
    first, bounded by ``ssl_handshake_timeout`` (60 s); the handler gets a
    TLSStream, or is not called if the handshake fails.
    ``ssl_shutdown_timeout`` (30 s) bounds each closing exchange.
    """
    ssl = server_tls(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    infos = await getaddrinfo(host, port, family=family, type=_socket.SOCK_STREAM,
                              flags=_socket.AI_PASSIVE)
    seen, unique = set(), []
    for info in infos:
        if info[4] not in seen:
            seen.add(info[4])
            unique.append(info)
    return _new_server(_listen_all(unique, backlog, reuse_address), handler, limit, None,
                       ssl, ssl_handshake_timeout, ssl_shutdown_timeout)


async def start_unix_server(handler, path, *, int backlog=_socket.SOMAXCONN,
                            Py_ssize_t limit=_DEFAULT_LIMIT, ssl=None,
                            ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
    """Like start_server(), on a Unix socket at ``path``. A stale socket file
    there is replaced; the file is removed when the server closes."""
    ssl = server_tls(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    path = _os.fspath(path)
    try:
        if _stat.S_ISSOCK(_os.stat(path).st_mode):
            _os.unlink(path)
    except FileNotFoundError:
        pass
    sockets = _listen_all([(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, "", path)], backlog, False)
    return _new_server(sockets, handler, limit, path,
                       ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
