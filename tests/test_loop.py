"""yieldloop.Loop, the asyncio event loop: the AbstractEventLoop surface.

Each test runs ordinary asyncio code on a yieldloop.Loop and checks what
asyncio promises.
"""

import asyncio
import contextvars
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

import yieldloop


@pytest.fixture
def loop():
    lp = yieldloop.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    if not lp.is_closed():
        lp.run_until_complete(lp.shutdown_asyncgens())
        lp.run_until_complete(lp.shutdown_default_executor())
        lp.close()
    asyncio.set_event_loop(None)


def run(coro):
    return yieldloop.run_asyncio(coro)


# --- creating and running loops


def test_new_event_loop_is_an_asyncio_event_loop():
    loop = yieldloop.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert isinstance(loop, yieldloop.Loop)
        assert "yieldloop.Loop" in repr(loop)
    finally:
        loop.close()


def test_run_asyncio_runs_a_coroutine_on_a_yieldloop_loop():
    async def main():
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert run(main()) is yieldloop.Loop


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is 3.12+")
def test_asyncio_run_with_loop_factory():
    async def main():
        return type(asyncio.get_running_loop())

    assert asyncio.run(main(), loop_factory=yieldloop.new_event_loop) is yieldloop.Loop


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner is 3.11+")
def test_asyncio_runner_with_loop_factory():
    async def main():
        return type(asyncio.get_running_loop())

    with asyncio.Runner(loop_factory=yieldloop.new_event_loop) as runner:
        assert runner.run(main()) is yieldloop.Loop


def test_install_sets_a_policy_that_makes_yieldloop_loops():
    old = asyncio.get_event_loop_policy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yieldloop.install()
            loop = asyncio.new_event_loop()
        try:
            assert isinstance(loop, yieldloop.Loop)
        finally:
            loop.close()
    finally:
        asyncio.set_event_loop_policy(old)


def test_run_forever_stop_is_running_and_close(loop):
    seen = []
    loop.call_soon(lambda: seen.append(loop.is_running()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [True] and not loop.is_running()
    loop.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon(print)
    loop.close()                      # twice is fine


def test_closing_a_running_loop_is_refused(loop):
    async def main():
        with pytest.raises(RuntimeError, match="running"):
            loop.close()

    loop.run_until_complete(main())


def test_run_until_complete_returns_the_result(loop):
    async def main():
        await asyncio.sleep(0.001)
        return 42

    assert loop.run_until_complete(main()) == 42


# --- callbacks and timers


def test_call_soon_runs_in_fifo_order_with_arguments(loop):
    out = []
    for i in range(5):
        loop.call_soon(out.append, i)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == [0, 1, 2, 3, 4]


def test_call_later_and_call_at_fire_in_deadline_order_and_cancel(loop):
    out = []
    start = loop.time()
    loop.call_later(0.03, out.append, "later")
    loop.call_at(start + 0.01, out.append, "at")
    h = loop.call_later(0.02, out.append, "cancelled")
    h.cancel()
    assert h.cancelled()
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert out == ["at", "later"]
    assert loop.time() - start >= 0.05
    assert loop._core_stats["timers"] == 0


def test_timer_handle_when_is_on_the_loop_clock(loop):
    h = loop.call_at(loop.time() + 10, print)
    assert abs(h.when() - (loop.time() + 10)) < 1
    h.cancel()


def test_time_is_monotonic_clock(loop):
    assert abs(loop.time() - time.monotonic()) < 0.1


def test_callbacks_run_in_the_context_they_were_scheduled_from(loop):
    var = contextvars.ContextVar("var", default="unset")
    seen = []

    def read():
        seen.append(var.get())

    var.set("caller")
    loop.call_soon(read)
    ctx = contextvars.copy_context()
    ctx.run(var.set, "explicit")
    loop.call_soon(read, context=ctx)
    var.set("changed later")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["caller", "explicit"]


def test_call_soon_threadsafe_wakes_the_loop(loop):
    out = []

    def from_thread():
        time.sleep(0.05)
        loop.call_soon_threadsafe(out.append, "from thread")
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=from_thread).start()
    loop.run_forever()
    assert out == ["from thread"]


def test_exception_in_callback_goes_to_the_exception_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    assert loop.get_exception_handler() is not None
    loop.call_soon(lambda: 1 / 0)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], ZeroDivisionError)
    assert "Exception in callback" in contexts[0]["message"]
    loop.set_exception_handler(None)


