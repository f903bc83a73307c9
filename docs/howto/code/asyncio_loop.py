"""An ordinary asyncio program, run on yieldloop.Loop."""

import asyncio
import sys

import yieldloop


async def handle(reader, writer):
    writer.write((await reader.readline()).upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main():
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello from asyncio\n")
        reply = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        await writer.wait_closed()
    return f"{type(loop).__name__}: {reply.decode().strip()}"


# Any Python: what uvloop.run() is to uvloop.
print(yieldloop.run_asyncio(main()))
# Python 3.12+: asyncio's own runner with yieldloop's loop.
if sys.version_info >= (3, 12):
    print(asyncio.run(main(), loop_factory=yieldloop.new_event_loop))
