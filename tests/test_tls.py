"""TLS on the native kernel: TLSStream over TCP and Unix sockets, start_tls(),
peers that are not ours (Python's blocking ssl, the openssl command), and
the failure paths: certificates that do not verify, peers that close or go
silent during the handshake, a closing exchange nobody answers,
cancellation. Each test ends with no fd, registration, timer or task left
(conftest.py checks the process's fds after every test too).

The certificates are real, made by trustme: a CA, and a certificate it
issued for localhost and 127.0.0.1.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading

import pytest

import epoll_state
import yieldloop as yl
from yieldloop import trace

trustme = pytest.importorskip("trustme")

LINUX = sys.platform.startswith("linux")
OPENSSL = shutil.which("openssl")
# Every wait on a peer is bounded: a bug is a failure, not a hung suite.
LIMIT = 20


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def server_ctx(ca):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def client_ctx(ca):
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def assert_clean(*, tasks=1):
    """Nothing left in the running kernel: fds, timers, tasks, and (Linux)
    no registration in its epoll set but the kernel's own wake-up pipe."""
    stats = yl.stats()
    assert (stats["fds"], stats["timers"], stats["tasks"]) == (0, 0, tasks), stats
    if LINUX:
        epfd = yl.current_kernel().poller.fileno()
        left = [fd for _, fd, _ in epoll_state.registrations(epfd)]
        assert [os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:") for fd in left] == [True]


async def settle(n=10):
    for _ in range(n):
        await yl.sleep(0)


async def echo(stream):
    """Echo everything until the peer closes."""
    while True:
        data = await stream.read(65536)
        if not data:
            return
        await stream.send_all(data)


def listener():
    sock = socket.create_server(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


# --- happy paths


def test_tls_echo_over_tcp_between_a_server_and_a_client(server_ctx, client_ctx):
    seen = []

    async def handler(stream):
        seen.append((type(stream), stream.get_extra_info("ssl_object").server_side))
        await echo(stream)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                async with await yl.open_connection("127.0.0.1", port, ssl=client_ctx) as s:
                    assert isinstance(s, yl.TLSStream)
                    assert s.get_extra_info("ssl_object").version().startswith("TLS")
                    assert s.get_extra_info("cipher")[0]
                    assert s.get_extra_info("sslcontext") is client_ctx
                    assert s.get_extra_info("peername")[1] == port
                    assert s.get_extra_info("peercert")["subjectAltName"] == (
                        ("DNS", "localhost"), ("IP Address", "127.0.0.1"))
                    s.write(b"line one\nline two\n")
                    await s.drain()
                    assert await s.readline() == b"line one\n"
                    assert await s.readuntil(b"two\n") == b"line two\n"
                    # Larger than many records and than the write buffer's marks.
                    big = os.urandom(256 * 1024)
                    await s.send_all(big)
                    assert await s.readexactly(len(big)) == big
                    s.writelines([b"a", b"b", b"c"])
                    assert await s.readexactly(3) == b"abc"
        assert seen == [(yl.TLSStream, True)]
        assert_clean()

    yl.run(main)


def test_a_handler_written_for_streams_runs_unchanged_over_tls(server_ctx, client_ctx):
    async def handler(stream):          # the echo of the streams how-to
        async for line in stream:
            await stream.send_all(line.upper())

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
                for word in (b"hello\n", b"world\n"):
                    await s.send_all(word)
                    assert await s.readline() == word.upper()
                await s.aclose()
                assert s.closed
        assert_clean()

    yl.run(main)


def test_tls_over_unix_sockets(tmp_path, server_ctx, client_ctx):
    path = str(tmp_path / "tls.sock")

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_unix_server(echo, path, ssl=server_ctx):
                async with await yl.open_unix_connection(
                        path, ssl=client_ctx, server_hostname="localhost") as s:
                    await s.send_all(b"over a unix socket")
                    assert await s.readexactly(18) == b"over a unix socket"
        assert_clean()

    yl.run(main)


def test_ssl_true_verifies_against_the_system_cas(server_ctx):
    # A default context does not know trustme's CA: verification is on.
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
                    await yl.open_connection("127.0.0.1", port, ssl=True)
        assert_clean()

    yl.run(main)


def test_a_generator_uses_tls_with_yield_from_and_bare_yield(server_ctx, client_ctx):
    def client(port):
        s = yield from yl.open_connection("localhost", port, ssl=client_ctx)
        s.write(b"from a generator\n")
        yield from s.drain()
        line = yield from s.readline()
        s.write(b"again")
        got = yield s.readexactly(5)            # the kernel resolves it
        yield from s.aclose()
        return line, got

    def handler(stream):                        # a generator handler
        while True:
            data = yield from stream.read(100)
            if not data:
                return
            yield from stream.send_all(data)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                result = await yl.spawn(client(port))
        assert result == (b"from a generator\n", b"again")
        assert_clean()

    yl.run(main)


def test_start_tls_upgrades_an_open_stream_on_both_sides(server_ctx, client_ctx):
    async def handler(stream):
        assert await stream.readline() == b"STARTTLS\n"
        await stream.send_all(b"go ahead\n")
        tls = await stream.start_tls(server_ctx, server_side=True)
        await echo(tls)
        await tls.aclose()

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                plain = await yl.open_connection("127.0.0.1", port)
                await plain.send_all(b"STARTTLS\n")
                assert await plain.readline() == b"go ahead\n"
                tls = await plain.start_tls(client_ctx, server_hostname="localhost")
                assert tls.get_extra_info("ssl_object").server_hostname == "localhost"
                await tls.send_all(b"secret")
                assert await tls.readexactly(6) == b"secret"
                # The plain stream is the TLS stream's now.
                with pytest.raises(yl.ClosedResourceError, match="start_tls"):
                    await plain.read(1)
                with pytest.raises(yl.ClosedResourceError, match="start_tls"):
                    plain.write(b"x")
                await tls.aclose()
                assert plain.closed
        assert_clean()

    yl.run(main)


def test_start_tls_takes_the_handshake_bytes_the_stream_already_received(server_ctx, client_ctx):
    # The client sends its line and its ClientHello back to back; the server
    # reads both in one recv, so the ClientHello sits in the plain stream's
    # buffer when start_tls() takes over.
    a, b = socket.socketpair()

    def client():
        with a:
            a.sendall(b"STARTTLS\n")
            with client_ctx.wrap_socket(a, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                return tls.recv(4)

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(client))
            b.setblocking(False)
            while True:
                try:
                    if len(b.recv(4096, socket.MSG_PEEK)) > len(b"STARTTLS\n"):
                        break
                except BlockingIOError:
                    pass
                await yl.sleep(0.005)
            stream = yl.Stream(b)
            assert await stream.readline() == b"STARTTLS\n"
            tls = await stream.start_tls(server_ctx, server_side=True)
            assert await tls.readexactly(4) == b"ping"
            await tls.send_all(b"pong")
            assert await peer == b"pong"
            await tls.aclose()
        assert_clean()

    yl.run(main)


# --- peers that are not ours


def test_tls_server_against_pythons_blocking_ssl_client(server_ctx, client_ctx):
    def client(port):
        with socket.create_connection(("127.0.0.1", port), timeout=LIMIT) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"x" * 100_000)
                got = b""
                while len(got) < 100_000:
                    got += tls.recv(65536)
                return got == b"x" * 100_000, tls.version()

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                ok, version = await yl.to_thread(client, port)
                assert ok and version.startswith("TLS")
        assert_clean()

    yl.run(main)


def test_tls_client_against_pythons_blocking_ssl_server(server_ctx, client_ctx):
    lsock, port = listener()

    def server():
        conn, _ = lsock.accept()
        conn.settimeout(LIMIT)
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            line = b""
            while not line.endswith(b"\n"):
                line += tls.recv(100)
            tls.sendall(line[::-1])
            tls.unwrap().close()                # close_notify, then the socket

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(server))
            s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
            await s.send_all(b"abc\n")
            assert await s.read() == b"\ncba"   # read() to the end: close_notify ends it
            assert s.at_eof()
            await s.aclose()
            await peer
        assert_clean()

    with lsock:
        yl.run(main)


