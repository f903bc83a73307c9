"""Differential test of yieldloop.Loop against asyncio's own loop.

A program is a list of scenarios, run one after the other on one loop; each
scenario sets up servers, clients, datagram endpoints, subprocesses, fd
callbacks, timers, signal handlers or executor calls, and injects a fault
into one callback the loop calls (an exception of a chosen type, or a bad
return value). The same program runs on asyncio's loop and on
yieldloop.Loop, each in a child process (a worker that runs program after
program on a fresh loop each, so a crash fails the case, not the run), and
what each observed must be the same:

- the events each endpoint logged, in order (which callbacks ran, the type
  of connection_lost()'s argument, byte counts, results and error types);
- the exception handler's calls (message without reprs, exception type,
  context keys), as a sorted list per scenario;
- afterwards: no fd left open, no fd callback left in yieldloop's poller.

Scenarios are built so that their output does not depend on timing: a side
fails only once the whole message it waits for has arrived, byte counts are
totals (never chunk counts), timers have distinct deadlines.

Used by tests/test_loop_differential.py (a few hundred derandomized
programs) and by ``scripts/fuzz loop`` (thousands of random ones).
"""

import asyncio
import gc
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading

from hypothesis import strategies as st

EXCEPTIONS = ("ZeroDivisionError", "ConnectionResetError", "CancelledError", "RuntimeError")
SCENARIO_TIMEOUT = 10.0

# --- what a program is (hypothesis strategies)

_fault_exc = st.sampled_from(EXCEPTIONS)
_size = st.integers(1, 40000)


def _stream_faults(side):
    cbs = ["connection_made", "data_received", "eof_received", "connection_lost",
           "get_buffer", "buffer_updated", "get_buffer_empty"]
    return st.tuples(st.just(side), st.sampled_from(cbs), _fault_exc)


stream_scenarios = st.fixed_dictionaries({
    "kind": st.just("stream"),
    "family": st.sampled_from(["tcp", "unix", "tls"]),
    "client_buffered": st.booleans(),
    "server_buffered": st.booleans(),
    "bufsize": st.integers(1, 70000),
    "request": _size,
    "reply": _size,
    # After the reply: the server closes, or waits for the client's end.
    "server_end": st.sampled_from(["close", "wait"]),
    "client_end": st.sampled_from(["close", "abort", "write_eof", "wait"]),
    "eof_keep_open": st.booleans(),
    "fault": st.none() | _stream_faults("client") | _stream_faults("server"),
})

datagram_scenarios = st.fixed_dictionaries({
    "kind": st.just("datagram"),
    "count": st.integers(1, 8),
    "fault": st.none() | st.tuples(
        st.sampled_from(["server", "client"]),
        st.sampled_from(["connection_made", "datagram_received", "connection_lost"]),
        st.integers(0, 7), _fault_exc),
    "send_to_closed": st.booleans(),
})

subprocess_scenarios = st.fixed_dictionaries({
    "kind": st.just("subprocess"),
    "out": st.integers(0, 5000),
    "code": st.integers(0, 3),
    "fault": st.none() | st.tuples(
        st.sampled_from(["connection_made", "pipe_data_received", "pipe_connection_lost",
                         "process_exited", "connection_lost"]), _fault_exc),
})

fd_scenarios = st.fixed_dictionaries({
    "kind": st.just("fd"),
    "side": st.sampled_from(["reader", "writer"]),
    "calls": st.integers(1, 5),
    # What the callback does on its last call.
    "last": st.sampled_from(["raise", "remove", "close_then_remove", "close_only_then_remove",
                             "replace"]),
    "exc": _fault_exc,
})

timer_scenarios = st.fixed_dictionaries({
    "kind": st.just("timers"),
    "timers": st.lists(st.tuples(
        st.sampled_from(["soon", "later", "at", "threadsafe"]),
        st.integers(0, 20),                    # deadline slot (ms), distinct per timer
        st.sampled_from(["ok", "raise", "cancel_self", "cancel_next"]),
        _fault_exc), min_size=1, max_size=6),
})

misc_scenarios = st.fixed_dictionaries({
    "kind": st.sampled_from(["signal", "executor", "accept", "streams", "sendfile"]),
    "variant": st.integers(0, 3),
    "exc": _fault_exc,
})

scenarios = st.one_of(stream_scenarios, stream_scenarios, datagram_scenarios,
                      subprocess_scenarios, fd_scenarios, timer_scenarios, misc_scenarios)
