"""TLS echo over loopback with each runtime's stream API.

The echo of echo_streams with TLS on both ends: yieldloop's TLSStream
(``ssl=`` on start_server / open_connection), asyncio's streams with
``ssl=`` on asyncio's loop, on uvloop's and on yieldloop.Loop. Every
client verifies the server's certificate (a self-signed P-256 certificate
for 127.0.0.1, its own CA); the handshakes happen before the clock starts.

The certificate is made once per worker process, before any measurement:
with the ``openssl`` command when it is on PATH, else with ``trustme``
when installed (neither is a dependency of yieldloop); ``CERT_TOOL`` says
which one this run used.
"""

import os
import shutil
import subprocess
import tempfile
import time

TITLE = "TLS echo"
UNIT = "req/s"
LOWER_IS_BETTER = False
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop")

CASES = {
    "1 client x 1 KiB": {
        "quick": {"clients": 1, "size": 1024, "requests": 2000},
        "full": {"clients": 1, "size": 1024, "requests": 10000},
    },
    "50 clients x 1 KiB": {
        "quick": {"clients": 50, "size": 1024, "requests": 200},
        "full": {"clients": 50, "size": 1024, "requests": 1000},
    },
}


def ops(clients, size, requests):
    return clients * requests


CERT_TOOL = "openssl" if shutil.which("openssl") else "trustme"
_contexts = None


def _make_cert(directory):
    """(certificate file, key file) for 127.0.0.1, self-signed."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    if CERT_TOOL == "openssl":
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True)
        return cert, cert, key
    try:
        import trustme
    except ImportError:
        raise RuntimeError("the TLS echo benchmark makes its certificate with the openssl "
                           "command or with trustme: install either") from None
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    issued.private_key_and_cert_chain_pem.write_to_path(cert)
    return os.path.join(directory, "ca.pem"), cert, cert


def contexts():
    """(server SSLContext, client SSLContext), made once per process."""
    global _contexts
    if _contexts is None:
        import ssl

        with tempfile.TemporaryDirectory() as d:
            ca, cert, key = _make_cert(d)
            server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server.load_cert_chain(cert, key)
            client = ssl.create_default_context(cafile=ca)
        _contexts = server, client
    return _contexts


def yieldloop(clients, size, requests):
    import yieldloop as yl

    server_ctx, client_ctx = contexts()
    msg = b"x" * size

    async def handler(stream):
        while True:
            data = await stream.read(65536)
            if not data:
                return
            stream.write(data)
            await stream.drain()

    async def client(stream):
        for _ in range(requests):
            stream.write(msg)
            await stream.drain()
            await stream.readexactly(size)

    async def main():
        async with await yl.start_server(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
            port = server.sockets[0].getsockname()[1]
            streams = [await yl.open_connection("127.0.0.1", port, ssl=client_ctx)
                       for _ in range(clients)]
            t0 = time.perf_counter()
            await yl.gather(*[client(s) for s in streams])
            elapsed = time.perf_counter() - t0
            for s in streams:
                await s.aclose()
        return elapsed

    return yl.run(main)


def _asyncio(runtime, clients, size, requests):
    import asyncio

    from .runtimes import run_asyncio

    server_ctx, client_ctx = contexts()
    msg = b"x" * size

    async def handler(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    async def client(reader, writer):
        for _ in range(requests):
            writer.write(msg)
            await writer.drain()
            await reader.readexactly(size)

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        pairs = [await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
                 for _ in range(clients)]
        t0 = time.perf_counter()
        await asyncio.gather(*[client(r, w) for r, w in pairs])
        elapsed = time.perf_counter() - t0
        for _, w in pairs:
            w.close()
            await w.wait_closed()
        server.close()
        await server.wait_closed()
        return elapsed

    return run_asyncio(runtime, main)


def asyncio(clients, size, requests):
    return _asyncio("asyncio", clients, size, requests)


def uvloop(clients, size, requests):
    return _asyncio("uvloop", clients, size, requests)


def yieldloop_loop(clients, size, requests):
    return _asyncio("yieldloop-loop", clients, size, requests)