def test_a_peer_closing_the_socket_without_close_notify_ends_the_stream(server_ctx, client_ctx):
    lsock, port = listener()

    def server():
        conn, _ = lsock.accept()
        conn.settimeout(LIMIT)
        tls = server_ctx.wrap_socket(conn, server_side=True)
        tls.sendall(b"last words")
        tls.close()                             # no close_notify: a ragged end

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(server))
            s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
            assert await s.read() == b"last words"
            assert await s.read(10) == b""
            await s.aclose()
            await peer
        assert_clean()

    with lsock:
        yl.run(main)


@pytest.fixture
def cert_files(tmp_path, ca):
    cert = ca.issue_cert("localhost", "127.0.0.1")
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    return {k: str(v) for k, v in paths.items()}


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
def test_tls_client_against_openssl_s_server(cert_files, client_ctx):
    # s_server -rev sends each line back reversed; -naccept 1 exits after
    # one connection. It prints ACCEPT once it listens.
    lsock, port = listener()
    lsock.close()                               # a free port for s_server
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", cert_files["cert"],
         "-key", cert_files["key"], "-rev", "-naccept", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    async def main():
        async with yl.timeout(LIMIT):
            while not (await yl.to_thread(proc.stdout.readline)).startswith(b"ACCEPT"):
                pass                            # "Using default temp DH parameters", ...
            s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
            await s.send_all(b"yieldloop\n")
            line = await s.readline()
            while not line.strip():             # s_server -rev may greet first
                line = await s.readline()
            assert line.strip() == b"pooldleiy"
            await s.aclose()
        assert_clean()

    try:
        yl.run(main)
        assert proc.wait(timeout=LIMIT) == 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
