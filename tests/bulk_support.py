"""What the bulk transfer tests of the socket transport share: a recording
protocol, a connected pair with a large receive buffer, the bytes queued on
a socket, and the loop's epoll fd (see epoll_state)."""

import array
import asyncio
import fcntl
import os
import random
import socket
import sys
import termios
import time

import epoll_state
from yieldloop.aio._transport import RECV_MAX, RECV_SMALL

KIB, MIB = 1024, 1024 * 1024
LINUX = sys.platform.startswith("linux")


def read_sizes(total, bulk=False):
    """The data_received() sizes of ``total`` queued bytes read by the
    transport: a small read (64 KiB of stack) until one brings 64 KiB, then
    what is queued up to RECV_MAX."""
    sizes = []
    while total:
        if bulk and total >= RECV_SMALL:
            n = min(total, RECV_MAX)
        else:
            n = min(total, RECV_SMALL)
        bulk = n >= RECV_SMALL
        sizes.append(n)
        total -= n
    return sizes


def payload(n, seed=0):
    """``n`` bytes that no shifted copy of themselves matches."""
    return random.Random(seed).randbytes(n)


def queued(sock):
    """Bytes waiting to be read on ``sock`` (FIONREAD)."""
    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf)
    return buf[0]


async def until(predicate, what, timeout=60.0):
    """Let the loop run until ``predicate()`` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class Recorder(asyncio.Protocol):
    """Records what the transport calls: data chunks, then events."""

    def __init__(self, *, keep_open=False, fail_at=None):
        self.chunks = []
        self.events = []
        self.keep_open = keep_open
        self.fail_at = fail_at          # raise on the data_received call of this number
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.chunks.append(data)
        if self.fail_at is not None and len(self.chunks) == self.fail_at:
            raise ValueError("protocol failed on purpose")

    def eof_received(self):
        self.events.append("eof")
        return self.keep_open

    def pause_writing(self):
        self.events.append(("pause", self.transport.get_write_buffer_size()))

    def resume_writing(self):
        self.events.append(("resume", self.transport.get_write_buffer_size()))

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)

    @property
    def data(self):
        return b"".join(self.chunks)


async def connected(protocol, *, rcvbuf=None):
    """(transport, its socket, the peer socket: non-blocking) over loopback
    TCP; ``rcvbuf`` sizes the transport's receive buffer (a large one lets a
    test queue more than 128 KiB there)."""
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        if rcvbuf:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        peer = socket.create_connection(listener.getsockname())
        sock, _ = listener.accept()
    peer.setblocking(False)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock)
    return transport, sock, peer


def fill(sock):
    """Send on ``sock`` until its buffers are full: how much went."""
    sent = 0
    chunk = b"\0" * (256 * KIB)
    while True:
        try:
            sent += sock.send(chunk)
        except BlockingIOError:
            return sent


async def read_all(peer, n=None):
    """What ``peer`` receives until the end of the stream (or ``n`` bytes)."""
    loop = asyncio.get_running_loop()
    got = bytearray()
    while n is None or len(got) < n:
        try:
            chunk = await loop.sock_recv(peer, MIB if n is None else min(MIB, n - len(got)))
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return bytes(got)


class Watch:
    """Keeps a dup of a transport's socket open, so that a registration the
    transport failed to remove would stay visible in the epoll set after
    the socket closes (the kernel drops it only with the last reference to
    the file)."""

    def __init__(self, sock, epfd):
        self.fd = sock.fileno()
        self.epfd = epfd
        self.dup = os.dup(self.fd)

    def registered(self):
        return LINUX and epoll_state.registered(self.fd, self.epfd)

    def reading(self):
        return any(m & epoll_state.EPOLLIN for m in epoll_state.masks(self.fd, self.epfd))

    def close(self):
        os.close(self.dup)


def new_loop_with_epfd(factory):
    """(a new event loop, the epoll fd it made, or None off Linux)."""
    if not LINUX:
        return factory(), None
    before = set(epoll_state.epoll_fds())
    loop = factory()
    made = set(epoll_state.epoll_fds()) - before
    assert len(made) == 1, made
    return loop, made.pop()
