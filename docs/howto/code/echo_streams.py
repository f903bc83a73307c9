"""A line-echo server and a client over loopback, with streams."""

import yieldloop as yl


async def handle(stream):
    # One task per connection; the server closes the stream when it returns.
    async for line in stream:  # readline() until the client closes
        await stream.send_all(line.upper())


async def main():
    async with await yl.start_server(handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with await yl.open_connection("127.0.0.1", port) as conn:
            for word in (b"hello\n", b"world\n"):
                await conn.send_all(word)
                async with yl.timeout(5):  # a server that never answers: an error, not a hang
                    print((await conn.readline()).decode().strip())


yl.run(main)