def test_default_exception_handler_logs(loop, caplog):
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_soon(lambda: 1 / 0)
        loop.call_soon(loop.stop)
        loop.run_forever()
    assert any("Exception in callback" in r.getMessage() for r in caplog.records)


def test_keyboard_interrupt_in_a_callback_propagates(loop):
    def interrupt():
        raise KeyboardInterrupt

    loop.call_soon(interrupt)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()


def test_debug_mode_warns_about_slow_callbacks(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    assert loop.get_debug()
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.call_soon(time.sleep, 0.02)
        loop.call_soon(loop.stop)
        loop.run_forever()
    assert any("took" in r.getMessage() for r in caplog.records)


def test_debug_mode_refuses_call_soon_from_another_thread(loop):
    loop.set_debug(True)
    errors = []

    async def main():
        def other():
            try:
                loop.call_soon(print)
            except RuntimeError as e:
                errors.append(e)

        t = threading.Thread(target=other)
        t.start()
        await loop.run_in_executor(None, t.join)

    loop.run_until_complete(main())
    assert errors and "thread" in str(errors[0])


def test_never_awaited_coroutine_is_reported_in_debug_mode(loop):
    async def forgotten():
        pass

    async def main():
        forgotten()

    loop.set_debug(True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        loop.run_until_complete(main())
        import gc

        gc.collect()
    assert any("was never awaited" in str(x.message) for x in w)


# --- tasks and futures: yieldloop's own, seen as asyncio's (more in test_loop_tasks.py)


def test_create_task_and_future_are_yieldloops_seen_as_asyncios(loop):
    async def main():
        fut = loop.create_future()
        loop.call_later(0.01, fut.set_result, "set")
        task = loop.create_task(asyncio.sleep(0.001, result="slept"), name="named")
        assert task.get_name() == "named"
        seen = (isinstance(fut, asyncio.Future), isinstance(task, asyncio.Task),
                type(fut) is asyncio.Future, type(task) is asyncio.Task)
        return await fut, await task, seen

    assert loop.run_until_complete(main()) == ("set", "slept", (True, True, False, False))


def test_create_task_honours_factory_context_debug_and_closing(loop):
    made = []

    def factory(lp, coro, **kwargs):
        made.append(kwargs)
        return asyncio.Task(coro, loop=lp, **kwargs)

    var = contextvars.ContextVar("var", default="outer")

    async def read_var():
        return var.get()

    async def main():
        plain = loop.create_task(read_var())
        ctx = contextvars.copy_context()
        ctx.run(var.set, "inner")
        if sys.version_info >= (3, 11):
            assert await loop.create_task(read_var(), context=ctx) == "inner"
        loop.set_debug(True)
        debug = loop.create_task(read_var(), name="dbg")
        loop.set_debug(False)
        loop.set_task_factory(factory)
        through = loop.create_task(read_var(), name="factory")
        loop.set_task_factory(None)
        return await plain, await debug, debug.get_name(), await through, through.get_name()

    assert loop.run_until_complete(main()) == ("outer", "outer", "dbg", "outer", "factory")
    # asyncio hands the factory the name as a keyword from 3.14 on; before,
    # it calls set_name() on what the factory returned.
    assert made == ([{"name": "factory"}] if sys.version_info >= (3, 14) else [{}])
    loop.close()
    coro = read_var()
    with pytest.raises(RuntimeError, match="closed"):
        loop.create_task(coro)
    coro.close()


def test_taskgroup_timeout_and_gather_work_on_the_loop():
    async def main():
        results = []
        if sys.version_info >= (3, 11):
            async with asyncio.TaskGroup() as tg:
                tg.create_task(asyncio.sleep(0.001))
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(10)
        results.append(await asyncio.gather(asyncio.sleep(0, 1), asyncio.sleep(0, 2)))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), 0.01)
        return results

    assert run(main()) == [[1, 2]]


# --- readers and writers


