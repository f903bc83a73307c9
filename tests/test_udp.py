"""Datagram awaitables: sock_recvfrom, sock_recvfrom_into and sock_sendto.

The call is made first and the task waits only when it would block; a
cancelled wait leaves no registration in the kernel or in the OS (read
from /proc/self/fdinfo, see epoll_state).
"""

import socket
import sys

import pytest

import epoll_state
import yieldloop as yl

LINUX = sys.platform.startswith("linux")


def _loopback_v6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAS_V6 = socket.has_ipv6 and _loopback_v6()


def udp(family=socket.AF_INET, host="127.0.0.1"):
    """A non-blocking datagram socket bound to a free loopback port."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.setblocking(False)
    return s


def unix_dgram(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.setblocking(False)
    return s


async def settle(n=5):
    for _ in range(n):
        await yl.sleep(0)


def test_sock_recvfrom_waits_for_a_datagram_and_returns_it_with_the_sender():
    a, b = udp(), udp()
    with a, b:
        async def main():
            reader = yl.spawn(yl.sock_recvfrom(a, 100))
            await settle()
            assert not reader.done()               # nothing yet: parked on the fd
            b.sendto(b"hello", a.getsockname())
            return await reader

        assert yl.run(main) == (b"hello", b.getsockname())


def test_udp_echo_over_ipv4_keeps_each_datagram_whole():
    server, client = udp(), udp()
    with server, client:
        async def echo():
            for _ in range(3):
                data, address = await yl.sock_recvfrom(server, 65536)
                await yl.sock_sendto(server, data.upper(), address)

        async def main():
            t = yl.spawn(echo)
            replies = []
            for word in (b"one", b"two", b"x" * 60000):
                assert await yl.sock_sendto(client, word, server.getsockname()) == len(word)
                replies.append(await yl.sock_recvfrom(client, 65536))
            await t
            return replies

        replies = yl.run(main)
        assert [data for data, _ in replies] == [b"ONE", b"TWO", b"X" * 60000]
        assert {address for _, address in replies} == {server.getsockname()}


@pytest.mark.skipif(not HAS_V6, reason="no IPv6 loopback (::1) on this machine")
def test_udp_echo_over_ipv6_loopback():
    server, client = udp(socket.AF_INET6, "::1"), udp(socket.AF_INET6, "::1")
    with server, client:
        async def echo():
            data, address = await yl.sock_recvfrom(server, 100)
            await yl.sock_sendto(server, data[::-1], address)
            return address

        async def main():
            t = yl.spawn(echo)
            await yl.sock_sendto(client, b"v6 ping", server.getsockname()[:2])
            reply = await yl.sock_recvfrom(client, 100)
            return reply, await t

        (data, from_server), seen_client = yl.run(main)
        assert data == b"gnip 6v"
        assert from_server[:2] == server.getsockname()[:2]
        assert seen_client[:2] == client.getsockname()[:2]


def test_unix_datagram_sockets_exchange_with_their_paths(tmp_path):
    a, b = unix_dgram(tmp_path / "a"), unix_dgram(tmp_path / "b")
    with a, b:
        async def main():
            reader = yl.spawn(yl.sock_recvfrom(b, 100))
            await settle()
            await yl.sock_sendto(a, b"over unix", str(tmp_path / "b"))
            data, sender = await reader
            await yl.sock_sendto(b, b"reply", sender)
            return data, sender, await yl.sock_recvfrom(a, 100)

        data, sender, reply = yl.run(main)
        assert (data, sender) == (b"over unix", str(tmp_path / "a"))
        assert reply == (b"reply", str(tmp_path / "b"))


def test_sock_recvfrom_into_fills_the_buffer_and_returns_the_sender():
    a, b = udp(), udp()
    with a, b:
        buf = bytearray(8)

        async def main():
            reader = yl.spawn(yl.sock_recvfrom_into(a, buf))
            await settle()
            b.sendto(b"abcdef", a.getsockname())
            first = await reader
            b.sendto(b"XYZ", a.getsockname())
            second = await yl.sock_recvfrom_into(a, memoryview(buf)[6:], 1)
            return first, second

        first, second = yl.run(main)
        assert first == (6, b.getsockname())
        assert second == (1, b.getsockname())       # nbytes=1: the rest is cut
        assert buf[:7] == b"abcdefX"


def test_sock_recvfrom_cuts_a_longer_datagram_to_bufsize():
    a, b = udp(), udp()
    with a, b:
        b.sendto(b"0123456789", a.getsockname())
        data, _ = yl.run(yl.sock_recvfrom(a, 4))
        assert data == b"0123"


def test_sock_sendto_waits_while_the_receiver_queue_is_full(tmp_path):
    # A Unix datagram sender blocks while the receiver's queue is full:
    # that is the one datagram send that really waits. Connected, so that
    # the OS reports the socket writable only once the queue has room.
    a, b = unix_dgram(tmp_path / "a"), unix_dgram(tmp_path / "b")
    target = str(tmp_path / "b")
    a.connect(target)
    with a, b:
        queued = 0
        try:
            while True:
                a.sendto(b"q", target)
                queued += 1
        except BlockingIOError:
            pass

        async def main():
            sender = yl.spawn(yl.sock_sendto(a, b"last", target))
            await settle()
            assert not sender.done()               # parked until there is room
            if LINUX:
                assert epoll_state.armed(a.fileno(), yl.current_kernel().poller.fileno())
            got = [await yl.sock_recvfrom(b, 10) for _ in range(queued)]
            assert await sender == 4
            return got, await yl.sock_recvfrom(b, 10)

        got, last = yl.run(main)
        assert {data for data, _ in got} == {b"q"}
        assert last[0] == b"last"


def test_sock_sendto_resolves_a_host_name_without_blocking_the_kernel():
    a, b = udp(), udp()
    with a, b:
        async def main():
            port = a.getsockname()[1]
            await yl.sock_sendto(b, b"by name", ("localhost", port))
            return await yl.sock_recvfrom(a, 100)

        assert yl.run(main) == (b"by name", b.getsockname())


def test_datagram_awaitables_work_on_a_blocking_socket_without_blocking_the_kernel():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    with a, b:
        assert a.gettimeout() is None              # blocking mode
        async def main():
            reader = yl.spawn(yl.sock_recvfrom(a, 100))
            await settle()                         # the kernel is not blocked
            assert not reader.done()
            await yl.sock_sendto(b, b"x", a.getsockname())
            return await reader

        assert yl.run(main) == (b"x", b.getsockname())


def test_datagram_awaitables_work_from_generators():
    a, b = udp(), udp()
    with a, b:
        def gen():
            yield from yl.sock_sendto(a, b"one", b.getsockname())
            first = yield from yl.sock_recvfrom(b, 10)
            yield yl.sock_sendto(a, b"two", b.getsockname())
            buf = bytearray(10)
            n, _ = yield yl.sock_recvfrom_into(b, buf)
            return first[0], bytes(buf[:n])

        assert yl.run(gen) == (b"one", b"two")


@pytest.mark.parametrize("call", ["recvfrom", "recvfrom_into"])
def test_cancel_during_a_datagram_receive_leaves_nothing_registered(call):
    a = udp()
    with a:
        async def main():
            epfd = yl.current_kernel().poller.fileno()
            aw = (yl.sock_recvfrom(a, 10) if call == "recvfrom"
                  else yl.sock_recvfrom_into(a, bytearray(10)))
            t = yl.spawn(aw)
            await settle()
            assert not t.done()
            if LINUX:
                assert epoll_state.armed(a.fileno(), epfd)
            t.cancel()
            with pytest.raises(yl.CancelledError):
                await t
            assert yl.stats()["fds"] == 0
            if LINUX:
                assert not epoll_state.registered(a.fileno(), epfd)

        yl.run(main)


def test_sock_sendto_to_a_full_unconnected_unix_receiver_waits_without_spinning(tmp_path):
    # Linux reports an unconnected Unix datagram socket writable even while
    # its receiver's queue is full: waiting for writability alone would
    # wake the sender over and over. It retries in time instead.
    a, b = unix_dgram(tmp_path / "a"), unix_dgram(tmp_path / "b")
    target = str(tmp_path / "b")
    with a, b:
        queued = 0
        try:
            while True:
                a.sendto(b"q", target)
                queued += 1
        except BlockingIOError:
            pass

        async def main():
            sender = yl.spawn(yl.sock_sendto(a, b"last", target))
            before = yl.stats()["switches"]
            await yl.sleep(0.3)
            assert not sender.done()
            # A spin takes thousands of steps in 0.3 s; retries that back
            # off from 1 ms to 50 ms take a dozen or so.
            assert yl.stats()["switches"] - before < 100
            for _ in range(queued):
                await yl.sock_recvfrom(b, 10)
            assert await sender == 4
            return await yl.sock_recvfrom(b, 10)

        assert yl.run(main)[0] == b"last"


def test_cancel_during_sock_sendto_leaves_nothing_registered(tmp_path):
    a, b = unix_dgram(tmp_path / "a"), unix_dgram(tmp_path / "b")
    target = str(tmp_path / "b")
    a.connect(target)
    with a, b:
        try:
            while True:
                a.sendto(b"q", target)
        except BlockingIOError:
            pass

        async def main():
            epfd = yl.current_kernel().poller.fileno()
            t = yl.spawn(yl.sock_sendto(a, b"late", target))
            await settle()
            assert not t.done()
            if LINUX:
                assert epoll_state.armed(a.fileno(), epfd)
            t.cancel()
            with pytest.raises(yl.CancelledError):
                await t
            assert yl.stats()["fds"] == 0
            if LINUX:
                assert not epoll_state.registered(a.fileno(), epfd)

        yl.run(main)


def test_datagram_awaitables_on_a_closed_socket_raise_value_error():
    a = udp()
    a.close()
    for aw in (yl.sock_recvfrom(a, 1), yl.sock_recvfrom_into(a, bytearray(1)),
               yl.sock_sendto(a, b"x", ("127.0.0.1", 9))):
        with pytest.raises(ValueError, match="closed"):
            yl.run(aw)


def test_datagram_awaitables_refuse_a_socket_with_a_timeout():
    a = udp()
    a.settimeout(5.0)
    with a:
        for aw in (yl.sock_recvfrom(a, 1), yl.sock_recvfrom_into(a, bytearray(1)),
                   yl.sock_sendto(a, b"x", a.getsockname())):
            with pytest.raises(ValueError, match="timeout"):
                yl.run(aw)


def test_datagram_bad_arguments_raise_clear_errors():
    a = udp()
    with a:
        with pytest.raises(ValueError, match="negative"):
            yl.run(yl.sock_recvfrom(a, -1))
        with pytest.raises(TypeError):
            yl.run(yl.sock_recvfrom_into(a, b"read-only"))
        with pytest.raises(TypeError):
            yl.run(yl.sock_sendto(a, "text", a.getsockname()))
        with pytest.raises(TypeError):
            yl.run(yl.sock_sendto(a, b"x", "not an address"))


def test_a_datagram_too_large_for_the_protocol_raises_oserror():
    a, b = udp(), udp()
    with a, b:
        with pytest.raises(OSError):
            yl.run(yl.sock_sendto(a, b"x" * 70000, b.getsockname()))
