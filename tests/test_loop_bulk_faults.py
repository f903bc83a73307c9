"""The socket transport's bulk paths under injected faults, each in a child
process: recv failing or finding nothing in the middle of bulk data, and
every allocation of a read or a write failing in turn
(_testcapi.set_nomemory); bulk reads that get less than they ask for.
Outcomes and the epoll set are asserted in the child, which prints ``ok``
when all held. (The fault library also answers FIONREAD for the tests'
own look at what is queued.)

The faults come from tests/syscall_faults.c, built here and loaded with
LD_PRELOAD (after whatever is preloaded already: ASan's runtime under
scripts/sanitize).
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="LD_PRELOAD fault injection and FIONREAD semantics (Linux)")


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the fault-injection library")
    out = tmp_path_factory.mktemp("faults") / "libylfaults.so"
    # The compiler runs without what this process preloads (ASan's runtime
    # under scripts/sanitize would report the compiler's own leaks).
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.endswith("SAN_OPTIONS")}
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out),
                    os.path.join(HERE, "syscall_faults.c"), "-ldl"], check=True, env=env)
    return str(out)


PRELUDE = '''
import asyncio, ctypes, errno, sys
sys.path.insert(0, {here!r})
import yieldloop
from bulk_support import (KIB, MIB, RECV_MAX, RECV_SMALL, Recorder, Watch, connected, fill,
                          new_loop_with_epfd, payload, queued, read_all, read_sizes, until)

_lib = ctypes.CDLL({shim!r})
FAULT_FD = ctypes.c_int.in_dll(_lib, "yl_fault_fd")
FIONREAD = ctypes.c_int.in_dll(_lib, "yl_fault_fionread")
RECV_ERRNO = ctypes.c_int.in_dll(_lib, "yl_fault_recv_errno")
LOOP, EPFD = new_loop_with_epfd(yieldloop.new_event_loop)
HANDLED = []
LOOP.set_exception_handler(lambda loop, ctx: HANDLED.append(ctx))

def faults(fd=-1, fionread=-1, recv_errno=0):
    FAULT_FD.value, FIONREAD.value, RECV_ERRNO.value = fd, fionread, recv_errno

def _check_faults_apply():
    import socket
    a, b = socket.socketpair()
    try:
        faults(a.fileno(), fionread=12345, recv_errno=errno.EPROTO)
        assert queued(a) == 12345, "FIONREAD is not the fault library's"
        try:
            a.recv(1)
        except OSError as e:
            assert e.errno == errno.EPROTO, e
        else:
            raise AssertionError("recv is not the fault library's")
    finally:
        faults()
        a.close()
        b.close()

_check_faults_apply()

async def bulk_state(proto, transport, sock, peer):
    """Read 64 KiB at once, which puts the transport's reads in bulk mode."""
    transport.pause_reading()
    await LOOP.sock_sendall(peer, payload(64 * KIB, 99))
    await until(lambda: queued(sock) == 64 * KIB, "64 KiB queued")
    transport.resume_reading()
    await until(lambda: len(proto.data) == 64 * KIB, "the first 64 KiB")
    assert [len(c) for c in proto.chunks] == [64 * KIB]
    del proto.chunks[:]

async def queue_on(transport, sock, peer, data):
    transport.pause_reading()
    await LOOP.sock_sendall(peer, data)
    await until(lambda: queued(sock) == len(data), "the data to be queued")
