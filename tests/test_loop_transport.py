"""yieldloop.Loop's socket transport matches asyncio's where asyncio's own
code and libraries look: TCP_NODELAY, the private names asyncio reads, the
state after close. Each test runs on asyncio's loop too."""

import asyncio
import socket
import sys

import pytest

import yieldloop

LOOPS = {"asyncio": asyncio.new_event_loop, "yieldloop": yieldloop.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request):
    lp = LOOPS[request.param]()
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()
    asyncio.set_event_loop(None)


async def _connected(loop, family):
    """A transport on a connected stream socket of ``family``; the peer socket."""
    a, b = socket.socketpair(family) if family == socket.AF_UNIX else _tcp_pair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, a)
    return transport, b


def _tcp_pair():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return server, client


def test_tcp_nodelay_is_set_for_sockets_made_as_tcp(loop):
    # asyncio sets it only when family, type and proto say TCP: a connection
    # made by create_connection (proto from getaddrinfo) has it...
    async def main():
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        sock = transport.get_extra_info("socket")
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        transport.close()
        server.close()
        await server.wait_closed()
        return nodelay

    assert loop.run_until_complete(main()) != 0


def test_tcp_nodelay_is_left_alone_for_a_socket_of_protocol_zero(loop):
    # ...one handed over with proto 0 (socket.accept() of a listener made
    # without a protocol) keeps the system's default.
    async def main():
        transport, peer = await _connected(loop, socket.AF_INET)
        sock = transport.get_extra_info("socket")
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        transport.close()
        peer.close()
        await asyncio.sleep(0)
        return sock.proto, nodelay

    assert loop.run_until_complete(main()) == (0, 0)


def test_unix_transport_does_not_try_tcp_nodelay(loop):
    async def main():
        transport, peer = await _connected(loop, socket.AF_UNIX)
        closing = transport.is_closing()
        transport.close()
        peer.close()
        await asyncio.sleep(0)
        return closing

    assert loop.run_until_complete(main()) is False


def test_paused_follows_pause_and_resume_reading(loop):
    async def main():
        transport, peer = await _connected(loop, socket.AF_INET)
        states = [transport._paused, transport.is_reading()]
        transport.pause_reading()
        states += [transport._paused, transport.is_reading()]
        transport.resume_reading()
        states += [transport._paused, transport.is_reading()]
        transport.close()
        states += [transport.is_reading()]
        peer.close()
        await asyncio.sleep(0)
        return states

    assert loop.run_until_complete(main()) == [False, True, True, False, False, True, False]


def test_force_close_ends_with_connection_lost_of_the_error(loop):
    lost = []

    class Proto(asyncio.Protocol):
        def connection_lost(self, exc):
            lost.append(exc)

    async def main():
        a, peer = _tcp_pair()
        transport, _ = await loop.connect_accepted_socket(Proto, a)
        error = ConnectionAbortedError("forced")
        transport._force_close(error)
        transport._force_close(error)           # a second call changes nothing
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        peer.close()
        return transport.is_closing(), error

    closing, error = loop.run_until_complete(main())
    assert closing and lost == [error]


def test_sendfile_falls_back_to_writes_for_a_file_without_an_fd(loop):
    # asyncio's fallback wraps the transport and insists it has asyncio's
    # flow control (an isinstance() check of a private class).
    import io

    received = []

    class Sink(asyncio.Protocol):
        def __init__(self):
            self.lost = loop.create_future()

        def data_received(self, data):
            received.append(data)

        def connection_lost(self, exc):
            self.lost.set_result(exc)

    sink = Sink()

    async def main():
        server = await loop.create_server(lambda: sink, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        sent = await loop.sendfile(transport, io.BytesIO(b"f" * 300_000))
        transport.close()
        lost = await sink.lost
        server.close()
        await server.wait_closed()
        return sent, lost

    assert loop.run_until_complete(main()) == (300_000, None)
    assert b"".join(received) == b"f" * 300_000


async def _sendfile_in_progress(loop, check):
    """Start loop.sendfile() of a file bigger than the socket buffers (made
    small) to a peer that does not read yet, call ``check(transport)`` while
    it is in progress, then let it finish; return check's result, the count
    sent and whether the peer got the file intact."""
    import tempfile

    data = b"s" * (4 * 1024 * 1024)
    received = bytearray()
    reading = loop.create_future()

    class Sink(asyncio.Protocol):
        def connection_made(self, transport):
            transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            transport.pause_reading()
            reading.add_done_callback(lambda _: transport.resume_reading())

        def data_received(self, chunk):
            received.extend(chunk)

    server = await loop.create_server(Sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.flush()
        f.seek(0)
        started = loop.create_future()

        async def send():
            started.set_result(None)
            return await loop.sendfile(transport, f)

        task = loop.create_task(send())
        await started
        await asyncio.sleep(0)
        try:
            result = check(transport)
        finally:
            reading.set_result(None)
            # Bounded: a write that slipped in can leave sendfile stuck.
            sent = await asyncio.wait_for(task, 60)
    for _ in range(6000):                    # at most a minute
        if len(received) >= sent:
            break
        await asyncio.sleep(0.01)
    transport.close()
    server.close()
    await server.wait_closed()
    return result, sent, bytes(received) == data


def _raises(call):
    try:
        call()
    except Exception as exc:
        return type(exc), str(exc)
    return None


def test_write_during_sendfile_raises(loop):
    result, sent, intact = loop.run_until_complete(
        _sendfile_in_progress(loop, lambda tr: _raises(lambda: tr.write(b"data"))))
    assert result == (RuntimeError, "unable to write; sendfile is in progress")
    assert sent == 4 * 1024 * 1024 and intact


def test_writelines_during_sendfile_raises(loop):
    result, sent, intact = loop.run_until_complete(
        _sendfile_in_progress(loop, lambda tr: _raises(lambda: tr.writelines([b"data"]))))
    # asyncio's transport has a writelines() of its own from 3.12 on.
    name = "writelines" if sys.version_info >= (3, 12) else "write"
    assert result == (RuntimeError, f"unable to {name}; sendfile is in progress")
    assert sent == 4 * 1024 * 1024 and intact


def test_writelines_after_write_eof_raises(loop):
    async def main():
        transport, peer = await _connected(loop, socket.AF_INET)
        transport.write_eof()
        result = _raises(lambda: transport.writelines([b"late"]))
        transport.close()
        peer.close()
        await asyncio.sleep(0)
        return result

    name = "writelines" if sys.version_info >= (3, 12) else "write"
    assert loop.run_until_complete(main()) == (
        RuntimeError, f"Cannot call {name}() after write_eof()")


def test_closing_attribute_follows_close(loop):
    async def main():
        transport, peer = await _connected(loop, socket.AF_INET)
        states = [transport._closing]
        transport.close()
        states.append(transport._closing)
        peer.close()
        await asyncio.sleep(0)
        return states

    assert loop.run_until_complete(main()) == [False, True]


def test_transport_method_replaced_on_the_instance_is_called(loop):
    from unittest import mock

    async def main():
        transport, peer = await _connected(loop, socket.AF_INET)
        with mock.patch.object(transport, "write", side_effect=ConnectionResetError) as m:
            with pytest.raises(ConnectionResetError):
                transport.write(b"patched")
        assert m.call_args_list == [mock.call(b"patched")]
        transport.write(b"real")              # the class's method again
        peer.setblocking(True)
        got = peer.recv(16)
        transport.close()
        peer.close()
        await asyncio.sleep(0)
        return got

    assert loop.run_until_complete(main()) == b"real"
