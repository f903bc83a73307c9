"""yieldloop.Loop's bulk reads reuse the block of a chunk nobody kept.

After a full bulk read was handed to ``data_received()``, the transport
keeps the bytes object if the protocol did not (its only reference is the
transport's) and the loop's next bulk read receives into it: a bulk
transfer reuses one 64 KiB block instead of allocating and freeing one per
read, which on glibc trimmed and regrew the heap, and page-faulted the
block in again, once or more per read with many connections (includes/net.h,
yl_recv_keep_spare). What a protocol keeps of a chunk (the object, a view
of it, its hash) must never see it change; these tests would see it.
"""

import asyncio
import gc
import tracemalloc

import pytest

import yieldloop
from bulk_support import KIB, MIB, RECV_MAX, connected, payload, queued, until

LOOPS = {"asyncio": asyncio.new_event_loop, "yieldloop": yieldloop.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request):
    lp = LOOPS[request.param]()
    yield lp
    lp.close()


class Copier(asyncio.Protocol):
    """Keeps a copy of each chunk, a view or the chunk itself as told, and
    the hash of each as computed then."""

    def __init__(self, keep=None):
        self.keep = keep
        self.copies = []
        self.kept = []
        self.hashes = []
        self.lost = asyncio.get_running_loop().create_future()

    def data_received(self, data):
        self.copies.append(bytes(bytearray(data)))      # a copy, never the object itself
        self.hashes.append((hash(data), hash(self.copies[-1])))
        if self.keep == "object":
            self.kept.append(data)
        elif self.keep == "view":
            self.kept.append(memoryview(data))

    def connection_lost(self, exc):
        self.lost.set_result(exc)

    @property
    def received(self):
        return b"".join(self.copies)


async def transfer(protocols, size):
    """Send ``size`` bytes to each of ``protocols`` at once, queued before
    reading starts so that reads come full; end each stream and wait."""
    loop = asyncio.get_running_loop()
    pairs = [await connected(p, rcvbuf=MIB) for p in protocols]
    for i, (transport, sock, peer) in enumerate(pairs):
        transport.pause_reading()
        await loop.sock_sendall(peer, payload(size, i))
    for transport, sock, peer in pairs:
        await until(lambda s=sock: queued(s) == size, "the data to be queued")
    for transport, sock, peer in pairs:
        transport.resume_reading()
    for p, (transport, sock, peer) in zip(protocols, pairs):
        await until(lambda p=p: len(p.received) == size, "all the data")
        peer.close()
        await p.lost


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 300))


@pytest.mark.parametrize("keep", [None, "object", "view"])
def test_what_a_protocol_keeps_of_a_chunk_never_changes(loop, keep):
    async def main():
        p = Copier(keep)
        await transfer([p], 768 * KIB)
        return p

    p = run(loop, main())
    assert p.received == payload(768 * KIB, 0)
    if keep == "object":
        assert b"".join(p.kept) == p.received
    elif keep == "view":
        assert b"".join(bytes(v) for v in p.kept) == p.received
    # The hash of each chunk, taken when it arrived, is that of its content:
    # a reused block does not keep the hash of what it held before.
    assert all(h == c for h, c in p.hashes)


def test_kept_chunks_are_never_reused():
    loop = yieldloop.new_event_loop()
    try:
        async def main():
            p = Copier("object")
            await transfer([p], 768 * KIB)
            return p

        p = run(loop, main())
    finally:
        loop.close()
    assert len(set(map(id, p.kept))) == len(p.kept)


def test_connections_reading_at_once_share_the_block_and_get_their_own_data(loop):
    async def main():
        ps = [Copier(keep) for keep in (None, "view", None, "object", None)]
        await transfer(ps, 512 * KIB)
        return ps

    for i, p in enumerate(run(loop, main())):
        assert p.received == payload(512 * KIB, i)
        assert all(h == c for h, c in p.hashes)


def test_closing_the_loop_frees_its_spare_block():
    loop = yieldloop.new_event_loop()
    tracemalloc.start()
    try:
        async def main():
            await transfer([Copier()], 768 * KIB)   # the chunks are dropped: a spare is kept

        run(loop, main())
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        loop.close()                  # the loop object itself stays alive
        gc.collect()
        freed = before - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert freed >= RECV_MAX, freed
