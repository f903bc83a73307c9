"""TCP echo over loopback with asyncio's transports and protocols.

The lowest level asyncio offers above sockets: a Protocol whose
data_received() writes back to its transport, and a client protocol that
sends the next message when the echo of the previous one has arrived. Only
the asyncio event loops run it (the native yieldloop API has no protocols);
see _echo for the cases and the floor.
"""

import time

from ._echo import CASES, floor, ops  # noqa: F401 - the driver reads them here

TITLE = "TCP echo, protocols"
UNIT = "req/s"
LOWER_IS_BETTER = False
RUNTIMES = ("yieldloop-loop", "asyncio", "uvloop", "floor")


def _asyncio(runtime, clients, size, requests):
    import asyncio

    from .runtimes import run_asyncio

    msg = b"x" * size

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    class Client(asyncio.Protocol):
        def __init__(self, done):
            self.done = done
            self.left = requests
            self.pending = 0

        def connection_made(self, transport):
            self.transport = transport

        def start(self):
            self.pending = size
            self.transport.write(msg)

        def data_received(self, data):
            self.pending -= len(data)
            if self.pending == 0:
                self.left -= 1
                if self.left:
                    self.start()
                else:
                    self.done.set_result(None)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        protos = []
        for _ in range(clients):
            done = loop.create_future()
            _, proto = await loop.create_connection(lambda d=done: Client(d), "127.0.0.1", port)
            protos.append(proto)
        t0 = time.perf_counter()
        for p in protos:
            p.start()
        await asyncio.gather(*[p.done for p in protos])
        elapsed = time.perf_counter() - t0
        for p in protos:
            p.transport.close()
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
