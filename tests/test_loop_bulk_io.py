"""yieldloop.Loop's socket transport moving data in bulk, and how each way
it can end leaves the socket and the epoll set.

Reads: a transport receives into 64 KiB of stack while reads are small and,
once 64 KiB came at once, as much as the socket holds up to RECV_MAX
straight into the bytes it hands on. Writes: what the socket does not take
is queued, a large bytes object by reference with an offset, and flushed
with send/sendmsg. The tests that hold for asyncio's own loop run on it too;
fault injection (recv failing, allocations failing) is in
test_loop_bulk_faults.py.
"""

import asyncio
import socket
import struct
import sys

import pytest

import epoll_state
import yieldloop
from bulk_support import (
    KIB, LINUX, MIB, RECV_MAX, Recorder, Watch, connected, fill, new_loop_with_epfd, payload,
    queued, read_all, read_sizes, until)

LOOPS = {"asyncio": asyncio.new_event_loop, "yieldloop": yieldloop.new_event_loop}


EPFD = {}      # loop -> its epoll fd


@pytest.fixture(params=list(LOOPS))
def loop(request):
    lp, EPFD[lp] = new_loop_with_epfd(LOOPS[request.param])
    yield lp
    del EPFD[lp]
    lp.close()


@pytest.fixture
def yloop():
    lp, epfd = new_loop_with_epfd(yieldloop.new_event_loop)
    yield lp, epfd
    lp.close()


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 300))   # bounds, for valgrind too


def reset(sock):
    """Close ``sock`` with a reset (RST), not an orderly FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def queue_on(transport, sock, peer, data):
    """Have ``data`` wait in ``sock``'s receive queue, the transport not reading."""
    transport.pause_reading()
    await asyncio.get_running_loop().sock_sendall(peer, data)
    await until(lambda: queued(sock) == len(data), "the data to be queued")


# --- reading


def test_bulk_data_is_read_in_chunks_of_what_is_queued(yloop):
    lp, _ = yloop
    data = payload(512 * KIB)

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        await queue_on(transport, sock, peer, data)
        transport.resume_reading()
        await until(lambda: len(proto.data) == len(data), "all the data")
        transport.close()
        await proto.lost
        peer.close()
        return proto

    proto = run(lp, main())
    assert proto.data == data
    # A full 64 KiB read, then what is queued, RECV_MAX at a time (with
    # RECV_MAX 128 KiB: 5 reads where 64 KiB ones take 8).
    assert [len(c) for c in proto.chunks] == read_sizes(len(data))
    assert [len(c) for c in proto.chunks][:2] == [64 * KIB, min(RECV_MAX, len(data) - 64 * KIB)]


def test_small_messages_after_bulk_ones_keep_only_their_size(yloop):
    # Each object handed on is of the size read: 200 kept 1 KiB messages
    # after a bulk transfer hold about 200 KiB, not 200 reads' worth of
    # bulk buffers.
    import tracemalloc

    lp, _ = yloop

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        await queue_on(transport, sock, peer, payload(512 * KIB))
        transport.resume_reading()
        await until(lambda: len(proto.data) == 512 * KIB, "the bulk data")
        del proto.chunks[:]
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            for i in range(200):
                await lp.sock_sendall(peer, payload(KIB, i))
                await until(lambda n=(i + 1) * KIB: len(proto.data) == n, "a message")
            held = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
        transport.close()
        await proto.lost
        peer.close()
        return held, proto

    held, proto = run(lp, main())
    assert proto.data == b"".join(payload(KIB, i) for i in range(200))
    assert held < 2 * MIB, held


def test_a_reset_in_the_middle_of_bulk_data_delivers_what_came_then_the_error(yloop):
    lp, epfd = yloop
    data = payload(512 * KIB)

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        watch = Watch(sock, epfd)
        try:
            await queue_on(transport, sock, peer, data)
            reset(peer)                         # the data stays readable, then ECONNRESET
            transport.resume_reading()
            exc = await proto.lost
            return proto, exc, watch.registered(), sock.fileno()
        finally:
            watch.close()

    proto, exc, registered, fileno = run(lp, main())
    assert proto.data == data
    assert isinstance(exc, ConnectionResetError)
    assert proto.events == ["lost"]            # no eof_received()
    assert not registered and fileno == -1


