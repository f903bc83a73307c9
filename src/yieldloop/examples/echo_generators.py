"""The same echo server, written as plain generators with yield from.

Nothing here is async def: the handler and the client are generator
functions that ``yield from`` the stream's awaitables (which work with
``await``, ``yield from`` and a bare ``yield``). The kernel drives them
exactly as it drives coroutines, parking them on the socket's fd.
"""

import yieldloop as yl


def echo(stream):
    """The connection handler, a generator: echo lines until the end."""
    while True:
        line = yield from stream.readline()
        if not line:
            return  # the client finished: the server closes the stream
        yield from stream.send_all(line)


def client(port, words):
    """A generator client: Tornado style here, the result is sent back."""
    stream = yield yl.open_connection("127.0.0.1", port)
    echoes = []
    for word in words:
        yield from stream.send_all(word.encode() + b"\n")
        echoes.append((yield stream.readline()).decode().rstrip())
    yield from stream.aclose()
    return echoes


def main_generator():
    server = yield from yl.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    echoes = yield from yl.gather(client(port, ["one", "two"]), client(port, ["three"]))
    yield from server.aclose()
    for words in echoes:
        print(f"  echoed: {', '.join(words)}")


def main():
    """Run the example."""
    print("An echo server and two clients, all plain generators:")
    yl.run(main_generator)


if __name__ == "__main__":
    main()
