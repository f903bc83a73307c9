"""TLS on the native kernel, what works: TLSStream over TCP and Unix
sockets, from async def and from generators, start_tls(), and peers that
are not ours (Python's blocking ssl, the openssl command). Each test ends
with no fd, registration, timer or task left (tls_support.assert_clean;
conftest.py checks the process's fds after every test too).
"""

import os
import shutil
import socket
import ssl
import subprocess

import pytest

import yieldloop as yl
from tls_support import LIMIT, assert_clean, echo, listener, settle
from yieldloop import trace

OPENSSL = shutil.which("openssl")


# --- happy paths


def test_tls_echo_over_tcp_between_a_server_and_a_client(tls_server_ctx, tls_client_ctx):
    seen = []

    async def handler(stream):
        seen.append((type(stream), stream.get_extra_info("ssl_object").server_side))
        await echo(stream)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                async with await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx) as s:
                    assert isinstance(s, yl.TLSStream)
                    assert s.get_extra_info("ssl_object").version().startswith("TLS")
                    assert s.get_extra_info("cipher")[0]
                    assert s.get_extra_info("sslcontext") is tls_client_ctx
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


def test_a_handler_written_for_streams_runs_unchanged_over_tls(tls_server_ctx, tls_client_ctx):
    async def handler(stream):          # the echo of the streams how-to
        async for line in stream:
            await stream.send_all(line.upper())

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
                for word in (b"hello\n", b"world\n"):
                    await s.send_all(word)
                    assert await s.readline() == word.upper()
                await s.aclose()
                assert s.closed
        assert_clean()

    yl.run(main)


def test_tls_over_unix_sockets(tmp_path, tls_server_ctx, tls_client_ctx):
    path = str(tmp_path / "tls.sock")

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_unix_server(echo, path, ssl=tls_server_ctx):
                async with await yl.open_unix_connection(
                        path, ssl=tls_client_ctx, server_hostname="localhost") as s:
                    await s.send_all(b"over a unix socket")
                    assert await s.readexactly(18) == b"over a unix socket"
        assert_clean()

    yl.run(main)


def test_ssl_true_verifies_against_the_system_cas(tls_server_ctx):
    # A default context does not know trustme's CA: verification is on.
    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
                    await yl.open_connection("127.0.0.1", port, ssl=True)
        assert_clean()

    yl.run(main)


def test_a_generator_uses_tls_with_yield_from_and_bare_yield(tls_server_ctx, tls_client_ctx):
    def client(port):
        s = yield from yl.open_connection("localhost", port, ssl=tls_client_ctx)
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
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                result = await yl.spawn(client(port))
        assert result == (b"from a generator\n", b"again")
        assert_clean()

    yl.run(main)


def test_start_tls_upgrades_an_open_stream_on_both_sides(tls_server_ctx, tls_client_ctx):
    async def handler(stream):
        assert await stream.readline() == b"STARTTLS\n"
        await stream.send_all(b"go ahead\n")
        tls = await stream.start_tls(tls_server_ctx, server_side=True)
        await echo(tls)
        await tls.aclose()

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                plain = await yl.open_connection("127.0.0.1", port)
                await plain.send_all(b"STARTTLS\n")
                assert await plain.readline() == b"go ahead\n"
                tls = await plain.start_tls(tls_client_ctx, server_hostname="localhost")
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


def test_start_tls_takes_the_handshake_bytes_the_stream_already_received(tls_server_ctx, tls_client_ctx):
    # The client sends its line and its ClientHello back to back; the server
    # reads both in one recv, so the ClientHello sits in the plain stream's
    # buffer when start_tls() takes over.
    a, b = socket.socketpair()

    def client():
        with a:
            a.sendall(b"STARTTLS\n")
            with tls_client_ctx.wrap_socket(a, server_hostname="localhost") as tls:
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
            tls = await stream.start_tls(tls_server_ctx, server_side=True)
            assert await tls.readexactly(4) == b"ping"
            await tls.send_all(b"pong")
            assert await peer == b"pong"
            await tls.aclose()
        assert_clean()

    yl.run(main)