# Some scenarios run in asyncio's debug mode (the handler's context then has
# a source_traceback for callbacks).
programs = st.lists(st.tuples(scenarios, st.integers(0, 3)).map(
    lambda t: dict(t[0], debug=t[1] == 0)), min_size=1, max_size=3)

# --- the child: runs scenarios and logs what it sees


class Log:
    def __init__(self):
        self.events = {}
        self.handler = []

    def __call__(self, channel, *what):
        what = [w.decode("latin-1") if isinstance(w, bytes) else w for w in what]
        self.events.setdefault(channel, []).append(what)


_REPR = re.compile(r"<[^<>]*>|0x[0-9a-f]+|\([^()]*\)")


def _message(text):
    # Reprs of transports and handles differ between the loops by design, and
    # so does the name of the socket transport's class.
    text = text.replace("_SelectorSocketTransport", "SocketTransport")
    prev = None
    while prev != text:
        prev, text = text, _REPR.sub("", text)
    return text


def make_exc(name):
    if name == "CancelledError":
        return asyncio.CancelledError()
    return {"ZeroDivisionError": ZeroDivisionError, "ConnectionResetError": ConnectionResetError,
            "RuntimeError": RuntimeError}[name]("injected")


def _tname(exc):
    return None if exc is None else type(exc).__name__


async def _deadline(aw, log, what):
    try:
        return await asyncio.wait_for(aw, SCENARIO_TIMEOUT)
    except asyncio.TimeoutError:
        log(what, "timeout")


class StreamSide:
    """The client's or the server's protocol of a stream scenario."""

    def __init__(self, sc, side, log, expect):
        self.sc, self.side, self.log, self.expect = sc, side, log, expect
        self.loop = asyncio.get_running_loop()
        self.lost = self.loop.create_future()
        self.got = 0
        self.done = False
        self.buf = bytearray(sc["bufsize"])
        fault = sc["fault"]
        self.fault = fault[1:] if fault and fault[0] == side else None
        self.transport = None

    def _maybe_fail(self, cb):
        if self.fault and self.fault[0] == cb:
            exc = make_exc(self.fault[1])
            self.fault = None
            raise exc

    def connection_made(self, transport):
        self.transport = transport
        self.log(self.side, "made")
        if self.side == "client":
            transport.write(b"q" * self.sc["request"])
        self._maybe_fail("connection_made")

    def _received(self, n):
        self.got += n
        if self.got >= self.expect and not self.done:
            self.done = True
            self.log(self.side, "complete", self.got)
            if self.side == "server":
                if self.sc["reply"]:
                    self.transport.write(b"r" * self.sc["reply"])
                if self.sc["server_end"] == "close":
                    self.transport.close()
            else:
                end = self.sc["client_end"]
                if end == "write_eof" and self.sc["family"] == "tls":
                    end = "close"           # TLS transports cannot half-close
                if end == "wait" and self.sc["server_end"] == "wait":
                    end = "close"           # someone must end it
                if end == "close":
                    self.transport.close()
                elif end == "abort":
                    self.transport.abort()
                elif end == "write_eof":
                    self.transport.write_eof()
            self._maybe_fail("data_received")
            self._maybe_fail("buffer_updated")

    def data_received(self, data):
        self._received(len(data))

    def get_buffer(self, hint):
        if self.done:
            self._maybe_fail("get_buffer")
            if self.fault and self.fault[0] == "get_buffer_empty":
                self.fault = None
                return bytearray()
        return self.buf

    def buffer_updated(self, n):
        self._received(n)

    def eof_received(self):
        self.log(self.side, "eof", self.got)
        self._maybe_fail("eof_received")
        if self.sc["eof_keep_open"]:
            self.loop.call_soon(self.transport.close)
            return True
        return None

    def connection_lost(self, exc):
        self.log(self.side, "lost", _tname(exc), self.got)
        if not self.lost.done():
            self.lost.set_result(None)
        self._maybe_fail("connection_lost")


def _stream_class(buffered):
    base = asyncio.BufferedProtocol if buffered else asyncio.Protocol
    return type("Side", (StreamSide, base), {})


def _tls_contexts():
    import ssl

    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(os.environ["YL_CERT"], os.environ["YL_KEY"])
    return server, ssl.create_default_context(cafile=os.environ["YL_CERT"])