def test_end_of_stream_after_bulk_data_closes_after_eof_received(loop):
    data = payload(MIB)

    async def main():
        proto = Recorder()
        _transport, sock, peer = await connected(proto, rcvbuf=MIB)
        watch = Watch(sock, EPFD[loop])
        try:
            await loop.sock_sendall(peer, data)
            peer.shutdown(socket.SHUT_WR)
            exc = await proto.lost
            return proto, exc, watch.registered(), sock.fileno()
        finally:
            watch.close()
            peer.close()

    proto, exc, registered, fileno = run(loop, main())
    assert proto.data == data
    assert exc is None and proto.events == ["eof", "lost"]
    assert not registered and fileno == -1


def test_eof_received_keeping_the_transport_open_stops_reading_only(loop):
    async def main():
        proto = Recorder(keep_open=True)
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        watch = Watch(sock, EPFD[loop])
        try:
            await loop.sock_sendall(peer, payload(MIB))
            peer.shutdown(socket.SHUT_WR)
            await until(lambda: proto.events == ["eof"], "eof_received()")
            reading = watch.reading() if LINUX else False
            transport.write(b"still here")
            transport.close()
            reply = await read_all(peer, 10)
            exc = await proto.lost
            return proto, reading, reply, exc, watch.registered()
        finally:
            watch.close()
            peer.close()

    proto, reading, reply, exc, registered = run(loop, main())
    assert proto.data == payload(MIB)
    assert not reading and reply == b"still here"
    assert exc is None and proto.events == ["eof", "lost"]
    assert not registered


def test_data_received_raising_on_a_bulk_chunk_closes_the_connection(loop):
    handled = []

    async def main():
        loop.set_exception_handler(lambda lp, ctx: handled.append(ctx))
        proto = Recorder(fail_at=2)
        transport, sock, peer = await connected(proto, rcvbuf=MIB)
        watch = Watch(sock, EPFD[loop])
        try:
            await queue_on(transport, sock, peer, payload(512 * KIB))
            transport.resume_reading()
            exc = await proto.lost
            await asyncio.sleep(0)
            return proto, exc, watch.registered(), sock.fileno()
        finally:
            watch.close()
            peer.close()

    proto, exc, registered, fileno = run(loop, main())
    assert len(proto.chunks) == 2               # nothing after the failing call
    assert isinstance(exc, ValueError) and proto.events == ["lost"]
    assert [ctx["message"] for ctx in handled] == [
        "Fatal error: protocol.data_received() call failed."]
    assert handled[0]["exception"] is exc
    assert not registered and fileno == -1


# --- writing


def test_a_peer_that_stops_reading_pauses_the_writer_and_reading_resumes_it(loop):
    data = payload(4 * MIB)

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        # A fixed send buffer: left to grow, it took all but 36 KiB of the
        # 4 MiB once, on asyncio's loop as on ours.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * KIB)
        transport.write(data)                   # more than the socket takes
        paused = list(proto.events)
        size = transport.get_write_buffer_size()
        got = await read_all(peer, len(data))
        await until(lambda: transport.get_write_buffer_size() == 0, "the buffer to empty")
        transport.close()
        await proto.lost
        peer.close()
        return proto, paused, size, got

    proto, paused, size, got = run(loop, main())
    assert got == data
    high, low = 64 * KIB, 16 * KIB
    assert paused == [("pause", size)] and size > high
    assert proto.events[1][0] == "resume" and proto.events[1][1] <= low
    assert proto.events[2:] == ["lost"]


def test_the_buffer_size_is_what_is_unsent_to_the_byte(loop):
    # The socket is full: the first write leaves most of its 3 MiB queued,
    # and every write after it is queued whole.
    pieces = [payload(3 * MIB, 4), payload(100, 1), bytearray(payload(20 * KIB, 2)),
              memoryview(payload(MIB, 3)), payload(5, 5), memoryview(payload(40 * KIB, 6))[7:]]

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        filled = fill(sock)
        sizes = []
        for p in pieces:
            transport.write(p)
            sizes.append(transport.get_write_buffer_size())
        transport.close()
        got = await read_all(peer)
        await proto.lost
        peer.close()
        return filled, sizes, got

    filled, sizes, got = run(loop, main())
    lengths = [len(bytes(p)) for p in pieces]
    assert 0 < sizes[0] <= lengths[0]
    assert [s - sizes[0] for s in sizes] == [sum(lengths[1:i + 1]) for i in range(len(pieces))]
    assert got == b"\0" * filled + b"".join(bytes(p) for p in pieces)


