"""Stream reader fuzzer: line, separator and limit parsing, against asyncio.

A case is a payload cut into chunks, a buffer limit and a list of read
operations (``readline``, ``readuntil`` with several separators, ``read(n)``,
``readexactly(n)``, ``async for``). The same case runs twice:

- on yieldloop: a ``yl.Stream`` reads one end of a Unix socket pair while a
  writer task sends the chunks one at a time, each once the reader is
  waiting again, then shuts the socket down;
- on asyncio: an ``asyncio.StreamReader`` with the same limit is fed the same
  chunks at the same points, then ``feed_eof()``.

Both must log the same results and the same errors (type, message,
``partial``, ``expected``, ``consumed``), and whatever the reader did not
consume must be left in the same order. The chunk boundaries matter (a
separator split across two chunks, a limit crossed in the middle of one), so
they are part of what is generated. Without a readline that dropped an
over-long line, the bytes read and the bytes left add up to the payload.

Used by tests/test_fuzz.py (a few hundred derandomized cases) and by
``scripts/fuzz`` (100,000 random ones).
"""

import asyncio
import socket

from hypothesis import strategies as st

import yieldloop as yl

SEPARATORS = (b"\n", b"\r\n", b"ab", b"xyz", b"a", b"")
ALPHABET = b"ab\r\nxyz"
# Enough scheduling rounds for the reader to take a chunk and wait again.
ROUNDS_PER_CHUNK = 4

op = st.one_of(
    st.just(("readline",)),
    st.just(("anext",)),
    st.tuples(st.just("readuntil"), st.integers(0, len(SEPARATORS) - 1)),
    st.tuples(st.just("read"), st.integers(-1, 30)),
    st.tuples(st.just("readexactly"), st.integers(-1, 30)),
)
chunk = st.one_of(
    st.binary(max_size=12).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b)),
    st.lists(st.sampled_from([b"a", b"b", b"\n", b"\r\n", b"xyz", b"ab", b"x" * 50]),
             max_size=10).map(b"".join),
)
cases = st.fixed_dictionaries({
    "chunks": st.lists(chunk, max_size=8),
    "limit": st.integers(1, 40),
    "ops": st.lists(op, min_size=1, max_size=12),
})


def describe_error(e):
    """What both runtimes must agree on about an error."""
    return (type(e).__name__, str(e), getattr(e, "partial", None),
            getattr(e, "expected", None), getattr(e, "consumed", None))


async def perform(reader, ops, errors):
    """Apply ``ops`` to ``reader``; the log of results and errors."""
    log = []
    for o in ops:
        name = o[0]
        try:
            if name == "readline":
                got = await reader.readline()
            elif name == "anext":
                got = await reader.__anext__()
            elif name == "readuntil":
                got = await reader.readuntil(SEPARATORS[o[1]])
            elif name == "read":
                got = await reader.read(o[1])
            else:
                got = await reader.readexactly(o[1])
        except StopAsyncIteration:
            log.append((o, "end"))
        except errors as e:
            log.append((o, describe_error(e)))
        else:
            log.append((o, got))
    log.append(("rest", await reader.read()))
    return log


async def on_yieldloop(case):
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        stream = yl.Stream(a, limit=case["limit"])

        async def writer():
            for c in case["chunks"]:
                if c:
                    b.send(c)
                for _ in range(ROUNDS_PER_CHUNK):
                    await yl.sleep(0)
            b.shutdown(socket.SHUT_WR)

        w = yl.spawn(writer)
        log = await perform(stream, case["ops"],
                            (yl.IncompleteReadError, yl.LimitOverrunError, ValueError))
        await w
        await stream.aclose()
        return log
    finally:
        a.close()
        b.close()


async def on_asyncio(case):
    reader = asyncio.StreamReader(limit=case["limit"])

    async def feeder():
        for c in case["chunks"]:
            reader.feed_data(c)
            for _ in range(ROUNDS_PER_CHUNK):
                await asyncio.sleep(0)
        reader.feed_eof()

    f = asyncio.ensure_future(feeder())
    log = await perform(reader, case["ops"],
                        (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError))
    await f
    return log


def asyncio_log(case):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(on_asyncio(case))
    finally:
        loop.close()


def received(log):
    """The bytes the log says were read, in order, or None if a readline
    dropped an over-long line (then they need not add up)."""
    parts = []
    for o, got in log:
        if isinstance(got, bytes):
            parts.append(got)
        elif isinstance(got, tuple) and got[0] == "IncompleteReadError":
            parts.append(got[2])
        elif isinstance(got, tuple) and got[0] == "ValueError" and o[0] in ("readline", "anext"):
            return None
    return b"".join(parts)


def execute(case):
    """Run ``case`` on both; AssertionError if they disagree."""
    mine = yl.run(on_yieldloop, case)
    theirs = asyncio_log(case)
    assert mine == theirs, "yieldloop and asyncio differ:\n  %r\n  %r" % (mine, theirs)
    data = received(mine)
    if data is not None:
        assert data == b"".join(case["chunks"]), "bytes lost or invented: %r" % (mine,)
    return mine