async def scenario_stream(sc, log, tmpdir):
    loop = asyncio.get_running_loop()
    family = sc["family"]
    server_cls = _stream_class(sc["server_buffered"])
    client_cls = _stream_class(sc["client_buffered"])
    sides = []

    def server_factory():
        p = server_cls(sc, "server", log, sc["request"])
        sides.append(p)
        return p

    kw = {}
    ckw = {}
    if family == "tls":
        sctx, cctx = _tls_contexts()
        kw = {"ssl": sctx}
        ckw = {"ssl": cctx, "server_hostname": "localhost"}
    if family == "unix":
        path = os.path.join(tmpdir, "s")
        server = await loop.create_unix_server(server_factory, path)
        connect = loop.create_unix_connection(lambda: client, path, **ckw)
    else:
        server = await loop.create_server(server_factory, "127.0.0.1", 0, **kw)
        port = server.sockets[0].getsockname()[1]
        connect = loop.create_connection(lambda: client, "127.0.0.1", port, **ckw)
    client = client_cls(sc, "client", log, sc["reply"])
    try:
        try:
            await _deadline(connect, log, "connect")
        except Exception as exc:
            log("client", "connect failed", _tname(exc))
        await _deadline(client.lost, log, "client")
        for s in sides:
            await _deadline(s.lost, log, "server")
    finally:
        for p in [client] + sides:
            if p.transport is not None and not p.transport.is_closing():
                log(p.side, "left open")
                p.transport.abort()
        server.close()
        await server.wait_closed()


class DatagramSide(asyncio.DatagramProtocol):
    def __init__(self, sc, side, log):
        self.sc, self.side, self.log = sc, side, log
        self.loop = asyncio.get_running_loop()
        self.got = 0
        self.lost = self.loop.create_future()
        self.all_in = self.loop.create_future()
        f = sc["fault"]
        self.fault = f[1:] if f and f[0] == side else None

    def _fail(self, cb, n=None):
        if self.fault and self.fault[0] == cb and (n is None or self.fault[1] == n):
            exc = make_exc(self.fault[2])
            self.fault = None
            raise exc

    def connection_made(self, transport):
        self.transport = transport
        self.log(self.side, "made")
        self._fail("connection_made")

    def datagram_received(self, data, addr):
        self.got += 1
        n = self.got - 1
        if self.got == self.sc["count"] and not self.all_in.done():
            self.all_in.set_result(None)
        self._fail("datagram_received", n)

    def error_received(self, exc):
        self.log(self.side, "error_received", _tname(exc))

    def connection_lost(self, exc):
        self.log(self.side, "lost", _tname(exc), self.got)
        self.lost.set_result(None)
        self._fail("connection_lost")


async def scenario_datagram(sc, log, tmpdir):
    loop = asyncio.get_running_loop()
    server_t, server = await loop.create_datagram_endpoint(
        lambda: DatagramSide(sc, "server", log), local_addr=("127.0.0.1", 0))
    addr = server_t.get_extra_info("sockname")
    client_t, client = await loop.create_datagram_endpoint(
        lambda: DatagramSide(sc, "client", log), remote_addr=addr)
    for i in range(sc["count"]):
        client_t.sendto(b"d%d" % i)
    await _deadline(server.all_in, log, "server")
    log("server", "got", server.got)
    server_t.close()
    await server.lost
    if sc["send_to_closed"]:
        # The peer is gone: on Linux the next read reports ECONNREFUSED.
        client_t.sendto(b"x")
        await asyncio.sleep(0.05)
    client_t.close()
    await client.lost


class ChildSide(asyncio.SubprocessProtocol):
    def __init__(self, sc, log):
        self.sc, self.log = sc, log
        self.loop = asyncio.get_running_loop()
        self.exited = self.loop.create_future()
        self.closed = self.loop.create_future()
        self.got = 0
        self.fault = sc["fault"]

    def _fail(self, cb):
        if self.fault and self.fault[0] == cb:
            exc = make_exc(self.fault[1])
            self.fault = None
            raise exc

    def connection_made(self, transport):
        self.log("child", "made")
        self._fail("connection_made")

    def pipe_data_received(self, fd, data):
        self.got += len(data)
        self._fail("pipe_data_received")

    def pipe_connection_lost(self, fd, exc):
        self.log("child", "pipe lost", fd, _tname(exc), self.got)
        self._fail("pipe_connection_lost")

    def process_exited(self):
        self.log("child", "exited")
        self.exited.set_result(None)
        self._fail("process_exited")

    def connection_lost(self, exc):
        self.log("child", "lost", _tname(exc))
        self.closed.set_result(None)
        self._fail("connection_lost")


