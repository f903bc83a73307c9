"""Load: 10,000 concurrent loopback connections (native API and asyncio loop),
1,000,000 concurrently sleeping tasks.

The clients run in a child process, so that each side needs only 10,000
fds; both raise their soft fd limit to what they need. Tests are marked
heavy (kept out of the valgrind run) and print their figures with -s.
"""

import gc
import os
import resource
import subprocess
import sys
import textwrap

import pytest

import yieldloop as yl

pytestmark = pytest.mark.heavy

CONNECTIONS = 10_000


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"the hard fd limit ({hard}) is below {need}")
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return soft, hard


@pytest.fixture
def fd_room():
    soft, hard = raise_fd_limit(CONNECTIONS + 512)
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# The clients: open CONNECTIONS connections (in waves, so the listen queue
# keeps up), each says its number; once all are open and answered, close.
CLIENTS = textwrap.dedent("""
    import asyncio, resource, sys
    import yieldloop as yl
    port, n = int(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 512), hard))

    async def one(i, opened, release):
        s = await yl.open_connection("127.0.0.1", port)
        await s.send_all(b"%d\\n" % i)
        assert await s.readline() == b"%d\\n" % i
        opened.append(i)
        if len(opened) == n:
            release.set()
        await release.wait()
        await s.aclose()

    async def main():
        opened, release = [], yl.Event()
        async with yl.TaskGroup() as tg:
            for start in range(0, n, 500):
                for i in range(start, min(n, start + 500)):
                    tg.spawn(one, i, opened, release)
                await yl.sleep(0.01)
        print("opened", len(opened))

    yl.run(main)
""")


def start_clients(port):
    return subprocess.Popen([sys.executable, "-c", CLIENTS, str(port), str(CONNECTIONS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ten_thousand_concurrent_connections_native(fd_room):
    peak = [0]
    live = [0]

    async def handler(stream):
        live[0] += 1
        peak[0] = max(peak[0], live[0])
        try:
            line = await stream.readline()
            await stream.send_all(line)
            await stream.read()            # until the client closes
        finally:
            live[0] -= 1

    async def main():
        async with await yl.start_server(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            proc = start_clients(port)
            out = await yl.to_thread(proc.communicate, timeout=300)
            assert proc.returncode == 0, out[1][-2000:]
            return out[0]

    out = yl.run(main)
    assert out.split() == ["opened", str(CONNECTIONS)]
    assert peak[0] == CONNECTIONS
    print(f"\nnative API: {peak[0]} connections held at once")


def test_ten_thousand_concurrent_connections_asyncio_loop(fd_room):
    import asyncio

    counts = {"live": 0, "peak": 0}

    async def handler(reader, writer):
        counts["live"] += 1
        counts["peak"] = max(counts["peak"], counts["live"])
        try:
            writer.write(await reader.readline())
            await writer.drain()
            await reader.read()
        finally:
            counts["live"] -= 1
            writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        proc = start_clients(port)
        out = await asyncio.get_running_loop().run_in_executor(
            None, lambda: proc.communicate(timeout=300))
        server.close()
        await server.wait_closed()
        assert proc.returncode == 0, out[1][-2000:]
        return out[0]

    out = yl.run_asyncio(main())
    assert out.split() == ["opened", str(CONNECTIONS)]
    assert counts["peak"] == CONNECTIONS
    print(f"\nasyncio front end: {counts['peak']} connections held at once")


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_a_million_sleeping_tasks():
    n = 1_000_000

    async def sleeper():
        await yl.sleep(3600)

    async def main():
        gc.collect()
        before = _rss()
        tasks = [yl.spawn(sleeper) for _ in range(n)]
        await yl.sleep(0)                      # every task reaches its sleep
        s = yl.stats()
        held = (s["tasks"], s["timers"])
        per_task = (_rss() - before) / n
        for t in tasks:
            t.cancel()
        await yl.sleep(0)
        return held, per_task

    (tasks, timers), per_task = yl.run(main)
    assert tasks == n + 1 and timers == n
    if not os.environ.get("PYTHONMALLOC", "").startswith("malloc"):
        # Under PYTHONMALLOC=malloc (the sanitizer and valgrind runs) every
        # object carries the system allocator's header and the sanitizer's
        # redzones, so the figure says nothing about yieldloop there.
        assert per_task < 1024
    print(f"\n{n:,} sleeping tasks: {per_task:.0f} bytes per task (RSS)")
