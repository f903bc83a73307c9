"""The socket API: system calls on non-blocking sockets, waiting only on EAGAIN."""

import socket

import yieldloop as yl


async def serve_one(listener):
    conn, _ = await yl.sock_accept(listener)
    with conn:
        data = await yl.sock_recv(conn, 1024)
        await yl.sock_sendall(conn, data[::-1])


async def main():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        server = yl.spawn(serve_one, listener)
        with socket.socket() as client:
            client.setblocking(False)
            await yl.sock_connect(client, listener.getsockname())
            await yl.sock_sendall(client, b"stressed")
            print((await yl.sock_recv(client, 1024)).decode())
        await server


yl.run(main)
