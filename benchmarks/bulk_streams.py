"""Bulk transfer over loopback TCP with each runtime's stream API.

The server writes ``writes`` messages of ``size`` bytes to every client
(``write()`` then ``drain()``, as pyperformance's bm_asyncio_tcp does) and
closes; each client reads with ``read(size)`` until the end of the stream
and checks that every byte arrived. The clients connect first; the clock
runs from the server's first write to the last client's end of stream.
The figure is the bytes all clients received, in MB (10^6 bytes) per
second. The floor is a blocking sendall/recv_into over one connection in
two threads: the system calls and nothing else.
"""

import time

TITLE = "TCP bulk transfer, streams"
UNIT = "MB/s"
LOWER_IS_BETTER = False
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "floor")

KIB, MIB = 1024, 1024 * 1024

# Every case moves a bounded total: 32-64 MiB in a quick run, 256-512 MiB
# in a full one.
CASES = {
    "1 connection x 64 KiB": {
        "quick": {"clients": 1, "size": 64 * KIB, "writes": 512},
        "full": {"clients": 1, "size": 64 * KIB, "writes": 4096},
    },
    "1 connection x 1 MiB": {
        "quick": {"clients": 1, "size": MIB, "writes": 32},
        "full": {"clients": 1, "size": MIB, "writes": 256},
    },
    "1 connection x 10 MiB": {
        "quick": {"clients": 1, "size": 10 * MIB, "writes": 4},
        "full": {"clients": 1, "size": 10 * MIB, "writes": 30},
    },
    "50 connections x 64 KiB": {
        "quick": {"clients": 50, "size": 64 * KIB, "writes": 10},
        "full": {"clients": 50, "size": 64 * KIB, "writes": 80},
    },
    "50 connections x 1 MiB": {
        "quick": {"clients": 50, "size": MIB, "writes": 1},
        "full": {"clients": 50, "size": MIB, "writes": 6},
    },
}


def ops(clients, size, writes):
    """Megabytes moved in a run."""
    return clients * size * writes / 1e6


def _check(got, size, writes):
    if got != size * writes:
        raise RuntimeError(f"a client received {got} bytes, expected {size * writes}")


def yieldloop(clients, size, writes):
    import yieldloop as yl

    data = b"x" * size
    go = None

    async def handler(stream):
        await go.wait()
        for _ in range(writes):
            stream.write(data)
            await stream.drain()
        await stream.aclose()

    async def client(stream):
        got = 0
        while True:
            chunk = await stream.read(size)
            if not chunk:
                break
            got += len(chunk)
        await stream.aclose()
        _check(got, size, writes)

    async def main():
        nonlocal go
        go = yl.Event()
        async with await yl.start_server(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            streams = [await yl.open_connection("127.0.0.1", port) for _ in range(clients)]
            t0 = time.perf_counter()
            go.set()
            await yl.gather(*[client(s) for s in streams])
            return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, clients, size, writes):
    import asyncio

    from .runtimes import run_asyncio

    data = b"x" * size

    async def main():
        go = asyncio.Event()

        async def handler(reader, writer):
            await go.wait()
            for _ in range(writes):
                writer.write(data)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        async def client(reader, writer):
            got = 0
            while True:
                chunk = await reader.read(size)
                if not chunk:
                    break
                got += len(chunk)
            writer.close()
            await writer.wait_closed()
            _check(got, size, writes)

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pairs = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
        t0 = time.perf_counter()
        go.set()
        await asyncio.gather(*[client(r, w) for r, w in pairs])
        elapsed = time.perf_counter() - t0
        server.close()
        await server.wait_closed()
        return elapsed

    return run_asyncio(runtime, main)


def asyncio(clients, size, writes):
    return _asyncio("asyncio", clients, size, writes)


def uvloop(clients, size, writes):
    return _asyncio("uvloop", clients, size, writes)


def yieldloop_loop(clients, size, writes):
    return _asyncio("yieldloop-loop", clients, size, writes)


def floor(clients, size, writes):
    """Blocking sendall in a thread, recv_into of up to ``size`` bytes here."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    data = b"x" * size
    buf = bytearray(size)
    total = clients * size * writes

    def send():
        for _ in range(clients * writes):
            server.sendall(data)
        server.shutdown(socket.SHUT_WR)

    try:
        t0 = time.perf_counter()
        sender = threading.Thread(target=send)
        sender.start()
        got = 0
        while True:
            n = client.recv_into(buf)
            if not n:
                break
            got += n
        sender.join()
        elapsed = time.perf_counter() - t0
        if got != total:
            raise RuntimeError(f"received {got} bytes, expected {total}")
        return elapsed
    finally:
        for s in (client, server, listener):
            s.close()
