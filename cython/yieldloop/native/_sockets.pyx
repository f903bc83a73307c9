# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Socket awaitables: sock_recv, sock_recv_into, sock_sendall, sock_accept,
sock_connect, the datagram ones (sock_recvfrom, sock_recvfrom_into,
sock_sendto) and getaddrinfo.

Each one tries the system call on the fd first and parks the task on the
fd only when the call would block (EAGAIN / EINPROGRESS). recv and send go
straight to the C system call with MSG_DONTWAIT, so they never block the
kernel whatever the socket's mode; sock_sendall sends from an offset into
the caller's buffer, never copying it. accept and connect go through the
socket object once per connection and need a non-blocking socket.

The datagram calls go through the socket object too (it turns the sender's
address into Python's form for every family), with MSG_DONTWAIT: like recv
and send they never block the kernel, on a non-blocking socket or on one in
blocking mode. A socket with a timeout is refused, because Python's socket
code polls such a socket before the call, blocking the kernel until then.

The wait names the socket object as the fd's owner, which lets the kernel
tell a socket closed behind its back from a new one that got its fd number
(see Kernel._evict_stale).
"""
from yieldloop.core._traps cimport Trap, make_trap, TRAP_READ, TRAP_WRITE, TRAP_SLEEP
from yieldloop.includes.net cimport (
    YL_WOULD_BLOCK, yl_recv_bytes, yl_recv_into, yl_send_from, yl_buffer_len)

import errno as _errno
import os as _os
import socket as _socket

cdef object _MSG_DONTWAIT = _socket.MSG_DONTWAIT
cdef object _AF_UNIX = getattr(_socket, "AF_UNIX", None)


cdef inline Trap _wait(int fd, object owner, int kind):
    cdef Trap t = make_trap(kind)
    t.fd = fd
    t.arg = owner
    return t


cdef int _fileno(object sock, str what) except -1:
    cdef int fd = sock.fileno()
    if fd < 0:
        raise ValueError("%s: the socket is closed" % what)
    return fd


cdef _need_no_timeout(object sock, str what):
    timeout = sock.gettimeout()
    if timeout is not None and timeout > 0.0:
        raise ValueError("%s: the socket has a timeout (%r s), which would block the kernel; "
                         "make it non-blocking (sock.setblocking(False))" % (what, timeout))


cdef _need_nonblocking(object sock, str what):
    if sock.gettimeout() != 0.0:
        raise ValueError("%s: the socket must be non-blocking (call sock.setblocking(False))" % what)


async def sock_recv(sock, Py_ssize_t nbytes):
    """Receive up to ``nbytes`` from ``sock``; b"" at end of stream.

        data = await yieldloop.sock_recv(sock, 65536)
    """
    cdef int fd = _fileno(sock, "sock_recv()")
    while True:
        data = yl_recv_bytes(fd, nbytes)
        if data is not None:
            return data
        await _wait(fd, sock, TRAP_READ)


async def sock_recv_into(sock, buf, Py_ssize_t nbytes=0):
    """Receive into the writable buffer ``buf`` (up to ``nbytes`` if given);
    return the number of bytes received (0 at end of stream)."""
    cdef int fd = _fileno(sock, "sock_recv_into()")
    cdef Py_ssize_t got
    while True:
        got = yl_recv_into(fd, buf, nbytes)
        if got != YL_WOULD_BLOCK:
            return got
        await _wait(fd, sock, TRAP_READ)


async def sock_sendall(sock, data):
    """Send all of ``data`` (any bytes-like object), waiting while the
    socket's send buffer is full. Partial writes continue from an offset:
    the data is never copied.

        await yieldloop.sock_sendall(sock, b"x" * 4_000_000)
    """
    cdef int fd = _fileno(sock, "sock_sendall()")
    cdef Py_ssize_t total = yl_buffer_len(data)
    cdef Py_ssize_t offset = 0, sent
    while offset < total:
        sent = yl_send_from(fd, data, offset)
        if sent == YL_WOULD_BLOCK:
            await _wait(fd, sock, TRAP_WRITE)
        else:
            offset += sent


async def sock_accept(sock):
    """Accept a connection on the listening, non-blocking ``sock``; return
    ``(conn, address)`` with ``conn`` non-blocking and close-on-exec."""
    _need_nonblocking(sock, "sock_accept()")
    cdef int fd = _fileno(sock, "sock_accept()")
    while True:
        try:
            conn_fd, address = sock._accept()
        except BlockingIOError:
            await _wait(fd, sock, TRAP_READ)
            continue
        conn = _socket.socket(sock.family, sock.type, sock.proto, fileno=conn_fd)
        conn.setblocking(False)
        return conn, address


async def sock_connect(sock, address):
    """Connect the non-blocking ``sock`` to ``address``; a host name is
    resolved in a thread first (see getaddrinfo)."""
    _need_nonblocking(sock, "sock_connect()")
    cdef int fd = _fileno(sock, "sock_connect()")
    if sock.family in (_socket.AF_INET, _socket.AF_INET6):
        infos = await getaddrinfo(address[0], address[1], family=sock.family,
                                  type=sock.type, proto=sock.proto)
        if not infos:
            raise OSError("getaddrinfo() returned no address for %r" % (address,))
        address = infos[0][4]
    err = sock.connect_ex(address)
    if err in (_errno.EINPROGRESS, _errno.EAGAIN, _errno.EWOULDBLOCK, _errno.EINTR):
        await _wait(fd, sock, TRAP_WRITE)
        err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
    if err:
        raise OSError(err, "Connect call failed %r: %s" % (address, _os.strerror(err)))


async def sock_recvfrom(sock, Py_ssize_t bufsize):
    """Receive one datagram of up to ``bufsize`` bytes from ``sock``; return
    ``(data, address)``, the address in the socket family's form (a longer
    datagram is cut to ``bufsize``, as by socket.recvfrom()).

        data, address = await yieldloop.sock_recvfrom(sock, 65536)
    """
    cdef int fd = _fileno(sock, "sock_recvfrom()")
    _need_no_timeout(sock, "sock_recvfrom()")
    while True:
        try:
            return sock.recvfrom(bufsize, _MSG_DONTWAIT)
        except BlockingIOError:
            pass
        await _wait(fd, sock, TRAP_READ)


async def sock_recvfrom_into(sock, buf, Py_ssize_t nbytes=0):
    """Receive one datagram into the writable buffer ``buf`` (up to
    ``nbytes`` bytes if given, else up to its size); return
    ``(nbytes_received, address)``.

        n, address = await yieldloop.sock_recvfrom_into(sock, buf)
    """
    cdef int fd = _fileno(sock, "sock_recvfrom_into()")
    _need_no_timeout(sock, "sock_recvfrom_into()")
    while True:
        try:
            return sock.recvfrom_into(buf, nbytes, _MSG_DONTWAIT)
        except BlockingIOError:
            pass
        await _wait(fd, sock, TRAP_READ)


async def sock_sendto(sock, data, address):
    """Send ``data`` (any bytes-like object) as one datagram to ``address``;
    return the number of bytes sent, waiting while the socket's send buffer
    is full. An IPv4/IPv6 host name is resolved first without blocking the
    kernel (see getaddrinfo); numeric addresses cost no lookup.

        await yieldloop.sock_sendto(sock, b"ping", ("127.0.0.1", 9999))
    """
    cdef int fd = _fileno(sock, "sock_sendto()")
    _need_no_timeout(sock, "sock_sendto()")
    cdef bint woken = False
    cdef double backoff = 0.001
    cdef Trap nap
    if _needs_lookup(sock, address):
        address = await _resolved(sock, address)
    while True:
        try:
            return sock.sendto(data, _MSG_DONTWAIT, address)
        except BlockingIOError:
            pass
        if woken and sock.family == _AF_UNIX:
            # Woken as writable, and still EAGAIN: an unconnected Unix
            # datagram socket whose receiver's queue is full, which Linux
            # reports writable all along. Retry in time, not in a spin.
            nap = make_trap(TRAP_SLEEP)
            nap.delay = backoff
            await nap
            backoff = min(backoff * 2, 0.05)
            continue
        await _wait(fd, sock, TRAP_WRITE)
        woken = True


cdef bint _needs_lookup(object sock, object address) except -1:
    # Python's sendto() would resolve a host name itself, blocking the
    # kernel for as long as DNS takes: such a name is resolved first.
    if type(address) is not tuple or len(address) < 2 or type(address[0]) is not str:
        return False                # not an IP address; sendto() judges it
    host = address[0]
    if host == "" or host == "<broadcast>":
        return False                # Python's own names for INADDR_ANY / BROADCAST
    family = sock.family
    if family != _socket.AF_INET and family != _socket.AF_INET6:
        return False
    try:
        _socket.inet_pton(family, host)
    except (OSError, ValueError):
        return True
    return False


async def _resolved(sock, address):
    infos = await getaddrinfo(address[0], address[1], family=sock.family, type=sock.type,
                              proto=sock.proto)
    if not infos:
        raise OSError("getaddrinfo() returned no address for %r" % (address,))
    return (infos[0][4][0],) + address[1:]


async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
    """socket.getaddrinfo() without blocking the kernel: numeric hosts are
    resolved at once, names in a worker thread."""
    try:
        return _socket.getaddrinfo(host, port, family, type, proto,
                                   flags | _socket.AI_NUMERICHOST)
    except _socket.gaierror:
        if host is None:
            raise
    from yieldloop.native._threads import to_thread
    return await to_thread(_socket.getaddrinfo, host, port, family, type, proto, flags)
