"""What the TLS tests share: the leak check and small helpers (the
certificates are conftest.py's tls_* fixtures)."""

import os
import socket
import sys

import epoll_state
import yieldloop as yl

LINUX = sys.platform.startswith("linux")
# Every wait on a peer is bounded: a bug is a failure, not a hung suite.
LIMIT = 20


def assert_clean(*, tasks=1):
    """Nothing left in the running kernel: fds, timers, tasks, and (Linux)
    no registration in its epoll set but the kernel's own wake-up pipe."""
    stats = yl.stats()
    assert (stats["fds"], stats["timers"], stats["tasks"]) == (0, 0, tasks), stats
    if LINUX:
        epfd = yl.current_kernel().poller.fileno()
        left = [fd for _, fd, _ in epoll_state.registrations(epfd)]
        assert [os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:") for fd in left] == [True]


async def settle(n=10):
    for _ in range(n):
        await yl.sleep(0)


async def echo(stream):
    """Echo everything until the peer closes."""
    while True:
        data = await stream.read(65536)
        if not data:
            return
        await stream.send_all(data)


def listener():
    sock = socket.create_server(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def recv_record(conn):
    """One whole TLS record (the ClientHello) from a blocking socket."""
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
