"""yieldloop.Loop's error paths end as on asyncio's own loop.

Each test runs one program in child processes (a crash must fail the test,
not the run), on asyncio's loop and on yieldloop.Loop, and checks both
printed the same and what asyncio promises: the exception handler's call,
connection_lost()'s argument, no fd or fd callback left behind.
"""

import pytest

from loop_child import make_certificate, same_on_both

# A server that sends b"hello" to each client, then waits for its EOF.
SERVER = '''
async def serve():
    async def greet(reader, writer):
        writer.write(b"hello")
        try:
            await reader.read()
        except ConnectionResetError:     # the client closed with data unread
            pass
        writer.close()
    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]

class Client(asyncio.Protocol):
    def __init__(self):
        self.lost = asyncio.get_running_loop().create_future()
    def connection_lost(self, exc):
        out("connection_lost", type(exc).__name__)
        self.lost.set_result(None)
'''


def client_program(protocol_body, base="Client"):
    return SERVER + f'''
class Failing({base}):
{protocol_body}

async def main():
    server, port = await serve()
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(Failing, "127.0.0.1", port)
    lost = protocol.lost
    del transport, protocol      # only the loop holds the connection now
    await lost
    server.close()
    await server.wait_closed()
    return "ok"
'''


def ends_with_clean_loop(lines):
    assert lines[-3:] == ["exit ok", "fds 0", "waiters 0"], lines


def test_raising_data_received_is_reported_and_closes_the_connection():
    lines = same_on_both(client_program('''
    def data_received(self, data):
        raise ZeroDivisionError("bug in data_received")
'''))
    assert lines[0] == ("handler Fatal error: protocol.data_received() call failed. "
                        "ZeroDivisionError ['exception', 'message', 'protocol', 'transport']")
    assert lines[1] == "connection_lost ZeroDivisionError"
    ends_with_clean_loop(lines)


BUFFERED = '''
class BufferedClient(asyncio.BufferedProtocol):
    def __init__(self):
        self.lost = asyncio.get_running_loop().create_future()
        self.buf = bytearray(64)
    def get_buffer(self, hint):
        return self.buf
    def buffer_updated(self, n):
        pass
    def connection_lost(self, exc):
        out("connection_lost", type(exc).__name__)
        self.lost.set_result(None)
'''


@pytest.mark.parametrize("method", ["get_buffer", "buffer_updated"])
def test_raising_buffered_protocol_method_is_reported_and_closes(method):
    args = "self, hint" if method == "get_buffer" else "self, n"
    lines = same_on_both(BUFFERED + client_program(f'''
    def {method}({args}):
        raise ZeroDivisionError("bug in {method}")
''', base="BufferedClient"))
    assert lines[0] == (f"handler Fatal error: protocol.{method}() call failed. "
                        "ZeroDivisionError ['exception', 'message', 'protocol', 'transport']")
    assert lines[1] == "connection_lost ZeroDivisionError"
    ends_with_clean_loop(lines)


def test_get_buffer_returning_an_empty_buffer_is_reported_and_closes():
    lines = same_on_both(BUFFERED + client_program('''
    def get_buffer(self, hint):
        return bytearray()
''', base="BufferedClient"))
    assert lines[0].startswith("handler Fatal error: protocol.get_buffer() call failed. "
                               "RuntimeError")
    assert lines[1] == "connection_lost RuntimeError"
    ends_with_clean_loop(lines)


def test_raising_eof_received_is_reported_and_closes():
    lines = same_on_both(client_program('''
    def connection_made(self, transport):
        transport.write_eof()        # the server's read() returns: it closes
    def eof_received(self):
        raise ZeroDivisionError("bug in eof_received")
'''))
    assert lines[0] == ("handler Fatal error: protocol.eof_received() call failed. "
                        "ZeroDivisionError ['exception', 'message', 'protocol', 'transport']")
    assert lines[1] == "connection_lost ZeroDivisionError"
    ends_with_clean_loop(lines)


# --- fd callbacks