'''

EPILOGUE = '''
LOOP.run_until_complete(asyncio.wait_for(main(), 60))
LOOP.close()
print("ok")
'''


def run_child(shim, source, timeout=120):
    code = PRELUDE.format(here=HERE, shim=shim) + textwrap.dedent(source) + EPILOGUE
    env = dict(os.environ)
    # Keep what is preloaded (ASan's runtime) but valgrind's own libraries,
    # there when this process runs under valgrind and the child does not.
    kept = [lib for lib in env.get("LD_PRELOAD", "").replace(":", " ").split()
            if "valgrind" not in os.path.basename(os.path.dirname(lib))]
    env["LD_PRELOAD"] = " ".join([*kept, shim])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    assert proc.returncode == 0 and proc.stdout.split()[-1:] == ["ok"], proc.stderr[-3000:]
    return proc.stdout


def test_bulk_reads_ask_for_the_most_and_get_what_is_there(shim):
    run_child(shim, '''
    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        # The last read asks for RECV_MAX and gets 10 KiB (copied out to an
        # object of 10 KiB).
        data = payload(64 * KIB + 2 * RECV_MAX + 10 * KIB)
        await queue_on(transport, sock, peer, data)
        transport.resume_reading()
        await until(lambda: len(proto.data) == len(data), "all the data")
        assert proto.data == data
        assert [len(c) for c in proto.chunks] == [64 * KIB, RECV_MAX, RECV_MAX, 10 * KIB]
        transport.close()
        await proto.lost
        peer.close()
    ''')


def test_a_bulk_read_getting_less_than_it_asks_for_returns_what_came(shim):
    run_child(shim, '''
    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        await bulk_state(proto, transport, sock, peer)
        # RECV_MAX, then RECV_MAX - 28 KiB where RECV_MAX was asked for
        # (shrunk in place when that is 64 KiB or more, else copied out),
        # then 1 KiB (copied out to an object of 1 KiB).
        data = payload(2 * RECV_MAX - 28 * KIB)
        await queue_on(transport, sock, peer, data)
        transport.resume_reading()
        await until(lambda: len(proto.data) == len(data), "all the data")
        await LOOP.sock_sendall(peer, b"k" * KIB)
        await until(lambda: len(proto.data) == len(data) + KIB, "the last KiB")
        assert proto.data == data + b"k" * KIB
        assert [len(c) for c in proto.chunks] == [RECV_MAX, RECV_MAX - 28 * KIB, KIB]
        transport.close()
        await proto.lost
        peer.close()
    ''')


@pytest.mark.parametrize("bulk", [False, True], ids=["small reads", "bulk reads"])
def test_a_wake_up_with_nothing_to_read_delivers_nothing_and_keeps_reading(shim, bulk):
    run_child(shim, f'''
    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        watch = Watch(sock, EPFD)
        if {bulk}:
            await bulk_state(proto, transport, sock, peer)
        transport._read_ready()                     # nothing is queued
        assert proto.chunks == [] and proto.events == [] and transport.is_reading()
        assert watch.reading()
        watch.close()
        await LOOP.sock_sendall(peer, b"later")
        await until(lambda: proto.data == b"later", "the next data")
        transport.close()
        await proto.lost
        peer.close()
    ''')


def test_a_bulk_read_failing_ends_the_connection_with_the_error(shim):
    run_child(shim, '''
    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        watch = Watch(sock, EPFD)
        await bulk_state(proto, transport, sock, peer)
        faults(sock.fileno(), recv_errno=errno.ECONNRESET)
        transport._read_ready()
        faults()
        exc = await proto.lost
        assert isinstance(exc, ConnectionResetError), exc
        assert proto.chunks == [] and proto.events == ["lost"] and HANDLED == []
        assert not watch.registered() and sock.fileno() == -1
        watch.close()
        peer.close()
    ''')


def test_every_allocation_of_a_bulk_read_failing_in_turn_is_handled(shim):
    # Reads of each kind: straight into the object (RECV_MAX queued),
    # shrunk or copied out (RECV_MAX asked, less read), each with the k-th
    # allocation from the read on failing.
    pytest.importorskip("_testcapi")
    out = run_child(shim, '''
    import _testcapi

    async def one(k, size):
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        watch = Watch(sock, EPFD)
        await bulk_state(proto, transport, sock, peer)
        data = payload(size, k)
        await queue_on(transport, sock, peer, data)
        HANDLED.clear()
        _testcapi.set_nomemory(k, k + 1)
        try:
            transport._read_ready()
            raised = None
        except MemoryError as e:
            raised = e
        finally:
            _testcapi.remove_mem_hooks()
        if proto.lost.done() or transport.is_closing():
            exc = await proto.lost
            assert isinstance(exc, MemoryError), exc
            assert [c["exception"] for c in HANDLED] == [exc]
            assert proto.data == data[:len(proto.data)]
            assert not watch.registered() and sock.fileno() == -1
            outcome = "lost"
        else:
            # Nothing was read (the failure came before recv) or all of it.
            assert proto.data in (b"", data), len(proto.data)
            transport.resume_reading()
            await until(lambda: proto.data == data, "the data, once memory is back")
            transport.close()
            await proto.lost
            outcome = "raised" if raised else "read"
        watch.close()
        peer.close()
        return outcome

    async def main():
        for size in (RECV_MAX, RECV_MAX - KIB, 10 * KIB):
            outcomes = [await one(k, size) for k in range(12)]
            print(size, outcomes)
            assert "lost" in outcomes and outcomes[-1] == "read", outcomes
    ''', timeout=300)
    assert out.count("lost") >= 3


def test_every_allocation_of_queued_writes_failing_in_turn_is_handled(shim):
    # Writes into a full socket, so that each is queued: small pieces into
    # a bytearray of the queue's, a bytearray copied, bytes kept by
    # reference (enough of them to grow the queue), with the k-th
    # allocation from the first write on failing. What the peer receives
    # is always a prefix of what was written, whole when no write failed.
    pytest.importorskip("_testcapi")
    out = run_child(shim, '''
    import _testcapi

    WRITES = ([b"a" * 10, b"b" * 10, bytearray(b"c" * (20 * KIB))]
              + [payload(20 * KIB, i) for i in range(9)] + [memoryview(b"d" * 100)])

    async def one(k):
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        transport.pause_reading()
        watch = Watch(sock, EPFD)
        filled = fill(sock)
        plug = payload(3 * MIB)
        transport.write(plug)
        HANDLED.clear()
        done = 0
        _testcapi.set_nomemory(k, k + 1)
        try:
            for w in WRITES:
                transport.write(w)
                done += 1
        except MemoryError:
            pass
        finally:
            _testcapi.remove_mem_hooks()
        expected = b"\\0" * filled + plug + b"".join(bytes(w) for w in WRITES)
        if transport.is_closing():
            exc = await proto.lost
            assert isinstance(exc, MemoryError), exc
            assert [c["message"] for c in HANDLED] == ["Fatal write error on socket transport"]
            assert transport.get_write_buffer_size() == 0
            assert not watch.registered()
            watch.close()
            got = await read_all(peer)
            assert got == expected[:len(got)]
            outcome = "lost"
        else:
            # A write that raised left the stream as the ones before it made it.
            assert transport.get_write_buffer_size() > sum(len(bytes(w)) for w in WRITES[:done])
            transport.close()
            watch.close()
            got = await read_all(peer)
            whole = b"\\0" * filled + plug + b"".join(bytes(w) for w in WRITES[:done])
            assert got == whole, (len(got), len(whole))
            await proto.lost
            outcome = "raised" if done < len(WRITES) else "queued"
        peer.close()
        return outcome

    async def main():
        outcomes = [await one(k) for k in range(30)]
        print(outcomes)
        assert "lost" in outcomes and outcomes[-1] == "queued", outcomes
    ''', timeout=300)
    assert "lost" in out