def test_add_reader_is_called_while_readable_until_removed(loop):
    a, b = socket.socketpair()
    a.setblocking(False)
    got = []

    def on_readable():
        got.append(a.recv(10))
        if len(got) == 2:
            assert loop.remove_reader(a.fileno())
            loop.stop()

    try:
        loop.add_reader(a.fileno(), on_readable)
        loop.call_later(0.01, b.send, b"one")
        loop.call_later(0.03, b.send, b"two")
        loop.run_forever()
        assert got == [b"one", b"two"]
        assert not loop.remove_reader(a.fileno())
        assert loop._core_stats["fds"] == 0   # the self-pipe is the core's wake-up pipe: no waiter
    finally:
        a.close()
        b.close()


def test_add_writer_and_replacing_a_reader(loop):
    a, b = socket.socketpair()
    calls = []
    try:
        loop.add_reader(a, calls.append, "first reader")
        loop.add_reader(a, calls.append, "second reader")   # replaces the first
        b.send(b"x")

        def writable():
            calls.append("writable")
            loop.remove_writer(a)
            loop.call_soon(loop.stop)

        loop.add_writer(a, writable)
        loop.run_forever()
        loop.remove_reader(a)
        assert "first reader" not in calls and "second reader" in calls
        assert "writable" in calls
    finally:
        a.close()
        b.close()


def test_add_reader_rejects_invalid_fds(loop):
    with pytest.raises(ValueError):
        loop.add_reader(-1, print)
    with pytest.raises(ValueError):
        loop.add_reader("not a file", print)


# --- sockets, connections, servers


def test_sock_methods(loop):
    async def main():
        lsock = socket.create_server(("127.0.0.1", 0))
        lsock.setblocking(False)
        client = socket.socket()
        client.setblocking(False)
        with lsock, client:
            accept = loop.create_task(loop.sock_accept(lsock))
            await loop.sock_connect(client, lsock.getsockname())
            conn, _ = await accept
            with conn:
                await loop.sock_sendall(client, b"ping")
                data = await loop.sock_recv(conn, 10)
                buf = bytearray(4)
                await loop.sock_sendall(conn, b"pong")
                n = await loop.sock_recv_into(client, buf)
                return data, bytes(buf[:n])

    assert loop.run_until_complete(main()) == (b"ping", b"pong")


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def test_create_server_and_connection_with_protocols(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        got = loop.create_future()

        class Client(asyncio.Protocol):
            def connection_made(self, transport):
                transport.writelines([b"hel", b"lo"])

            def data_received(self, data):
                if not got.done():
                    got.set_result(data)

        transport, _ = await loop.create_connection(Client, "127.0.0.1", port)
        data = await asyncio.wait_for(got, 5)
        assert transport.get_extra_info("peername")[1] == port
        assert transport.get_write_buffer_size() == 0
        transport.close()
        server.close()
        await server.wait_closed()
        return data

    assert loop.run_until_complete(main()) == b"hello"


def test_flow_control_pauses_the_protocol_writing(loop):
    async def main():
        stalled = []

        class Stalled(asyncio.Protocol):
            def connection_made(self, transport):
                stalled.append(transport)          # (a transport nobody holds is collected)
                transport.pause_reading()          # the peer stops reading

        server = await loop.create_server(Stalled, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        paused = loop.create_future()

        class Writer(asyncio.Protocol):
            def pause_writing(self):
                if not paused.done():
                    paused.set_result(True)

        transport, _ = await loop.create_connection(Writer, "127.0.0.1", port)
        transport.set_write_buffer_limits(high=64 * 1024)
        assert transport.get_write_buffer_limits()[1] == 64 * 1024
        for _ in range(200):
            transport.write(b"x" * 65536)
            if paused.done():
                break
            await asyncio.sleep(0)
        assert await asyncio.wait_for(paused, 5)
        transport.abort()
        # A server side that does not read never sees the abort; since 3.12.1
        # Server.wait_closed() waits for its connections, so close them here.
        for t in stalled:
            t.close()
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_pause_and_resume_reading(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        received = []

        class Client(asyncio.Protocol):
            def data_received(self, data):
                received.append(data)

        transport, _ = await loop.create_connection(Client, "127.0.0.1", port)
        transport.pause_reading()
        assert not transport.is_reading()
        transport.write(b"data")
        await asyncio.sleep(0.05)
        assert received == []
        transport.resume_reading()
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
        transport.close()
        server.close()
        await server.wait_closed()
        return b"".join(received)

    assert loop.run_until_complete(main()) == b"data"


def test_streams_on_the_loop(loop):
    async def handler(reader, writer):
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"shout\n")
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
        return line

    assert loop.run_until_complete(main()) == b"SHOUT\n"


def test_unix_server_and_connection(loop, tmp_path):
    path = str(tmp_path / "s.sock")

    async def handler(reader, writer):
        writer.write(await reader.read(5))
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_unix_server(handler, path)
        async with server:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b"unix!")
            data = await reader.read()
            writer.close()
            await writer.wait_closed()
        return data

    assert loop.run_until_complete(main()) == b"unix!"


def test_connect_accepted_socket(loop):
    async def main():
        a, b = socket.socketpair()
        got = loop.create_future()

        class P(asyncio.Protocol):
            def data_received(self, data):
                got.set_result(data)

        transport, _ = await loop.connect_accepted_socket(P, a)
        b.send(b"accepted")
        data = await asyncio.wait_for(got, 5)
        transport.close()
        b.close()
        return data

    assert loop.run_until_complete(main()) == b"accepted"


@pytest.fixture
def certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_server_and_client(loop, certificate):
    import ssl

    cert, key = certificate
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=cert)

    async def handler(reader, writer):
        writer.write(b"secret " + await reader.readline())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
            writer.write(b"hello\n")
            data = await reader.read()
            writer.close()
            await writer.wait_closed()
        return data

    assert loop.run_until_complete(main()) == b"secret hello\n"