def test_tls_server_against_openssl_s_client(cert_files, server_ctx):
    async def handler(stream):
        line = await stream.readline()
        await stream.send_all(b"yieldloop says " + line.upper())

    def client(port):
        return subprocess.run(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
             "-CAfile", cert_files["ca"], "-verify_return_error", "-quiet"],
            input=b"hello openssl\n", capture_output=True, timeout=LIMIT)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                done = await yl.to_thread(client, port)
        assert done.returncode == 0, done.stderr
        assert b"yieldloop says HELLO OPENSSL\n" in done.stdout
        assert_clean()

    yl.run(main)


# --- failure paths


def test_a_certificate_from_an_unknown_ca_fails_verification_on_both_ends(server_ctx):
    called = []

    async def handler(stream):
        called.append(stream)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
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


def test_a_wrong_host_name_fails_verification(server_ctx, client_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch") as info:
                    await yl.open_connection("127.0.0.1", port, ssl=client_ctx,
                                             server_hostname="example.org")
                assert "example.org" in info.value.verify_message
        assert_clean()

    yl.run(main)


def recv_record(conn):
    """One whole TLS record (the ClientHello) from a blocking socket."""
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("how", ["closed", "reset"])
def test_a_server_leaving_during_the_handshake_is_a_connection_reset(client_ctx, how):
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
                await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
            await peer
        assert_clean()

    with lsock:
        yl.run(main)


def test_a_client_closing_during_the_handshake_never_reaches_the_handler(server_ctx):
    called = []

    async def handler(stream):
        called.append(stream)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                raw = await yl.open_connection("127.0.0.1", port)
                await raw.send_all(b"\x16\x03\x01\x02\x00\x01")   # a ClientHello's start
                await raw.aclose()
                await settle(50)
        assert called == []
        assert_clean()

    yl.run(main)


def test_a_server_that_never_answers_times_the_handshake_out(client_ctx):
    lsock, port = listener()                    # accepts (backlog), never speaks

    async def main():
        async with yl.timeout(LIMIT):
            with pytest.raises(TimeoutError, match="TLS handshake took longer than 0.1 seconds"):
                await yl.open_connection("127.0.0.1", port, ssl=client_ctx,
                                         ssl_handshake_timeout=0.1)
        assert_clean()

    with lsock:
        yl.run(main)


def test_a_client_that_never_speaks_is_dropped_after_the_handshake_timeout(server_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx,
                                             ssl_handshake_timeout=0.1) as server:
                port = server.sockets[0].getsockname()[1]
                raw = await yl.open_connection("127.0.0.1", port)
                assert await raw.read(1) == b""     # the server closed it
                await raw.aclose()
                await settle()
        assert_clean()

    yl.run(main)


def test_closing_the_server_during_a_handshake_ends_that_connection(server_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            server = await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
            port = server.sockets[0].getsockname()[1]
            raw = await yl.open_connection("127.0.0.1", port)   # never says a word
            await settle()
            assert yl.stats()["tasks"] == 3     # main, the acceptor, the handshake
            await server.aclose()
            assert await raw.read(1) == b""     # the server closed it
            await raw.aclose()
        assert_clean()

    yl.run(main)


def test_aclose_gives_up_on_a_peer_that_never_answers_close_notify(server_ctx, client_ctx):
    lsock, port = listener()
    release = threading.Event()

    def server():
        conn, _ = lsock.accept()
        conn.settimeout(LIMIT)
        with server_ctx.wrap_socket(conn, server_side=True):
            release.wait(LIMIT)                 # reads nothing, answers nothing

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(server))
            s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx,
                                         ssl_shutdown_timeout=0.1)
            await s.aclose()                    # returns: no error, socket closed
            assert s.closed and s.socket.fileno() == -1
            release.set()
            await peer
        assert_clean()

    with lsock:
        yl.run(main)


