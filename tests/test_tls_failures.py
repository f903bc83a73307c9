"""TLS on the native kernel, what fails and how: certificates that do not
verify, peers that close, reset or go silent during the handshake, a
closing exchange nobody answers, cancellation, closing under a reader, bad
arguments. Each ends with a clear error and nothing left behind
(tls_support.assert_clean; conftest.py checks the process's fds too).
"""

import ssl
import threading

import pytest

import yieldloop as yl
from tls_support import LIMIT, assert_clean, echo, listener, recv_record, settle

trustme = pytest.importorskip("trustme")

# --- certificates and names


def test_a_certificate_from_an_unknown_ca_fails_verification_on_both_ends(tls_server_ctx):
    called = []

    async def handler(stream):
        called.append(stream)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                stranger = ssl.create_default_context()
                trustme.CA().configure_trust(stranger)  # trusts another CA only
                with pytest.raises(ssl.SSLCertVerificationError) as info:
                    await yl.open_connection("127.0.0.1", port, ssl=stranger)
                assert info.value.verify_message == "unable to get local issuer certificate"
                await settle()
        assert called == []                     # the server never ran the handler
        assert_clean()

    yl.run(main)


def test_a_wrong_host_name_fails_verification(tls_server_ctx, tls_client_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch") as info:
                    await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx,
                                             server_hostname="example.org")
                assert "example.org" in info.value.verify_message
        assert_clean()

    yl.run(main)

@pytest.mark.parametrize("how", ["closed", "reset"])
def test_a_server_leaving_during_the_handshake_is_a_connection_reset(tls_client_ctx, how):
    lsock, port = listener()

    def server():
        conn, _ = lsock.accept()
        with conn:
            conn.settimeout(LIMIT)
            if how == "closed":
                recv_record(conn)               # the whole ClientHello, then FIN
            else:
                conn.recv(5)                    # unread data left: close() sends RST

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(server))
            with pytest.raises(ConnectionResetError, match=f"peer {how} the connection during "
                               "the TLS handshake"):
                await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
            await peer
        assert_clean()

    with lsock:
        yl.run(main)


def test_a_client_closing_during_the_handshake_never_reaches_the_handler(tls_server_ctx):
    called = []

    async def handler(stream):
        called.append(stream)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                raw = await yl.open_connection("127.0.0.1", port)
                await raw.send_all(b"\x16\x03\x01\x02\x00\x01")   # a ClientHello's start
                await raw.aclose()
                await settle(50)
        assert called == []
        assert_clean()

    yl.run(main)


def test_a_server_that_never_answers_times_the_handshake_out(tls_client_ctx):
    lsock, port = listener()                    # accepts (backlog), never speaks

    async def main():
        async with yl.timeout(LIMIT):
            with pytest.raises(TimeoutError, match="TLS handshake took longer than 0.1 seconds"):
                await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx,
                                         ssl_handshake_timeout=0.1)
        assert_clean()

    with lsock:
        yl.run(main)


def test_a_client_that_never_speaks_is_dropped_after_the_handshake_timeout(tls_server_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx,
                                             ssl_handshake_timeout=0.1) as server:
                port = server.sockets[0].getsockname()[1]
                raw = await yl.open_connection("127.0.0.1", port)
                assert await raw.read(1) == b""     # the server closed it
                await raw.aclose()
                await settle()
        assert_clean()

    yl.run(main)


def test_closing_the_server_during_a_handshake_ends_that_connection(tls_server_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            server = await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx)
            port = server.sockets[0].getsockname()[1]
            raw = await yl.open_connection("127.0.0.1", port)   # never says a word
            await settle()
            assert yl.stats()["tasks"] == 3     # main, the acceptor, the handshake
            await server.aclose()
            assert await raw.read(1) == b""     # the server closed it
            await raw.aclose()
        assert_clean()

    yl.run(main)


