"""What the TCP echo workloads share: their cases and the floor.

Every runtime runs a server and its clients in one process over loopback;
the clients connect first, then each does ``requests`` round trips (send a
message, read its echo) concurrently with the others. The figure is round
trips per second. The floor is a blocking socket ping-pong in one thread:
the four system calls of a round trip and nothing else.
"""

import socket
import time

CASES = {
    "1 client x 1 KiB": {
        "quick": {"clients": 1, "size": 1024, "requests": 2000},
        "full": {"clients": 1, "size": 1024, "requests": 10000},
    },
    "50 clients x 1 KiB": {
        "quick": {"clients": 50, "size": 1024, "requests": 200},
        "full": {"clients": 50, "size": 1024, "requests": 1000},
    },
    "1 client x 64 KiB": {
        "quick": {"clients": 1, "size": 65536, "requests": 300},
        "full": {"clients": 1, "size": 65536, "requests": 2000},
    },
    "50 clients x 64 KiB": {
        "quick": {"clients": 50, "size": 65536, "requests": 10},
        "full": {"clients": 50, "size": 65536, "requests": 60},
    },
}


def ops(clients, size, requests):
    return clients * requests


def recv_exactly(sock, n):
    got = 0
    while got < n:
        chunk = sock.recv(min(65536, n - got))
        if not chunk:
            raise ConnectionError("peer closed")
        got += len(chunk)


def floor(clients, size, requests):
    """Blocking ping-pong over one loopback TCP connection, one thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"x" * size
    buf = bytearray(size)
    try:
        t0 = time.perf_counter()
        for _ in range(clients * requests):
            client.sendall(msg)
            got = 0
            while got < size:
                got += server.recv_into(memoryview(buf)[got:])
            server.sendall(buf)
            recv_exactly(client, size)
        return time.perf_counter() - t0
    finally:
        for s in (client, server, listener):
            s.close()
