"""TCP echo over loopback with each runtime's stream API.

yieldloop Streams, asyncio's StreamReader/StreamWriter (on asyncio's loop
and on uvloop's), trio's SocketStream; see _echo for the setup and floor.
"""

import time

from ._echo import CASES, floor, ops  # noqa: F401 - the driver reads them here

TITLE = "TCP echo, streams"
UNIT = "req/s"
LOWER_IS_BETTER = False
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio", "floor")


def yieldloop(clients, size, requests):
    import yieldloop as yl

    msg = b"x" * size

    async def handler(stream):
        while True:
            data = await stream.read(65536)
            if not data:
                return
            stream.write(data)
            await stream.drain()

    async def client(stream):
        for _ in range(requests):
            stream.write(msg)
            await stream.drain()
            await stream.readexactly(size)

    async def main():
        async with await yl.start_server(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            streams = [await yl.open_connection("127.0.0.1", port) for _ in range(clients)]
            t0 = time.perf_counter()
            await yl.gather(*[client(s) for s in streams])
            elapsed = time.perf_counter() - t0
            for s in streams:
                await s.aclose()
        return elapsed

    return yl.run(main)


def _asyncio(runtime, clients, size, requests):
    import asyncio

    from .runtimes import run_asyncio

    msg = b"x" * size

    async def handler(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    async def client(reader, writer):
        for _ in range(requests):
            writer.write(msg)
            await writer.drain()
            await reader.readexactly(size)

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pairs = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
        t0 = time.perf_counter()
        await asyncio.gather(*[client(r, w) for r, w in pairs])
        elapsed = time.perf_counter() - t0
        for _, w in pairs:
            w.close()
            await w.wait_closed()
        server.close()
        await server.wait_closed()
        return elapsed

    return run_asyncio(runtime, main)


def asyncio(clients, size, requests):
    return _asyncio("asyncio", clients, size, requests)


def uvloop(clients, size, requests):
    return _asyncio("uvloop", clients, size, requests)


def yieldloop_loop(clients, size, requests):
    return _asyncio("yieldloop-loop", clients, size, requests)


def trio(clients, size, requests):
    import trio as _trio

    msg = b"x" * size

    async def handler(stream):
        async for data in stream:
            await stream.send_all(data)

    async def client(stream):
        for _ in range(requests):
            await stream.send_all(msg)
            got = 0
            while got < size:
                got += len(await stream.receive_some(65536))

    async def main():
        async with _trio.open_nursery() as nursery:
            listeners = await nursery.start(_trio.serve_tcp, handler, 0)
            port = listeners[0].socket.getsockname()[1]
            streams = [await _trio.open_tcp_stream("127.0.0.1", port) for _ in range(clients)]
            t0 = time.perf_counter()
            async with _trio.open_nursery() as clients_nursery:
                for s in streams:
                    clients_nursery.start_soon(client, s)
            elapsed = time.perf_counter() - t0
            for s in streams:
                await s.aclose()
            nursery.cancel_scope.cancel()
        return elapsed

    return _trio.run(main)
