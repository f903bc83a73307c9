"""Socket awaitables: the system call first, a wait only when it would block."""

import errno
import os
import socket

import pytest

import yieldloop as yl

HAS_IPV6 = socket.has_ipv6
try:
    socket.socket(socket.AF_INET6).close()
except OSError:
    HAS_IPV6 = False


def nonblocking_pair(family=socket.AF_UNIX):
    a, b = socket.socketpair(family)
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def listener(family=socket.AF_INET, host="127.0.0.1", backlog=16):
    s = socket.socket(family)
    s.bind((host, 0))
    s.listen(backlog)
    s.setblocking(False)
    return s


def test_sock_recv_waits_for_data_then_returns_it():
    a, b = nonblocking_pair()
    with a, b:
        async def main():
            reader = yl.spawn(yl.sock_recv(a, 100))
            await yl.sleep(0.01)
            assert not reader.done()          # nothing yet: parked on the fd
            b.send(b"hello")
            return await reader

        assert yl.run(main) == b"hello"


def test_sock_recv_returns_empty_bytes_at_end_of_stream():
    a, b = nonblocking_pair()
    with a:
        b.close()
        assert yl.run(yl.sock_recv(a, 10)) == b""


def test_sock_recv_works_on_a_blocking_socket_without_blocking_the_kernel():
    a, b = socket.socketpair()
    with a, b:
        async def main():
            reader = yl.spawn(yl.sock_recv(a, 10))
            await yl.sleep(0.01)              # the kernel is not blocked
            b.send(b"x")
            return await reader

        assert yl.run(main) == b"x"


def test_sock_recv_into_fills_the_buffer():
    a, b = nonblocking_pair()
    with a, b:
        b.send(b"abcdef")
        buf = bytearray(4)

        async def main():
            n = await yl.sock_recv_into(a, buf)
            m = await yl.sock_recv_into(a, memoryview(buf)[1:], 1)
            return n, m

        assert yl.run(main) == (4, 1)
        assert buf == b"aecd"


@pytest.mark.heavy
def test_sock_sendall_sends_a_large_buffer_in_partial_writes():
    a, b = nonblocking_pair()
    payload = os.urandom(8 * 1024 * 1024)    # far more than the socket buffer
    with a, b:
        async def reader():
            chunks = []
            while sum(map(len, chunks)) < len(payload):
                chunks.append(await yl.sock_recv(b, 1 << 16))
            return b"".join(chunks)

        async def main():
            r = yl.spawn(reader)
            await yl.sock_sendall(a, memoryview(payload))
            return await r

        assert yl.run(main) == payload


def test_sock_sendall_accepts_any_bytes_like_object():
    a, b = nonblocking_pair()
    with a, b:
        async def main():
            await yl.sock_sendall(a, bytearray(b"ab"))
            await yl.sock_sendall(a, memoryview(b"cd"))
            await yl.sock_sendall(a, b"")
            return await yl.sock_recv(b, 10)

        assert yl.run(main) == b"abcd"
        with pytest.raises(TypeError):
            yl.run(yl.sock_sendall(a, "text"))


def test_accept_and_connect_over_ipv4():
    lsock = listener()
    with lsock:
        async def main():
            client = socket.socket()
            client.setblocking(False)
            acceptor = yl.spawn(yl.sock_accept(lsock))
            await yl.sock_connect(client, lsock.getsockname())
            conn, address = await acceptor
            with client, conn:
                assert not conn.getblocking()
                assert conn.get_inheritable() is False
                assert address == client.getsockname()
                await yl.sock_sendall(client, b"ping")
                return await yl.sock_recv(conn, 10)

        assert yl.run(main) == b"ping"


@pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 on this machine")
def test_accept_and_connect_over_ipv6():
    lsock = listener(socket.AF_INET6, "::1")
    with lsock:
        async def main():
            client = socket.socket(socket.AF_INET6)
            client.setblocking(False)
            acceptor = yl.spawn(yl.sock_accept(lsock))
            await yl.sock_connect(client, lsock.getsockname()[:2])
            conn, _ = await acceptor
            with client, conn:
                await yl.sock_sendall(conn, b"v6")
                return await yl.sock_recv(client, 10)

        assert yl.run(main) == b"v6"


