"""A TCP echo server and its clients over loopback, in async def.

The server listens on 127.0.0.1 (a free port) and runs each connection's
handler in a task of its own. A handler reads a line, which parks its task
on the socket's fd in the poller until bytes arrive, and writes it back.
Three clients talk to it at the same time; their waits overlap, so the
kernel serves them all from one thread.
"""

import yieldloop as yl


async def echo(stream):
    """The connection handler: echo each line until the client is done."""
    async for line in stream:  # readline() until the end of the stream
        stream.write(line)
        await stream.drain()  # waits only if the client reads too slowly


async def client(port, name, words):
    """Send each word as a line and read its echo."""
    async with await yl.open_connection("127.0.0.1", port) as stream:
        echoes = []
        for word in words:
            await stream.send_all(f"{name}: {word}\n".encode())
            echoes.append((await stream.readline()).decode().rstrip())
        return echoes


async def main_async():
    async with await yl.start_server(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print("  server listening on 127.0.0.1 (a free port)")
        results = await yl.gather(
            client(port, "ann", ["hello", "world"]),
            client(port, "bob", ["ping", "pong"]),
            client(port, "cy", ["spam", "eggs"]),
        )
    for echoes in results:
        for line in echoes:
            print(f"  echoed: {line}")
    print(f"  server closed; fds still watched: {yl.stats()['fds']}")


def main():
    """Run the example."""
    print("An echo server and three clients at once:")
    yl.run(main_async)


if __name__ == "__main__":
    main()
