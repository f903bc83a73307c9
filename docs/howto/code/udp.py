"""Datagrams: one sock_sendto() is one datagram, sock_recvfrom() says who sent it."""

import socket

import yieldloop as yl


async def reverse_server(sock):
    while True:
        data, address = await yl.sock_recvfrom(sock, 65536)
        await yl.sock_sendto(sock, data[::-1], address)


async def main():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        server.setblocking(False)
        client.setblocking(False)
        task = yl.spawn(reverse_server, server)
        for word in (b"stressed", b"drawer"):
            await yl.sock_sendto(client, word, server.getsockname())
            async with yl.timeout(2.0):           # a datagram can be lost
                data, address = await yl.sock_recvfrom(client, 65536)
            print(data.decode(), "from", "server" if address == server.getsockname() else address)
        task.cancel()


yl.run(main)