async def scenario_subprocess(sc, log, tmpdir):
    loop = asyncio.get_running_loop()
    code = f"import sys; sys.stdout.write('o' * {sc['out']}); sys.exit({sc['code']})"
    transport, proto = await loop.subprocess_exec(
        lambda: ChildSide(sc, log), sys.executable, "-c", code,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    await _deadline(proto.exited, log, "child exit")
    await _deadline(proto.closed, log, "child close")
    log("child", "returncode", transport.get_returncode(), proto.got)
    transport.close()
    # Pipes closing and the exit being noticed race in asyncio itself: only
    # connection_made first and connection_lost after both are promised.
    events = log.events["child"]
    events[1:-2] = sorted(events[1:-2], key=json.dumps)


async def scenario_fd(sc, log, tmpdir):
    import socket

    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    done = loop.create_future()
    calls = [0]
    add = loop.add_reader if sc["side"] == "reader" else loop.add_writer
    remove = loop.remove_reader if sc["side"] == "reader" else loop.remove_writer

    def callback():
        calls[0] += 1
        if sc["side"] == "reader":
            a.recv(1)
        log("fd", "call", calls[0])
        if calls[0] < sc["calls"]:
            if sc["side"] == "reader":
                b.send(b"x")
            return
        last = sc["last"]
        if not done.done():
            done.set_result(None)
        if last == "raise":
            remove(a)
            raise make_exc(sc["exc"])
        if last == "remove":
            log("fd", "removed", remove(a))
        elif last == "close_then_remove":
            a.close()
            log("fd", "removed", remove(a))
        elif last == "close_only_then_remove":
            log("fd", "removed", remove(a.fileno()))
            a.close()
        elif last == "replace":
            add(a, lambda: None)
            log("fd", "removed", remove(a))

    add(a, callback)
    if sc["side"] == "reader":
        b.send(b"x")
    await _deadline(done, log, "fd")
    log("fd", "removed after", remove(a) if a.fileno() != -1 else "closed")
    a.close()
    b.close()


async def scenario_timers(sc, log, tmpdir):
    loop = asyncio.get_running_loop()
    handles = []
    slots = set()
    finished = loop.create_future()
    remaining = set(range(len(sc["timers"])))

    def settle(i):
        remaining.discard(i)
        if not remaining and not finished.done():
            finished.set_result(None)

    def fire(i, action, exc):
        log("timers", "fire", i)
        settle(i)
        if action == "raise":
            raise make_exc(exc)
        if action == "cancel_self":
            handles[i].cancel()
            log("timers", "self cancelled", handles[i].cancelled())
        if action == "cancel_next" and i + 1 in remaining:
            handles[i + 1].cancel()
            settle(i + 1)

    base = loop.time()
    for i, (how, slot, action, exc) in enumerate(sc["timers"]):
        while slot in slots:        # distinct deadlines: ties may run in any order
            slot += 1
        slots.add(slot)
        delay = 0.002 + slot * 0.003
        if how == "soon":
            h = loop.call_soon(fire, i, action, exc)
        elif how == "later":
            # Relative to base, as "at" is: scheduling may stall (a loaded
            # machine, a debug build) longer than two slots apart.
            h = loop.call_later(base + delay - loop.time(), fire, i, action, exc)
        elif how == "at":
            h = loop.call_at(base + delay, fire, i, action, exc)
        else:
            h = loop.call_soon_threadsafe(fire, i, action, exc)
        handles.append(h)
        log("timers", "handle", i, isinstance(h, asyncio.TimerHandle),
            isinstance(h, asyncio.Handle))
    await _deadline(finished, log, "timers")


async def scenario_signal(sc, log, tmpdir):
    loop = asyncio.get_running_loop()
    got = loop.create_future()

    def on_signal():
        log("signal", "handler")
        if not got.done():
            got.set_result(None)
        if sc["variant"] % 2 == 0:
            raise make_exc(sc["exc"])

    loop.add_signal_handler(signal.SIGUSR1, on_signal)
    os.kill(os.getpid(), signal.SIGUSR1)
    await _deadline(got, log, "signal")
    log("signal", "removed", loop.remove_signal_handler(signal.SIGUSR1))


async def scenario_executor(sc, log, tmpdir):
    loop = asyncio.get_running_loop()

    def work():
        if sc["variant"] in (0, 1):
            raise make_exc(sc["exc"])
        return threading.current_thread() is not threading.main_thread()

    fut = loop.run_in_executor(None, work)
    if sc["variant"] in (1, 3):
        def done(f):
            log("executor", "done callback", f.cancelled())
            raise make_exc(sc["exc"])
        fut.add_done_callback(done)
    try:
        log("executor", "result", await fut)
    except BaseException as exc:
        log("executor", "raised", _tname(exc))
    await asyncio.sleep(0)


async def _collecting(aw):
    """Await ``aw``, collecting garbage while it waits. In debug mode both
    loops keep the accepted socket of a failed protocol factory in a cycle
    (the reported exception's traceback): it is closed, and the client sees
    its end, when the cycle is collected, not after a fixed delay."""
    task = asyncio.ensure_future(aw)
    while not task.done():
        await asyncio.wait([task], timeout=0.02)
        gc.collect()
    return task.result()


async def scenario_accept(sc, log, tmpdir):
    # The server's protocol factory fails for an incoming connection.
    loop = asyncio.get_running_loop()

    def factory():
        raise make_exc(sc["exc"])

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        log("client", "read", await _deadline(_collecting(reader.read()), log, "read"))
    except OSError as exc:
        log("client", "read failed", _tname(exc))
    writer.close()
    try:
        await writer.wait_closed()
    except OSError as exc:
        log("client", "closed with", _tname(exc))
    server.close()
    await server.wait_closed()


async def scenario_streams(sc, log, tmpdir):
    loop = asyncio.get_running_loop()
    served = loop.create_future()

    async def handle(reader, writer):
        line = await reader.readline()
        log("server", "line", line)
        # Before 3.12 a failed client_connected_cb is reported when its task
        # is garbage-collected: at no fixed point.
        if sc["variant"] % 2 == 0 and sys.version_info >= (3, 12):
            served.set_result(None)
            raise make_exc(sc["exc"])
        writer.write(line.upper())
        await writer.drain()
        writer.close()
        served.set_result(None)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello\n")
    await _deadline(served, log, "served")
    if sc["variant"] % 2:
        log("client", "read", await _deadline(reader.read(), log, "read"))
    writer.close()
    try:
        await writer.wait_closed()
    except OSError as exc:
        log("client", "closed with", _tname(exc))
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0)