# --- peers that are not ours


def test_tls_server_against_pythons_blocking_ssl_client(tls_server_ctx, tls_client_ctx):
    def client(port):
        with socket.create_connection(("127.0.0.1", port), timeout=LIMIT) as raw:
            with tls_client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"x" * 100_000)
                got = b""
                while len(got) < 100_000:
                    got += tls.recv(65536)
                return got == b"x" * 100_000, tls.version()

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                ok, version = await yl.to_thread(client, port)
                assert ok and version.startswith("TLS")
        assert_clean()

    yl.run(main)


def test_tls_client_against_pythons_blocking_ssl_server(tls_server_ctx, tls_client_ctx):
    lsock, port = listener()

    def server():
        conn, _ = lsock.accept()
        conn.settimeout(LIMIT)
        with tls_server_ctx.wrap_socket(conn, server_side=True) as tls:
            line = b""
            while not line.endswith(b"\n"):
                line += tls.recv(100)
            tls.sendall(line[::-1])
            tls.unwrap().close()                # close_notify, then the socket

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(server))
            s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
            await s.send_all(b"abc\n")
            assert await s.read() == b"\ncba"   # read() to the end: close_notify ends it
            assert s.at_eof()
            await s.aclose()
            await peer
        assert_clean()

    with lsock:
        yl.run(main)


def test_a_peer_closing_the_socket_without_close_notify_ends_the_stream(tls_server_ctx, tls_client_ctx):
    lsock, port = listener()

    def server():
        conn, _ = lsock.accept()
        conn.settimeout(LIMIT)
        tls = tls_server_ctx.wrap_socket(conn, server_side=True)
        tls.sendall(b"last words")
        tls.close()                             # no close_notify: a ragged end

    async def main():
        async with yl.timeout(LIMIT):
            peer = yl.spawn(yl.to_thread(server))
            s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
            assert await s.read() == b"last words"
            assert await s.read(10) == b""
            await s.aclose()
            await peer
        assert_clean()

    with lsock:
        yl.run(main)

@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
def test_tls_client_against_openssl_s_server(tls_cert_files, tls_client_ctx):
    # s_server -rev sends each line back reversed; -naccept 1 exits after
    # one connection. It prints ACCEPT once it listens.
    lsock, port = listener()
    lsock.close()                               # a free port for s_server
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", tls_cert_files["cert"],
         "-key", tls_cert_files["key"], "-rev", "-naccept", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    async def main():
        async with yl.timeout(LIMIT):
            while not (await yl.to_thread(proc.stdout.readline)).startswith(b"ACCEPT"):
                pass                            # "Using default temp DH parameters", ...
            s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
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
def test_tls_server_against_openssl_s_client(tls_cert_files, tls_server_ctx):
    async def handler(stream):
        line = await stream.readline()
        await stream.send_all(b"yieldloop says " + line.upper())

    def client(port):
        return subprocess.run(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
             "-CAfile", tls_cert_files["ca"], "-verify_return_error", "-quiet"],
            input=b"hello openssl\n", capture_output=True, timeout=LIMIT)

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(handler, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                done = await yl.to_thread(client, port)
        assert done.returncode == 0, done.stderr
        assert b"yieldloop says HELLO OPENSSL\n" in done.stdout
        assert_clean()

    yl.run(main)

# --- visibility


def test_a_task_waiting_on_tls_shows_as_waiting_on_its_socket(tls_server_ctx, tls_client_ctx):
    fds = []

    async def main():
        async with yl.timeout(LIMIT):
            async with await yl.start_server(echo, "127.0.0.1", 0, ssl=tls_server_ctx) as server:
                port = server.sockets[0].getsockname()[1]
                s = await yl.open_connection("127.0.0.1", port, ssl=tls_client_ctx)
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