def test_a_bytearray_changed_after_write_is_sent_as_it_was(yloop):
    # The queue copies what may change (asyncio 3.12+ keeps a view of it
    # and sends the change).
    lp, _ = yloop

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        filled = fill(sock)
        plug = payload(3 * MIB)                 # queued: what follows is queued whole
        transport.write(plug)
        small, large = bytearray(b"a" * 100), bytearray(b"b" * (100 * KIB))
        transport.write(small)
        transport.write(large)
        small[:] = b"x" * 100
        large[:] = b"y" * (100 * KIB)
        transport.close()
        got = await read_all(peer)
        await proto.lost
        peer.close()
        return got[filled:], plug

    got, plug = run(lp, main())
    assert got == plug + b"a" * 100 + b"b" * (100 * KIB)


def test_many_queued_buffers_go_out_in_order(yloop):
    # More buffers than one sendmsg() takes, large ones kept and small ones
    # gathered, from writes and writelines().
    lp, _ = yloop
    pieces = [payload(n, i) for i, n in enumerate([20 * KIB, 3, 16 * KIB, 16 * KIB - 1] * 60)]

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        filled = fill(sock)
        for i in range(0, len(pieces), 4):
            transport.write(pieces[i])
            transport.write(pieces[i + 1])
            transport.writelines(pieces[i + 2:i + 4])
        transport.close()
        got = await read_all(peer)
        await proto.lost
        peer.close()
        return got[filled:]

    assert run(lp, main()) == b"".join(pieces)


def test_writelines_of_large_bytes_is_sent_whole_and_in_order(loop):
    parts = [payload(3 * MIB, 1), b"-", payload(2 * MIB, 2), payload(64 * KIB, 3)]

    async def main():
        proto = Recorder()
        transport, _sock, peer = await connected(proto)
        transport.writelines(parts)
        transport.close()
        got = await read_all(peer)
        await proto.lost
        peer.close()
        return got

    assert run(loop, main()) == b"".join(parts)


def test_writelines_into_a_full_socket_queues_and_arms_the_writer(yloop):
    lp, epfd = yloop
    parts = [payload(MIB, 1), payload(100, 2)]

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        filled = fill(sock)                     # full, but nothing queued in the transport
        watch = Watch(sock, epfd)
        try:
            transport.writelines(parts)
            size = transport.get_write_buffer_size()
            armed = LINUX and any(m & epoll_state.EPOLLOUT
                                  for m in epoll_state.masks(watch.fd, epfd))
        finally:
            watch.close()
        transport.close()
        got = await read_all(peer)
        await proto.lost
        peer.close()
        return filled, size, armed, got

    filled, size, armed, got = run(lp, main())
    assert 0 < size <= MIB + 100
    assert armed or not LINUX
    assert got == b"\0" * filled + b"".join(parts)


def test_close_with_a_huge_write_pending_sends_it_all_then_closes(loop):
    data = payload(10 * MIB)

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        watch = Watch(sock, EPFD[loop])
        try:
            transport.write(data)
            transport.close()
            closing = transport.is_closing()
            got = await read_all(peer, len(data))
            exc = await proto.lost
            registered = watch.registered()
        finally:
            watch.close()
        end = await read_all(peer)
        peer.close()
        return closing, got, end, exc, registered, proto.events

    closing, got, end, exc, registered, events = run(loop, main())
    assert closing and got == data and end == b""
    assert exc is None and "lost" in events and not registered


