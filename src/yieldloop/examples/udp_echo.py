"""A UDP echo server and its client over loopback, one datagram at a time.

UDP has no connections and no streams: each sock_sendto() sends one
datagram to an address, and each sock_recvfrom() returns one datagram with
the address it came from, which is where the server sends the reply. Both
wait on the socket's fd only when the call would block. A datagram may be
lost, so the client waits for each reply under a timeout and sends again
if none came (on loopback, the first try always gets through).
"""

import socket

import yieldloop as yl


def bound_socket():
    """A non-blocking UDP socket on 127.0.0.1, at a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def echo_server(sock, count):
    """Answer ``count`` datagrams, each with its text upper-cased."""
    for _ in range(count):
        data, address = await yl.sock_recvfrom(sock, 65536)
        await yl.sock_sendto(sock, data.upper(), address)


async def ask(sock, server, text, tries=3):
    """Send ``text`` to ``server``; return the reply, sending again on a timeout."""
    for _ in range(tries):
        await yl.sock_sendto(sock, text.encode(), server)
        try:
            async with yl.timeout(2.0):
                data, _ = await yl.sock_recvfrom(sock, 65536)
                return data.decode()
        except TimeoutError:
            continue
    raise TimeoutError(f"no reply to {text!r} after {tries} tries")


async def main_async():
    words = ["ping", "datagram", "bye"]
    with bound_socket() as server, bound_socket() as client:
        print("  server and client bound to 127.0.0.1 (free ports)")
        task = yl.spawn(echo_server(server, len(words)))
        for word in words:
            reply = await ask(client, server.getsockname(), word)
            print(f"  sent {word!r}, the server answered {reply!r}")
        await task
        print(f"  server answered {len(words)} datagrams; fds still watched: {yl.stats()['fds']}")


def main():
    """Run the example."""
    print("A UDP echo server and a client, one datagram at a time:")
    yl.run(main_async)


if __name__ == "__main__":
    main()