def test_datagram_endpoint(loop):
    async def main():
        got = loop.create_future()

        class Server(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.transport.sendto(data.upper(), addr)

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                got.set_result(data)

        st, _ = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
        ct, _ = await loop.create_datagram_endpoint(
            Client, remote_addr=st.get_extra_info("sockname"))
        ct.sendto(b"udp")
        data = await asyncio.wait_for(got, 5)
        ct.close()
        st.close()
        return data

    assert loop.run_until_complete(main()) == b"UDP"


def test_getaddrinfo_and_getnameinfo(loop):
    async def main():
        infos = await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        name = await loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST)
        return infos[0][4], name[0]

    assert loop.run_until_complete(main()) == (("127.0.0.1", 80), "127.0.0.1")


def test_sendfile_sends_a_file(loop, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(200_000))

    async def main():
        server_got = bytearray()
        done = loop.create_future()

        class Sink(asyncio.Protocol):
            def data_received(self, data):
                server_got.extend(data)

            def eof_received(self):
                done.set_result(None)

        server = await loop.create_server(Sink, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        with open(path, "rb") as f:
            sent = await loop.sendfile(transport, f)
        transport.write_eof()
        await asyncio.wait_for(done, 5)
        transport.close()
        server.close()
        await server.wait_closed()
        return sent, bytes(server_got)

    sent, got = loop.run_until_complete(main())
    assert sent == 200_000 and got == path.read_bytes()


# --- executors, subprocesses, signals, async generators


def test_run_in_executor_and_default_executor(loop):
    from concurrent.futures import ThreadPoolExecutor

    async def main():
        ident = await loop.run_in_executor(None, threading.get_ident)
        executor = ThreadPoolExecutor(1)
        loop.set_default_executor(executor)
        again = await loop.run_in_executor(None, lambda: "mine")
        await loop.shutdown_default_executor()
        return ident != threading.get_ident(), again

    assert loop.run_until_complete(main()) == (True, "mine")


def test_subprocess_exec_and_shell(loop):
    async def main():
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; print(sys.stdin.read().upper())",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        out, _ = await p.communicate(b"piped")
        q = await asyncio.create_subprocess_shell("exit 3")
        return out.strip(), p.returncode, await q.wait()

    assert loop.run_until_complete(main()) == (b"PIPED", 0, 3)


def test_signal_handlers(loop):
    async def main():
        got = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, got.set)
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(got.wait(), 5)
        assert loop.remove_signal_handler(signal.SIGUSR1)
        assert not loop.remove_signal_handler(signal.SIGUSR1)

    loop.run_until_complete(main())


def test_shutdown_asyncgens_closes_open_generators(loop):
    closed = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    async def main():
        g = agen()
        await g.__anext__()
        return g

    keep = loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert closed == [True]
    del keep