def test_remove_reader_and_writer_find_a_closed_socket_by_the_object():
    # anyio closes a socket, then removes its callbacks with the object.
    lines = same_on_both('''
def attempt(what, call, *args):
    try:
        out(what, call(*args))
    except Exception as exc:
        out(what, type(exc).__name__, exc)

async def main():
    loop = asyncio.get_running_loop()
    for side in ("reader", "writer"):
        add = getattr(loop, "add_" + side)
        remove = getattr(loop, "remove_" + side)
        other = loop.remove_writer if side == "reader" else loop.remove_reader
        a, b = socket.socketpair()
        add(a, out, "never")
        a.close()
        attempt("other side", other, a)
        attempt("remove", remove, a)
        attempt("remove again", remove, a)
        b.close()
    c, d = socket.socketpair()
    c.close()
    attempt("never added", loop.remove_reader, c)
    d.close()
    await asyncio.sleep(0)
    return "ok"
''')
    assert lines[:7] == [
        "other side False", "remove True",
        "remove again ValueError Invalid file descriptor: -1",
        "other side False", "remove True",
        "remove again ValueError Invalid file descriptor: -1",
        "never added ValueError Invalid file descriptor: -1"]
    ends_with_clean_loop(lines)


def test_selector_map_lists_the_fds_with_callbacks():
    # asyncio's code and libraries iterate loop._selector.get_map().
    lines = same_on_both('''
async def main():
    loop = asyncio.get_running_loop()
    m = loop._selector.get_map()
    before = set(m)       # asyncio's loop lists its self-pipe; ours has none of its own
    out("internal fds only", len(m) == len(before))
    a, b = socket.socketpair()
    loop.add_reader(a, out, "never")
    loop.add_writer(a, out, "never")
    loop.add_writer(b.fileno(), out, "never")
    out("listed", sorted(set(m) - before) == sorted([a.fileno(), b.fileno()]), len(m) - len(before))
    ka, kb = m[a], m[b.fileno()]
    out("key of a", ka.fileobj is a, ka.fd == a.fileno(), ka.events, m[a.fileno()] == ka)
    out("key of b", ka is not kb, kb.fileobj == b.fileno(), kb.events)
    out("data", [type(h).__name__ for h in ka.data], kb.data[0])
    out("contains", a in m, b in m, 10**6 in m)
    loop.remove_reader(a)
    out("writer left", m[a].events, len(m) - len(before))
    loop.remove_writer(a)
    loop.remove_writer(b.fileno())
    out("after", set(m) == before, len(m) - len(before))
    a.close()
    b.close()
    return "ok"
''')
    assert lines[:8] == [
        "internal fds only True", "listed True 2", "key of a True True 3 True",
        "key of b True True 2", "data ['Handle', 'Handle'] None",
        "contains True True False", "writer left 2 2", "after True 0"]
    ends_with_clean_loop(lines)


# --- TLS: asyncio's SSL protocol over yieldloop's transport


@pytest.fixture(scope="module")
def tls_env(tmp_path_factory):
    import os

    return dict(os.environ, **make_certificate(str(tmp_path_factory.mktemp("tls"))))


TLS_SERVER = '''
import ssl

def contexts():
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(os.environ["YL_CERT"], os.environ["YL_KEY"])
    return server, ssl.create_default_context(cafile=os.environ["YL_CERT"])

async def serve_tls(server_ctx):
    async def greet(reader, writer):
        writer.write(b"hello")
        try:
            await reader.read()
        except OSError as exc:
            out("server read", type(exc).__name__)
        writer.close()
    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_ctx)
    return server, server.sockets[0].getsockname()[1]

class Failing(asyncio.Protocol):
    def __init__(self):
        self.lost = asyncio.get_running_loop().create_future()
    def data_received(self, data):
        raise ZeroDivisionError("bug in data_received")
    def connection_lost(self, exc):
        out("connection_lost", type(exc).__name__)
        self.lost.set_result(None)
'''


@pytest.mark.parametrize("how", ["create_connection", "start_tls"])
def test_raising_protocol_over_tls_is_reported_and_closes(tls_env, how):
    # asyncio's SSL protocol reports it and calls transport._force_close().
    connect = {
        "create_connection": '''
    _, protocol = await loop.create_connection(
        Failing, "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")''',
        "start_tls": '''
    transport, protocol = await loop.create_connection(Failing, "127.0.0.1", port)
    await loop.start_tls(transport, protocol, client_ctx, server_hostname="localhost")''',
    }[how]
    lines = same_on_both(TLS_SERVER + f'''
async def main():
    loop = asyncio.get_running_loop()
    server_ctx, client_ctx = contexts()
    server, port = await serve_tls(server_ctx)
{connect}
    await protocol.lost
    server.close()
    await server.wait_closed()
    return "ok"
''', env=tls_env)
    # (3.10's TLS layer words it "application protocol failed to receive SSL data".)
    assert lines[0].endswith(" ZeroDivisionError ['exception', 'message', 'protocol', "
                             "'transport']"), lines
    assert "connection_lost ZeroDivisionError" in lines
    ends_with_clean_loop(lines)