def test_aclose_gives_up_on_a_peer_that_never_answers_close_notify(tls_server_ctx, tls_client_ctx):
    lsock, port = listener()
    release = threading.Event()

    def server():
        conn, _ = lsock.accept()
        conn.settimeout(LIMIT)
        with tls_server_ctx.wrap_socket(conn, server_side=True):
            release.wait(LIMIT)                 # reads nothing, answers nothing

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(server))
            s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx,
                                         ssl_shutdown_timeout=0.1)
            await s.aclose()                    # returns: no error, socket closed
            assert s.closed and s.socket.fileno() == -1
            release.set()
            await peer
        assert_clean()

    with lsock:
        yl.run(main)


def test_cancelling_the_handshake_closes_the_socket(tls_client_ctx):
    lsock, port = listener()

    async def main():
        async with yl.timeout(LIMIT):
            task = yl.spawn(yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx))
            await settle()
            assert yl.stats()["fds"] == 1       # parked on its socket
            task.cancel()
            with pytest.raises(yl.CancelledError):
                await task
        assert_clean()

    with lsock:
        yl.run(main)


def test_closing_a_tls_stream_wakes_its_reader(tls_server_ctx, tls_client_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
                reader = yl.spawn(s.read(10))
                await settle()
                s.close()
                with pytest.raises(yl.ClosedResourceError):
                    await reader
                with pytest.raises(yl.ClosedResourceError):
                    s.write(b"x")
                with pytest.raises(NotImplementedError, match="half-close"):
                    await s.send_eof()
        assert_clean()

    yl.run(main)


def test_aclose_while_another_task_reads_closes_and_wakes_the_reader(tls_server_ctx, tls_client_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
                reader = yl.spawn(s.read(10))
                await settle()
                await s.aclose()
                assert s.closed
                with pytest.raises(yl.ClosedResourceError):
                    await reader
        assert_clean()

    yl.run(main)


def test_an_sslobject_subclass_of_the_context_is_used(tls_server_ctx, tls_ca):
    calls = []

    class Counting(ssl.SSLObject):
        def read(self, *args):
            calls.append("read")
            return super().read(*args)

        def write(self, data):
            calls.append("write")
            return super().write(data)

    ctx = ssl.create_default_context()
    tls_ca.configure_trust(ctx)
    ctx.sslobject_class = Counting

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                async with await yl.open_connection("127.0.0.1", port, ssl=ctx) as s:
                    assert type(s.ssl_object) is Counting
                    await s.send_all(b"counted")
                    assert await s.readexactly(7) == b"counted"
        assert "read" in calls and "write" in calls
        assert_clean()

    yl.run(main)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"ssl": "yes"}, TypeError, "ssl should be an ssl.SSLContext or True"),
    ({"server_hostname": "localhost"}, ValueError, "server_hostname is only meaningful with ssl"),
    ({"ssl_handshake_timeout": 1}, ValueError, "ssl_handshake_timeout is only meaningful"),
    ({"ssl": True, "ssl_handshake_timeout": 0}, ValueError, "positive number, got 0"),
    ({"ssl": True, "ssl_shutdown_timeout": float("nan")}, ValueError, "positive number, got nan"),
])
def test_bad_tls_arguments_are_refused_before_connecting(kwargs, error, match):
    async def main():
        with pytest.raises(error, match=match):
            await yl.open_connection("127.0.0.1", 9, **kwargs)
        assert_clean()

    yl.run(main)


def test_a_unix_connection_with_ssl_needs_a_server_hostname(tmp_path, tls_client_ctx):
    async def main():
        with pytest.raises(ValueError, match="server_hostname"):
            await yl.open_unix_connection(tmp_path / "none.sock", ssl=tls_client_ctx)

    yl.run(main)


def test_a_server_needs_an_ssl_context(tls_server_ctx):
    async def main():
        with pytest.raises(TypeError, match="SSLContext"):
            await yl.start_server(echo, "127.0.0.1", 0, ssl=True)
        with pytest.raises(ValueError, match="positive"):
            await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx, ssl_handshake_timeout=-1)
        assert_clean()

    yl.run(main)
