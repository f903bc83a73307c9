"""Fd hygiene: closing while a task waits, reused fd numbers, two readers,
cancellation at every socket wait. (conftest.py checks every test for
leaked fds.)"""

import os
import socket

import pytest

import yieldloop as yl


def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def settle(n=5):
    for _ in range(n):
        await yl.sleep(0)


def test_notify_closing_wakes_a_task_waiting_on_the_socket():
    a, b = pair()
    with b:
        async def main():
            reader = yl.spawn(yl.sock_recv(a, 10))
            await settle()
            yl.notify_closing(a)
            a.close()
            with pytest.raises(yl.ClosedResourceError, match="closed while task"):
                await reader
            assert yl.stats()["fds"] == 0

        yl.run(main)


def test_closing_a_stream_wakes_its_reader_with_a_clear_error():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        reader = yl.spawn(b.read(10))
        await settle()
        b.close()
        with pytest.raises(yl.ClosedResourceError):
            await reader
        with pytest.raises(yl.ClosedResourceError):
            await b.read(1)
        with pytest.raises(yl.ClosedResourceError):
            b.write(b"x")
        await a.aclose()
        assert yl.stats()["fds"] == 0

    yl.run(main)


def test_socket_closed_behind_the_kernels_back_then_reused_evicts_the_stale_waiter():
    async def main():
        a, b = pair()
        stale = yl.spawn(yl.sock_recv(a, 10))
        await settle()
        fd = a.fileno()
        a.close()                          # no notify_closing: the kernel is not told
        b.close()
        c, d = pair()
        new = c if c.fileno() == fd else d
        other = d if new is c else c
        with c, d:
            if new.fileno() != fd:
                stale.cancel()
                pytest.skip("the OS did not reuse the fd number")
            fresh = yl.spawn(yl.sock_recv(new, 100))
            await settle()
            # The waiter of the closed socket is woken with an error, not left
            # hanging, and the new socket's reader is not woken by it.
            with pytest.raises(yl.ClosedResourceError):
                await stale
            assert not fresh.done()
            other.send(b"for the new one")
            assert await fresh == b"for the new one"

    yl.run(main)


def test_data_for_a_reused_fd_does_not_wake_a_cancelled_old_waiter():
    async def main():
        a, b = pair()
        old = yl.spawn(yl.sock_recv(a, 10))
        await settle()
        old.cancel()
        with pytest.raises(yl.CancelledError):
            await old
        yl.notify_closing(a)
        a.close()
        b.close()
        c, d = pair()
        with c, d:
            got = yl.spawn(yl.sock_recv(c, 10))
            await settle()
            d.send(b"new")
            assert await got == b"new"

    yl.run(main)


def test_two_tasks_reading_one_socket_get_a_clear_error():
    a, b = pair()
    with a, b:
        async def main():
            first = yl.spawn(yl.sock_recv(a, 10))
            second = yl.spawn(yl.sock_recv(a, 10))
            with pytest.raises(yl.BusyResourceError, match="already waiting"):
                await second
            b.send(b"one")
            assert await first == b"one"

        yl.run(main)


def test_two_tasks_reading_one_stream_get_a_clear_error():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        async with a, b:
            first = yl.spawn(b.read(10))
            second = yl.spawn(b.read(10))
            with pytest.raises(yl.BusyResourceError):
                await second
            await a.send_all(b"data")
            assert await first == b"data"

    yl.run(main)


def fill(sock):
    """Fill the socket's send buffer so the next send would block."""
    try:
        while True:
            sock.send(b"f" * 65536)
    except BlockingIOError:
        pass


async def cancel_blocked(aw, fds_left=0):
    """Cancel ``aw`` once it blocks; nothing of it may stay registered
    (``fds_left``: waiters that belong to something else, e.g. a stream's
    background flush)."""
    t = yl.spawn(aw)
    await settle()
    assert not t.done(), "the operation did not block"
    t.cancel()
    with pytest.raises(yl.CancelledError):
        await t
    s = yl.stats()
    assert s["fds"] == fds_left and s["timers"] == 0, s


def test_cancel_during_sock_recv_leaves_nothing_registered():
    a, b = pair()
    with a, b:
        yl.run(cancel_blocked, yl.sock_recv(a, 10))


def test_cancel_during_sock_recv_into_leaves_nothing_registered():
    a, b = pair()
    with a, b:
        yl.run(cancel_blocked, yl.sock_recv_into(a, bytearray(10)))


def test_cancel_during_sock_sendall_leaves_nothing_registered():
    a, b = pair()
    with a, b:
        fill(a)
        yl.run(cancel_blocked, yl.sock_sendall(a, b"x" * 100_000))


def test_cancel_during_sock_accept_leaves_nothing_registered():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    lsock.setblocking(False)
    with lsock:
        yl.run(cancel_blocked, yl.sock_accept(lsock))


def test_cancel_during_stream_reads_leaves_nothing_registered():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        async with a, b:
            for aw in (b.read(10), b.readexactly(5), b.readline(), b.readuntil(b"!")):
                await cancel_blocked(aw)
            await a.send_all(b"still works\n")
            assert await b.readline() == b"still works\n"

    yl.run(main)


def test_cancel_during_drain_and_send_all_leaves_nothing_registered():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        try:
            a.write(b"z" * 5_000_000)          # far more than the socket takes
            # The stream keeps flushing in the background: one waiter is its.
            await cancel_blocked(a.drain(), fds_left=1)
            await cancel_blocked(a.send_all(b"more"), fds_left=1)
        finally:
            a.close()                          # drops what is unsent
            b.close()
        assert yl.stats()["fds"] == 0

    yl.run(main)


def test_cancel_during_server_accept_and_connection_cleans_up():
    async def main():
        server = await yl.start_server(lambda s: s.read(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = await yl.open_connection("127.0.0.1", port)
        await settle()
        await server.aclose()
        await conn.aclose()
        s = yl.stats()
        assert s["fds"] == 0 and s["tasks"] == 1, s

    yl.run(main)


def test_wait_readable_on_a_pipe_then_notify_closing():
    r, w = os.pipe()
    os.close(w)

    async def main():
        # A pipe whose writer is gone is readable (EOF): no wait at all.
        await yl.wait_readable(r)
        yl.notify_closing(r)
        os.close(r)

    yl.run(main)


def test_notify_closing_refuses_a_closed_socket():
    s = socket.socket()
    s.close()

    async def main():
        with pytest.raises(ValueError, match="already closed"):
            yl.notify_closing(s)

    yl.run(main)