async def scenario_sendfile(sc, log, tmpdir):
    loop = asyncio.get_running_loop()
    path = os.path.join(tmpdir, "f")
    with open(path, "wb") as f:
        f.write(b"s" * (1000 * (sc["variant"] + 1)))
    got = loop.create_future()
    received = [0]

    class Sink(asyncio.Protocol):
        def data_received(self, data):
            received[0] += len(data)

        def connection_lost(self, exc):
            got.set_result(_tname(exc))

    server = await loop.create_server(Sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    with open(path, "rb") as f:
        if sc["variant"] == 3:
            f.close()                           # a closed file: sendfile must refuse
        if sc["variant"] == 1:
            f = io.BytesIO(f.read())            # no fd: asyncio's fallback writes it
        try:
            sent = await loop.sendfile(transport, f, fallback=sc["variant"] != 2)
            log("sendfile", "sent", sent)
        except Exception as exc:
            log("sendfile", "failed", _tname(exc))
    transport.close()
    log("sendfile", "peer", await _deadline(got, log, "peer"), received[0])
    server.close()
    await server.wait_closed()


async def scenario_crash(sc, log, tmpdir):
    # Never generated: what the checker must notice (tests of the checker).
    # SIGKILL, not SIGSEGV: under the sanitizer build a SEGV is a report.
    os.kill(os.getpid(), signal.SIGKILL)


SCENARIOS = {
    "crash": scenario_crash,
    "stream": scenario_stream, "datagram": scenario_datagram,
    "subprocess": scenario_subprocess, "fd": scenario_fd, "timers": scenario_timers,
    "signal": scenario_signal, "executor": scenario_executor, "accept": scenario_accept,
    "streams": scenario_streams, "sendfile": scenario_sendfile,
}


def _fds():
    return len(os.listdir("/proc/self/fd"))


def run_program(loop_name, program):
    """Run ``program`` on a fresh loop of ``loop_name``: what it observed."""
    import tempfile

    import yieldloop

    results = []
    loop = yieldloop.new_event_loop() if loop_name == "yieldloop" else asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    waiters0 = loop._core_stats["fds"] if loop_name == "yieldloop" else 0
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            for sc in program:
                log = Log()

                def handler(lp, context, log=log):
                    exc = context.get("exception")
                    log.handler.append([_message(str(context.get("message"))), _tname(exc),
                                        sorted(context)])

                loop.set_exception_handler(handler)
                loop.set_debug(sc.get("debug", False))
                loop.slow_callback_duration = 10.0      # no timing in the output
                try:
                    loop.run_until_complete(SCENARIOS[sc["kind"]](sc, log, tmpdir))
                except BaseException as exc:
                    log("scenario", "raised", _tname(exc))
                # Let what the scenario closed finish closing.
                for _ in range(3):
                    loop.run_until_complete(asyncio.sleep(0))
                # A copy: what a callback logs after its scenario ended is
                # timing, and must not show up.
                results.append(json.loads(json.dumps(
                    {"events": log.events, "handler": sorted(log.handler)})))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        waiters = loop._core_stats["fds"] - waiters0 if loop_name == "yieldloop" else 0
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return {"scenarios": results, "waiters": waiters}


def worker(loop_name):
    """The child: read programs (JSON lines) on stdin, answer each on stdout."""
    out = sys.stdout
    sys.stdout = sys.stderr          # what the scenarios print stays out of the answers
    for line in sys.stdin:
        program = json.loads(line)
        gc.collect()
        before = _fds()
        result = run_program(loop_name, program)
        gc.collect()
        result["fds"] = _fds() - before
        out.write(json.dumps(result) + "\n")
        out.flush()


class Worker:
    """A child process running programs on one loop."""

    def __init__(self, loop_name, env=None):
        self.loop_name = loop_name
        self.env = env
        self.proc = None

    def _start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys, diff_loop; diff_loop.worker(sys.argv[1])",
             self.loop_name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(self.env or os.environ, PYTHONPATH=here), cwd=here)
        self._stderr = []
        threading.Thread(target=self._drain, args=(self.proc.stderr, self._stderr),
                         daemon=True).start()

    @staticmethod
    def _drain(stream, sink):
        for line in stream:
            sink.append(line)
            del sink[:-50]

    def run(self, program, timeout=60):
        """Run ``program`` in the child: what it observed."""
        self.send(program)
        return self.answer(program, timeout)

    def send(self, program):
        """Start ``program`` in the child; ``answer()`` waits for its result."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps(program) + "\n")
        self.proc.stdin.flush()

    def answer(self, program, timeout=60):
        """The result of the ``program`` sent last (``program`` names it if
        the child hangs or dies)."""
        answer = [None]
        reader = threading.Thread(target=lambda: answer.__setitem__(0, self.proc.stdout.readline()))
        reader.start()
        reader.join(timeout)
        if reader.is_alive() or not answer[0]:
            hung = reader.is_alive()
            self.proc.kill()
            self.proc.wait()
            reader.join()
            raise AssertionError(
                f"{self.loop_name}: {'hung' if hung else f'died (exit {self.proc.returncode})'} "
                f"on {json.dumps(program)}\n" + "".join(self._stderr[-30:]))
        return json.loads(answer[0])

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(30)
            self.proc.stdout.close()
            self.proc.stderr.close()


class Differ:
    """The pair of workers; ``check(program)`` runs it on both and compares."""

    def __init__(self, env=None):
        self.workers = {name: Worker(name, env) for name in ("asyncio", "yieldloop")}
        for w in self.workers.values():
            w._start()          # now: their pipes are open from here to close()

    def check(self, program):
        # Both children run it at once: most of a program's time is spent
        # waiting (timers, children, handshakes), not computing.
        # Every answer is read before a failure is raised, so that no child
        # is left with a stale one for the next program.
        for w in self.workers.values():
            w.send(program)
        got, failures = {}, []
        for name, w in self.workers.items():
            try:
                got[name] = w.answer(program)
            except AssertionError as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
        want, have = got["asyncio"], got["yieldloop"]
        assert have["fds"] == 0, f"yieldloop leaked {have['fds']} fd(s) on {program}"
        assert have["waiters"] == 0, f"yieldloop left {have['waiters']} fd callback(s)"
        for i, (a, y) in enumerate(zip(want["scenarios"], have["scenarios"])):
            assert a == y, (f"scenario {i} differs: {json.dumps(program[i])}\n"
                            f"asyncio:   {json.dumps(a)}\nyieldloop: {json.dumps(y)}")
        assert want["fds"] == have["fds"]
        return got

    def close(self):
        for w in self.workers.values():
            w.close()