def test_accept_and_connect_over_a_unix_socket(tmp_path):
    path = str(tmp_path / "sock")
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(path)
    lsock.listen()
    lsock.setblocking(False)
    with lsock:
        async def main():
            client = socket.socket(socket.AF_UNIX)
            client.setblocking(False)
            acceptor = yl.spawn(yl.sock_accept(lsock))
            await yl.sock_connect(client, path)
            conn, _ = await acceptor
            with client, conn:
                await yl.sock_sendall(client, b"unix")
                return await yl.sock_recv(conn, 10)

        assert yl.run(main) == b"unix"


def test_connect_resolves_a_host_name_in_a_thread():
    lsock = listener()
    with lsock:
        async def main():
            client = socket.socket()
            client.setblocking(False)
            with client:
                await yl.sock_connect(client, ("localhost", lsock.getsockname()[1]))
                return client.getpeername()[0]

        assert yl.run(main) == "127.0.0.1"


def test_connect_refused_raises_oserror():
    lsock = listener()
    port = lsock.getsockname()[1]
    lsock.close()                            # nothing listens there now

    async def main():
        client = socket.socket()
        client.setblocking(False)
        with client:
            with pytest.raises(ConnectionRefusedError):
                await yl.sock_connect(client, ("127.0.0.1", port))

    yl.run(main)


def test_accept_and_connect_refuse_blocking_sockets():
    lsock = listener()
    lsock.setblocking(True)
    client = socket.socket()
    with lsock, client:
        with pytest.raises(ValueError, match="non-blocking"):
            yl.run(yl.sock_accept(lsock))
        with pytest.raises(ValueError, match="non-blocking"):
            yl.run(yl.sock_connect(client, lsock.getsockname()))


def test_operations_on_a_closed_socket_raise_value_error():
    a, b = nonblocking_pair()
    a.close()
    b.close()
    for aw in (yl.sock_recv(a, 1), yl.sock_sendall(a, b"x"), yl.sock_recv_into(a, bytearray(1))):
        with pytest.raises(ValueError, match="closed"):
            yl.run(aw)


def test_send_to_a_closed_peer_raises_connection_error():
    a, b = nonblocking_pair()
    b.close()
    with a:
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            yl.run(yl.sock_sendall(a, b"x" * 1_000_000))


def test_getaddrinfo_numeric_and_by_name():
    async def main():
        numeric = await yl.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        named = await yl.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
        return numeric[0][4], [info[4][0] for info in named]

    numeric, named = yl.run(main)
    assert numeric == ("127.0.0.1", 80)
    assert "127.0.0.1" in named or "::1" in named


def test_socket_awaitables_work_from_generators():
    a, b = nonblocking_pair()
    with a, b:
        def gen():
            yield from yl.sock_sendall(a, b"one")
            first = yield from yl.sock_recv(b, 10)
            yield yl.sock_sendall(a, b"two")
            second = yield yl.sock_recv(b, 10)
            return first, second

        assert yl.run(gen) == (b"one", b"two")


def test_connect_to_a_full_backlog_waits_and_cancel_unregisters():
    lsock = listener(backlog=0)
    fillers = []
    try:
        async def main():
            # Fill the accept queue; the next connect then stays in progress.
            for _ in range(8):
                s = socket.socket()
                s.setblocking(False)
                fillers.append(s)
                if s.connect_ex(lsock.getsockname()) not in (0, errno.EINPROGRESS):
                    break
            client = socket.socket()
            client.setblocking(False)
            fillers.append(client)
            t = yl.spawn(yl.sock_connect(client, lsock.getsockname()))
            await yl.sleep(0.05)
            if t.done():
                pytest.skip("this OS completed the connect despite the full backlog")
            t.cancel()
            with pytest.raises(yl.CancelledError):
                await t
            assert yl.stats()["fds"] == 0

        yl.run(main)
    finally:
        for s in fillers:
            s.close()
        lsock.close()
