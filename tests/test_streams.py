"""Streams, servers and connections: echo at scale, limits, half-close, backpressure."""

import logging
import os
import resource
import socket
import sys

import pytest

import yieldloop as yl

HAS_IPV6 = socket.has_ipv6
try:
    with socket.socket(socket.AF_INET6) as _s:
        _s.bind(("::1", 0))
except OSError:
    HAS_IPV6 = False


@pytest.fixture
def many_fds():
    """Room for a few thousand sockets (client and server side of each)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < 1100:
        pytest.skip(f"the fd limit ({hard}) is too low for 500 connections")
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def echo_handler(stream):
    while True:
        data = await stream.read(65536)
        if not data:
            return
        stream.write(data)
        await stream.drain()


async def serve(handler=echo_handler):
    server = await yl.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


# One shared payload: client i sends it rotated by i, so every client's bytes
# differ while memory stays bounded.
PAYLOAD = bytes((i * 7 + i // 251) % 256 for i in range(1 << 16)) * 64   # 4 MiB


async def echo_client(port, i, size):
    view = memoryview(PAYLOAD)[:size]
    start = (i * 4099) % size if size > 1 else 0
    parts = ((start, view[start:]), (0, view[:start]))   # (offset in PAYLOAD, bytes)
    async with await yl.open_connection("127.0.0.1", port) as s:
        async def send():
            for _, part in parts:
                await s.send_all(part)

        sender = yl.spawn(send)
        for offset, part in parts:
            pos = 0
            while pos < len(part):
                chunk = await s.read(min(65536, len(part) - pos))
                assert chunk, f"client {i}: stream ended early"
                # A plain memcmp against the payload (no copy).
                assert PAYLOAD.startswith(chunk, offset + pos), f"client {i}: bytes differ"
                pos += len(chunk)
        await sender
    return size


@pytest.mark.parametrize("size", [1, 64 * 1024, 4 * 1024 * 1024], ids=["1B", "64KiB", "4MiB"])
@pytest.mark.heavy
def test_echo_with_500_concurrent_clients_is_byte_exact(size, many_fds):
    async def main():
        server, port = await serve()
        async with server:
            results = await yl.gather(*[echo_client(port, i, size) for i in range(500)])
        assert results == [size] * 500
        assert yl.stats()["fds"] == 0

    yl.run(main)


def test_unix_socket_server_and_connection(tmp_path):
    path = tmp_path / "echo.sock"

    async def main():
        async with await yl.start_unix_server(echo_handler, path):
            async with await yl.open_unix_connection(path) as s:
                await s.send_all(b"over unix\n")
                return await s.readline()

    assert yl.run(main) == b"over unix\n"
    assert not path.exists()                  # removed when the server closed


def test_unix_server_replaces_a_stale_socket_file(tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()                             # the file stays behind

    async def main():
        async with await yl.start_unix_server(echo_handler, path):
            async with await yl.open_unix_connection(path) as s:
                await s.send_all(b"x")
                return await s.read(1)

    assert yl.run(main) == b"x"


@pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 on this machine")
def test_ipv6_loopback_server_and_connection():
    async def main():
        async with await yl.start_server(echo_handler, "::1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with await yl.open_connection("::1", port) as s:
                await s.send_all(b"v6")
                return await s.readexactly(2), s.get_extra_info("peername")[0]

    assert yl.run(main) == (b"v6", "::1")


def test_open_connection_by_host_name():
    async def main():
        server, port = await serve()
        async with server:
            async with await yl.open_connection("localhost", port) as s:
                await s.send_all(b"name")
                return await s.readexactly(4)

    assert yl.run(main) == b"name"


def test_server_binds_to_loopback_by_default():
    async def main():
        async with await yl.start_server(echo_handler) as server:
            return [s.getsockname()[0] for s in server.sockets]

    assert yl.run(main) == ["127.0.0.1"]


def test_connection_refused_raises_and_leaks_nothing():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    async def main():
        with pytest.raises(ConnectionRefusedError):
            await yl.open_connection("127.0.0.1", port)

    yl.run(main)


# --- reading


async def stream_pair():
    """Two connected Streams over a socketpair."""
    a, b = socket.socketpair()
    return yl.Stream(a), yl.Stream(b)


def test_read_readexactly_readline_readuntil():
    async def main():
        a, b = await stream_pair()
        async with a, b:
            await a.send_all(b"line one\nrest--sep--tail")
            await a.send_eof()
            assert await b.readline() == b"line one\n"
            assert await b.readexactly(4) == b"rest"
            assert await b.readuntil(b"--sep--") == b"--sep--"
            assert await b.read(2) == b"ta"
            assert await b.read() == b"il"
            assert await b.read() == b""
            assert b.at_eof()

    yl.run(main)


def test_readexactly_reports_the_partial_data_at_end_of_stream():
    async def main():
        a, b = await stream_pair()
        async with a, b:
            await a.send_all(b"abc")
            await a.send_eof()
            with pytest.raises(yl.IncompleteReadError) as info:
                await b.readexactly(10)
            assert info.value.partial == b"abc" and info.value.expected == 10

    yl.run(main)


def test_readline_returns_the_last_line_without_newline_at_end():
    async def main():
        a, b = await stream_pair()
        async with a, b:
            await a.send_all(b"one\ntwo")
            await a.send_eof()
            return [line async for line in b]

    assert yl.run(main) == [b"one\n", b"two"]


def test_line_longer_than_the_limit_is_a_clear_error_not_unbounded_memory():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y, limit=100)
        async with a, b:
            writer = yl.spawn(a.send_all(b"z" * 10_000 + b"\nok\n"))
            with pytest.raises(ValueError, match="limit"):
                await b.readline()
            await writer

    yl.run(main)


def test_readuntil_limit_overrun_keeps_the_data():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y, limit=8)
        async with a, b:
            await a.send_all(b"0123456789ABCDEF\n")
            with pytest.raises(yl.LimitOverrunError):
                await b.readuntil(b"\n")
            assert await b.readexactly(4) == b"0123"

    yl.run(main)


def test_stream_options_are_checked():
    async def main():
        x, y = socket.socketpair()
        with x, y:
            with pytest.raises(ValueError):
                yl.Stream(x, limit=0)
            with pytest.raises(ValueError):
                yl.Stream(x, high_water=10, low_water=20)
            with pytest.raises(ValueError, match="at least one-byte"):
                await yl.Stream(x).readuntil(b"")

    yl.run(main)


# --- writing, half-close, backpressure


def test_send_eof_half_closes_and_the_other_side_can_still_answer():
    async def answer(stream):
        request = await stream.read()             # until the client's EOF
        await stream.send_all(b"got " + request)

    async def main():
        server, port = await serve(answer)
        async with server:
            async with await yl.open_connection("127.0.0.1", port) as s:
                s.write(b"question")
                await s.send_eof()
                with pytest.raises(yl.ClosedResourceError):
                    s.write(b"more")
                return await s.read()

    assert yl.run(main) == b"got question"


@pytest.mark.heavy
def test_slow_reader_makes_a_draining_writer_wait():
    progress = []

    async def slow_reader(stream):
        total = 0
        while True:
            await yl.sleep(0.002)
            data = await stream.read(4096)
            if not data:
                return
            total += len(data)

    async def main():
        server, port = await serve(slow_reader)
        async with server:
            s = await yl.open_connection("127.0.0.1", port)
            async with s:
                for i in range(400):
                    s.write(b"x" * 16384)
                    await s.drain()
                    progress.append(len(repr(s)))
                    unsent = int(repr(s).split("unsent=")[1].rstrip(">"))
                    assert unsent <= 64 * 1024 + 16384   # bounded by the high-water mark

    yl.run(main)
    assert len(progress) == 400


def test_writer_does_not_get_ahead_of_a_stalled_reader():
    async def main():
        a, b = await stream_pair()
        async with a, b:
            sent = 0
            t = yl.spawn(_write_forever(a))
            await yl.sleep(0.05)
            # Nobody reads b: the writer stalls once the buffers are full.
            assert not t.done()
            assert int(repr(a).split("unsent=")[1].rstrip(">")) <= 64 * 1024 + 65536
            t.cancel()

    yl.run(main)


async def _write_forever(stream):
    while True:
        stream.write(b"y" * 65536)
        await stream.drain()


@pytest.mark.heavy
def test_aclose_flushes_what_was_written():
    async def main():
        x, y = socket.socketpair()
        a = yl.Stream(x)
        b = yl.Stream(y)
        a.write(b"z" * 3_000_000)                 # more than the socket buffer
        reader = yl.spawn(b.read())
        await a.aclose()
        data = await reader
        await b.aclose()
        return len(data)

    assert yl.run(main) == 3_000_000


def test_stream_and_server_work_with_generator_style_code():
    def gen_handler(stream):
        line = yield from stream.readline()
        yield stream.send_all(line.upper())

    async def main():
        server, port = await serve(gen_handler)
        async with server:
            async with await yl.open_connection("127.0.0.1", port) as s:
                await s.send_all(b"shout\n")
                return await s.readline()

    assert yl.run(main) == b"SHOUT\n"


def test_handler_exception_is_logged_and_the_server_keeps_serving(caplog):
    async def picky(stream):
        data = await stream.read(10)
        if data == b"bad":
            raise ValueError("bad request")
        await stream.send_all(b"ok")

    async def main():
        server, port = await serve(picky)
        async with server:
            async with await yl.open_connection("127.0.0.1", port) as s:
                await s.send_all(b"bad")
                assert await s.read() == b""      # the handler's stream was closed
            async with await yl.open_connection("127.0.0.1", port) as s:
                await s.send_all(b"good")
                return await s.read()

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        assert yl.run(main) == b"ok"
    assert any("Unhandled exception in connection handler" in r.getMessage() for r in caplog.records)


def test_server_aclose_cancels_connection_handlers():
    cancelled = []

    async def lingering(stream):
        try:
            await stream.read()
        except yl.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        server, port = await serve(lingering)
        s = await yl.open_connection("127.0.0.1", port)
        await yl.sleep(0.01)
        await server.aclose()
        assert not server.is_serving() and server.sockets == []
        assert await s.read() == b""
        await s.aclose()

    yl.run(main)
    assert cancelled == [True]


def test_serve_forever_returns_when_the_server_is_closed():
    async def main():
        server, _ = await serve()
        yl.current_kernel().call_later(0.02, server.close)
        await server.serve_forever()
        await server.aclose()

    yl.run(main)


def test_get_extra_info_and_repr():
    async def main():
        server, port = await serve()
        async with server:
            async with await yl.open_connection("127.0.0.1", port) as s:
                assert s.get_extra_info("peername") == ("127.0.0.1", port)
                assert s.get_extra_info("socket") is s.socket
                assert s.get_extra_info("nothing", 5) == 5
                assert "unsent=0" in repr(s)
            assert s.closed and "closed" in repr(s)
            assert "Server" in repr(server)

    yl.run(main)