def test_cancelling_the_handshake_closes_the_socket(client_ctx):
    lsock, port = listener()

    async def main():
        async with yl.timeout(LIMIT):
            task = yl.spawn(yl.open_connection("127.0.0.1", port, ssl=client_ctx))
            await settle()
            assert yl.stats()["fds"] == 1       # parked on its socket
            task.cancel()
            with pytest.raises(yl.CancelledError):
                await task
        assert_clean()

    with lsock:
        yl.run(main)


def test_closing_a_tls_stream_wakes_its_reader(server_ctx, client_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
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


def test_aclose_while_another_task_reads_closes_and_wakes_the_reader(server_ctx, client_ctx):
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
                reader = yl.spawn(s.read(10))
                await settle()
                await s.aclose()
                assert s.closed
                with pytest.raises(yl.ClosedResourceError):
                    await reader
        assert_clean()

    yl.run(main)


def test_an_sslobject_subclass_of_the_context_is_used(server_ctx, ca):
    calls = []

    class Counting(ssl.SSLObject):
        def read(self, *args):
            calls.append("read")
            return super().read(*args)

        def write(self, data):
            calls.append("write")
            return super().write(data)

    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ctx.sslobject_class = Counting

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
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


def test_a_unix_connection_with_ssl_needs_a_server_hostname(tmp_path, client_ctx):
    async def main():
        with pytest.raises(ValueError, match="server_hostname"):
            await yl.open_unix_connection(tmp_path / "none.sock", ssl=client_ctx)

    yl.run(main)


def test_a_server_needs_an_ssl_context(server_ctx):
    async def main():
        with pytest.raises(TypeError, match="SSLContext"):
            await yl.start_server(echo, "127.0.0.1", 0, ssl=True)
        with pytest.raises(ValueError, match="positive"):
            await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx, ssl_handshake_timeout=-1)
        assert_clean()

    yl.run(main)


# --- visibility


def test_a_task_waiting_on_tls_shows_as_waiting_on_its_socket(server_ctx, client_ctx):
    fds = []

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
                fds.append(s.socket.fileno())
                reader = yl.spawn(s.readexactly(5), name="tls-reader")
                await settle()
                await s.send_all(b"hello")
                assert await reader == b"hello"
                await s.aclose()

    tracer = yl.Tracer()
    yl.run(main, trace=tracer)
    lines = trace.text(tracer, times=False).splitlines()
    # As a Stream's reader shows: parked on the socket's fd, woken by the poller.
    assert f"tls-reader  waits until fd {fds[0]} is readable" in lines, "\n".join(lines)
    assert f"tls-reader  woken: fd {fds[0]} is ready" in lines
