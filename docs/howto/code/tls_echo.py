"""A TLS line-echo server and a client over loopback, with a self-signed certificate."""

import os
import ssl
import subprocess
import tempfile

import yieldloop as yl


def self_signed_certificate(directory):
    """A certificate and its key for 127.0.0.1, made with the openssl command."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


async def handle(stream):
    # The same handler as for plain streams: the server ran the handshake.
    async for line in stream:
        await stream.send_all(line.upper())


async def main(server_ctx, client_ctx):
    async with await yl.start_server(handle, "127.0.0.1", 0, ssl=server_ctx) as server:
        port = server.sockets[0].getsockname()[1]
        async with await yl.open_connection("127.0.0.1", port, ssl=client_ctx) as conn:
            print(conn.get_extra_info("ssl_object").version(), conn.get_extra_info("cipher")[0])
            await conn.send_all(b"hello over tls\n")
            async with yl.timeout(5):
                print((await conn.readline()).decode().strip())


with tempfile.TemporaryDirectory() as tmp:
    cert, key = self_signed_certificate(tmp)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=cert)  # verifies against this certificate
    yl.run(main, server_ctx, client_ctx)
