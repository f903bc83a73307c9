"""TCP echo over loopback with each runtime's low-level socket API.

yieldloop's sock_* awaitables and asyncio's loop.sock_* methods (on
asyncio's loop and on uvloop's); see _echo for the setup and floor.
"""

import socket
import time

from ._echo import CASES, floor, ops  # noqa: F401 - the driver reads them here

TITLE = "TCP echo, sock API"
UNIT = "req/s"
LOWER_IS_BETTER = False
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "floor")


def _listener():
    s = socket.create_server(("127.0.0.1", 0), backlog=512)
    s.setblocking(False)
    return s


def _client_socket():
    s = socket.socket()
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def yieldloop(clients, size, requests):
    import yieldloop as yl

    msg = b"x" * size

    async def serve(conn):
        with conn:
            while True:
                data = await yl.sock_recv(conn, 65536)
                if not data:
                    return
                await yl.sock_sendall(conn, data)

    async def accept_all(lsock, n):
        for _ in range(n):
            conn, _ = await yl.sock_accept(lsock)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            yl.spawn(serve, conn)

    async def client(sock):
        for _ in range(requests):
            await yl.sock_sendall(sock, msg)
            got = 0
            while got < size:
                got += len(await yl.sock_recv(sock, 65536))

    async def main():
        lsock = _listener()
        acceptor = yl.spawn(accept_all, lsock, clients)
        socks = [_client_socket() for _ in range(clients)]
        for s in socks:
            await yl.sock_connect(s, lsock.getsockname())
        await acceptor
        t0 = time.perf_counter()
        await yl.gather(*[client(s) for s in socks])
        elapsed = time.perf_counter() - t0
        for s in socks:
            s.close()
        lsock.close()
        return elapsed

    return yl.run(main)


def _asyncio(runtime, clients, size, requests):
    import asyncio

    from .runtimes import run_asyncio

    msg = b"x" * size

    async def serve(loop, conn):
        with conn:
            while True:
                data = await loop.sock_recv(conn, 65536)
                if not data:
                    return
                await loop.sock_sendall(conn, data)

    async def main():
        loop = asyncio.get_running_loop()
        lsock = _listener()
        handlers = []

        async def accept_all():
            for _ in range(clients):
                conn, _ = await loop.sock_accept(lsock)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                handlers.append(asyncio.ensure_future(serve(loop, conn)))

        async def client(sock):
            for _ in range(requests):
                await loop.sock_sendall(sock, msg)
                got = 0
                while got < size:
                    got += len(await loop.sock_recv(sock, 65536))

        acceptor = asyncio.ensure_future(accept_all())
        socks = [_client_socket() for _ in range(clients)]
        for s in socks:
            await loop.sock_connect(s, lsock.getsockname())
        await acceptor
        t0 = time.perf_counter()
        await asyncio.gather(*[client(s) for s in socks])
        elapsed = time.perf_counter() - t0
        for s in socks:
            s.close()
        await asyncio.gather(*handlers)
        lsock.close()
        return elapsed

    return run_asyncio(runtime, main)


def asyncio(clients, size, requests):
    return _asyncio("asyncio", clients, size, requests)


def uvloop(clients, size, requests):
    return _asyncio("uvloop", clients, size, requests)


def yieldloop_loop(clients, size, requests):
    return _asyncio("yieldloop-loop", clients, size, requests)
