"""A reader waits on a socket; the poller wakes it when the writer's bytes arrive."""

import socket

import yieldloop as yl


async def reader(sock):
    data = await yl.sock_recv(sock, 100)  # nothing there yet: waits on the fd
    return data.decode()


async def writer(sock):
    await yl.sleep(0.01)
    await yl.sock_sendall(sock, b"hello")


async def main():
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.setblocking(False)
        r = yl.spawn(reader, left, name="reader")
        w = yl.spawn(writer, right, name="writer")
        await w
        return await r


print(yl.run(main))