def test_abort_with_a_huge_write_pending_drops_the_rest(loop):
    data = payload(10 * MIB)

    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        watch = Watch(sock, EPFD[loop])
        try:
            transport.write(data)
            pending = transport.get_write_buffer_size()
            transport.abort()
            size = transport.get_write_buffer_size()
            exc = await proto.lost
            registered = watch.registered()
        finally:
            watch.close()
        got = await read_all(peer)
        peer.close()
        return pending, size, exc, registered, got, sock.fileno()

    pending, size, exc, registered, got, fileno = run(loop, main())
    assert pending > 0 and size == 0 and exc is None
    assert not registered and fileno == -1
    assert len(got) < len(data) and got == data[:len(got)]


def test_a_peer_reset_with_writes_queued_ends_with_the_send_error(loop):
    async def main():
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        watch = Watch(sock, EPFD[loop])
        try:
            transport.pause_reading()           # the error must come from a send
            transport.write(payload(8 * MIB))
            assert transport.get_write_buffer_size() > 0
            reset(peer)
            exc = await proto.lost
            return exc, transport.get_write_buffer_size(), watch.registered(), sock.fileno()
        finally:
            watch.close()

    exc, size, registered, fileno = run(loop, main())
    assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
    assert size == 0 and not registered and fileno == -1


def test_writelines_to_a_reset_peer_ends_with_the_send_error(loop):
    async def main():
        proto = Recorder()
        transport, _sock, peer = await connected(proto)
        transport.pause_reading()               # the error must come from a send
        reset(peer)
        await asyncio.sleep(0.05)
        for _ in range(3):                      # the first may still be accepted
            transport.writelines([payload(64 * KIB), payload(64 * KIB, 1)])
            if transport.is_closing():
                break
            await asyncio.sleep(0.01)
        return await proto.lost

    exc = run(loop, main())
    assert isinstance(exc, (ConnectionResetError, BrokenPipeError))


needs_buffer_protocol_in_python = pytest.mark.skipif(
    sys.version_info < (3, 12), reason="__buffer__ (PEP 688) is 3.12+")


class Fickle(bytearray):
    """A bytearray whose buffer is what ``answer(call number)`` says."""

    def __init__(self, data, answer):
        super().__init__(data)
        self.calls = 0
        self.answer = answer

    def __buffer__(self, flags):
        self.calls += 1
        return self.answer(self, self.calls, flags)


def _refuse_after(n):
    def answer(self, call, flags):
        if call > n:
            raise BufferError("no buffer today")
        return bytearray.__buffer__(self, flags)
    return answer


def _shrink_after(n):
    def answer(self, call, flags):
        return bytearray.__buffer__(self, flags) if call <= n else memoryview(b"z")
    return answer


@needs_buffer_protocol_in_python
@pytest.mark.parametrize("answer, error", [
    (_refuse_after(1), "no buffer today"),      # write() measures it, then queueing fails
])
def test_a_buffer_that_cannot_be_queued_ends_the_connection(yloop, answer, error):
    lp, _epfd = yloop
    handled = []

    async def main():
        lp.set_exception_handler(lambda loop, ctx: handled.append(ctx))
        proto = Recorder()
        transport, sock, peer = await connected(proto)
        fill(sock)
        transport.write(payload(3 * MIB))       # queued: the next write is queued whole
        transport.write(Fickle(b"q" * 100, answer))
        exc = await proto.lost
        peer.close()
        return exc

    exc = run(lp, main())
    assert isinstance(exc, BufferError) and str(exc) == error
    assert [ctx["message"] for ctx in handled] == ["Fatal write error on socket transport"]


@needs_buffer_protocol_in_python
def test_a_buffer_that_shrinks_after_its_first_part_is_sent_ends_the_connection(yloop):
    lp, _ = yloop
    handled = []

    async def main():
        lp.set_exception_handler(lambda loop, ctx: handled.append(ctx))
        proto = Recorder()
        transport, _sock, peer = await connected(proto)
        # Measured, sent in part (the socket takes less than 16 MiB), then
        # queued from a buffer of 1 byte.
        transport.write(Fickle(b"s" * (16 * MIB), _shrink_after(2)))
        exc = await proto.lost
        peer.close()
        return exc

    exc = run(lp, main())
    assert isinstance(exc, BufferError)
    assert "buffer shrank to 1 bytes after" in str(exc)
    assert [ctx["message"] for ctx in handled] == ["Fatal write error on socket transport"]

