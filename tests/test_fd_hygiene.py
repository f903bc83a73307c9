"""Fd hygiene: closing while a task waits, reused fd numbers, two readers,
cancellation at every socket wait, files that outlive their fd number, on
both front ends. (conftest.py checks every test for leaked fds.)

What the OS holds is read from /proc/self/fdinfo (see epoll_state): a
registration left behind is what makes a loop spin, whatever the kernel's
own counts say.
"""

import asyncio
import os
import socket
import subprocess
import sys
import textwrap

import pytest

import epoll_state
import yieldloop as yl

LINUX = sys.platform.startswith("linux")


def epfd():
    """The running kernel's epoll descriptor."""
    return yl.current_kernel().poller.fileno()


def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def settle(n=5):
    for _ in range(n):
        await yl.sleep(0)


def test_notify_closing_wakes_a_task_waiting_on_the_socket():
    a, b = pair()
    with b:
        async def main():
            reader = yl.spawn(yl.sock_recv(a, 10))
            await settle()
            fd = a.fileno()
            if LINUX:
                assert epoll_state.armed(fd, epfd())
            yl.notify_closing(a)
            a.close()
            with pytest.raises(yl.ClosedResourceError, match="closed while task"):
                await reader
            assert yl.stats()["fds"] == 0
            if LINUX:
                assert not epoll_state.registered(fd, epfd())

        yl.run(main)


def test_closing_a_stream_wakes_its_reader_with_a_clear_error():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        reader = yl.spawn(b.read(10))
        await settle()
        b.close()
        with pytest.raises(yl.ClosedResourceError):
            await reader
        with pytest.raises(yl.ClosedResourceError):
            await b.read(1)
        with pytest.raises(yl.ClosedResourceError):
            b.write(b"x")
        await a.aclose()
        assert yl.stats()["fds"] == 0

    yl.run(main)


def test_socket_closed_behind_the_kernels_back_then_reused_evicts_the_stale_waiter():
    async def main():
        a, b = pair()
        stale = yl.spawn(yl.sock_recv(a, 10))
        await settle()
        fd = a.fileno()
        a.close()                          # no notify_closing: the kernel is not told
        b.close()
        c, d = pair()
        new = c if c.fileno() == fd else d
        other = d if new is c else c
        with c, d:
            if new.fileno() != fd:
                stale.cancel()
                pytest.skip("the OS did not reuse the fd number")
            fresh = yl.spawn(yl.sock_recv(new, 100))
            await settle()
            # The waiter of the closed socket is woken with an error, not left
            # hanging, and the new socket's reader is not woken by it.
            with pytest.raises(yl.ClosedResourceError):
                await stale
            assert not fresh.done()
            other.send(b"for the new one")
            assert await fresh == b"for the new one"

    yl.run(main)


def test_data_for_a_reused_fd_does_not_wake_a_cancelled_old_waiter():
    async def main():
        a, b = pair()
        old = yl.spawn(yl.sock_recv(a, 10))
        await settle()
        old.cancel()
        with pytest.raises(yl.CancelledError):
            await old
        yl.notify_closing(a)
        a.close()
        b.close()
        c, d = pair()
        with c, d:
            got = yl.spawn(yl.sock_recv(c, 10))
            await settle()
            d.send(b"new")
            assert await got == b"new"

    yl.run(main)


def test_two_tasks_reading_one_socket_get_a_clear_error():
    a, b = pair()
    with a, b:
        async def main():
            first = yl.spawn(yl.sock_recv(a, 10))
            second = yl.spawn(yl.sock_recv(a, 10))
            with pytest.raises(yl.BusyResourceError, match="already waiting"):
                await second
            b.send(b"one")
            assert await first == b"one"

        yl.run(main)


def test_two_tasks_reading_one_stream_get_a_clear_error():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        async with a, b:
            first = yl.spawn(b.read(10))
            second = yl.spawn(b.read(10))
            with pytest.raises(yl.BusyResourceError):
                await second
            await a.send_all(b"data")
            assert await first == b"data"

    yl.run(main)


def fill(sock):
    """Fill the socket's send buffer so the next send would block."""
    try:
        while True:
            sock.send(b"f" * 65536)
    except BlockingIOError:
        pass


async def cancel_blocked(aw, fd=None, fds_left=0):
    """Cancel ``aw`` once it blocks; nothing of it may stay registered, in
    the kernel or in the OS (``fds_left``: waiters that belong to something
    else, e.g. a stream's background flush on the same fd)."""
    t = yl.spawn(aw)
    await settle()
    assert not t.done(), "the operation did not block"
    if fd is not None and LINUX:
        assert epoll_state.armed(fd, epfd())
    t.cancel()
    with pytest.raises(yl.CancelledError):
        await t
    s = yl.stats()
    assert s["fds"] == fds_left and s["timers"] == 0, s
    if fd is not None and LINUX and not fds_left:
        assert not epoll_state.registered(fd, epfd())


def test_cancel_during_sock_recv_leaves_nothing_registered():
    a, b = pair()
    with a, b:
        yl.run(cancel_blocked, yl.sock_recv(a, 10), a.fileno())


def test_cancel_during_sock_recv_into_leaves_nothing_registered():
    a, b = pair()
    with a, b:
        yl.run(cancel_blocked, yl.sock_recv_into(a, bytearray(10)), a.fileno())


def test_cancel_during_sock_sendall_leaves_nothing_registered():
    a, b = pair()
    with a, b:
        fill(a)
        yl.run(cancel_blocked, yl.sock_sendall(a, b"x" * 100_000), a.fileno())


def test_cancel_during_sock_accept_leaves_nothing_registered():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    lsock.setblocking(False)
    with lsock:
        yl.run(cancel_blocked, yl.sock_accept(lsock), lsock.fileno())


def test_cancel_during_stream_reads_leaves_nothing_registered():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        async with a, b:
            for aw in (b.read(10), b.readexactly(5), b.readline(), b.readuntil(b"!")):
                await cancel_blocked(aw, y.fileno())
            await a.send_all(b"still works\n")
            assert await b.readline() == b"still works\n"

    yl.run(main)


def test_cancel_during_drain_and_send_all_leaves_nothing_registered():
    async def main():
        x, y = socket.socketpair()
        a, b = yl.Stream(x), yl.Stream(y)
        try:
            a.write(b"z" * 5_000_000)          # far more than the socket takes
            # The stream keeps flushing in the background: one waiter is its.
            await cancel_blocked(a.drain(), x.fileno(), fds_left=1)
            await cancel_blocked(a.send_all(b"more"), x.fileno(), fds_left=1)
            fd = x.fileno()
        finally:
            a.close()                          # drops what is unsent
            b.close()
        assert yl.stats()["fds"] == 0
        if LINUX:
            assert not epoll_state.registered(fd, epfd())

    yl.run(main)


def test_cancel_during_server_accept_and_connection_cleans_up():
    async def main():
        server = await yl.start_server(lambda s: s.read(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = await yl.open_connection("127.0.0.1", port)
        await settle()
        await server.aclose()
        await conn.aclose()
        s = yl.stats()
        assert s["fds"] == 0 and s["tasks"] == 1, s
        if LINUX:
            # Only the poller's own wake-up pipe is left in its epoll set.
            assert len(epoll_state.registrations(epfd())) == 1

    yl.run(main)


def test_wait_readable_on_a_pipe_then_notify_closing():
    r, w = os.pipe()
    os.close(w)

    async def main():
        # A pipe whose writer is gone is readable (EOF): no wait at all.
        await yl.wait_readable(r)
        yl.notify_closing(r)
        os.close(r)

    yl.run(main)


def test_notify_closing_refuses_a_closed_socket():
    s = socket.socket()
    s.close()

    async def main():
        with pytest.raises(ValueError, match="already closed"):
            yl.notify_closing(s)

    yl.run(main)


# --- the asyncio front end: readers and writers leave nothing in the OS


def test_loop_remove_reader_and_writer_remove_the_os_registration():
    a, b = pair()

    async def main():
        loop = asyncio.get_running_loop()
        fd = a.fileno()
        loop.add_reader(fd, lambda: None)
        loop.add_writer(fd, lambda: None)
        if LINUX:
            assert epoll_state.armed(fd)
        loop.remove_writer(fd)
        if LINUX:
            io = epoll_state.EPOLLIN | epoll_state.EPOLLOUT
            assert [mask & io for mask in epoll_state.masks(fd)] == [epoll_state.EPOLLIN]
        loop.remove_reader(fd)
        if LINUX:
            assert not epoll_state.registered(fd)

    try:
        yl.run_asyncio(main())
    finally:
        a.close()
        b.close()


def test_loop_transport_close_leaves_no_registration():
    async def main():
        loop = asyncio.get_running_loop()
        served = loop.create_future()

        async def handle(reader, writer):
            fd = writer.get_extra_info("socket").fileno()
            await reader.read()                  # until the client closes
            writer.close()
            await writer.wait_closed()
            served.set_result(fd)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        fd = writer.get_extra_info("socket").fileno()
        if LINUX:
            assert epoll_state.armed(fd)
        writer.close()
        await writer.wait_closed()
        server_fd = await served
        server.close()
        await server.wait_closed()
        if LINUX:
            assert not epoll_state.registered(fd)
            assert not epoll_state.registered(server_fd)
        assert loop._core_stats["fds"] == 0        # the wake-up pipe is the core's, no waiter

    yl.run_asyncio(main())


# --- a file that outlives its fd number never makes the loop spin

# Each scenario runs in a child process: it leaves a socket's file open
# through a dup() while its fd number is closed, makes the file readable,
# then sleeps 0.4 s on the loop and prints the share of a CPU it used
# and whether any epoll set still holds a registration for the number. A
# loop that cannot sleep uses all the CPU it is given (on a loaded machine
# that may be far less than a whole one); a sleeping one uses microseconds
# whatever the load.

SPIN = """
    import asyncio, os, socket, sys, time
    sys.path.insert(0, {tests!r})
    import epoll_state
    import yieldloop as yl

    a, b = socket.socketpair()
    a.setblocking(False)
    keep = os.dup(a.fileno())                # the file outlives a's number
    fd = a.fileno()

    async def native_cancel():
        t = yl.spawn(yl.wait_readable(a))
        await yl.sleep(0)
        t.cancel()
        try:
            await t
        except yl.CancelledError:
            pass

    async def native_event():
        b.send(b"x")
        await yl.wait_readable(a)            # woken by an event
        a.recv(10)

    async def native_closed_while_waiting():
        # Misuse: closed without notify_closing() while a task waits.
        t = yl.spawn(yl.sock_recv(a, 10))
        await yl.sleep(0)
        a.close()
        b.send(b"x")
        try:
            await t
        except OSError:
            pass

    async def loop_remove():
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, lambda: None)
        await asyncio.sleep(0)
        loop.remove_reader(fd)

    async def loop_closed_while_watched():
        # Misuse: closed before remove_reader().
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, lambda: None)
        await asyncio.sleep(0)
        a.close()
        loop.remove_reader(fd)

    scenario = sys.argv[1]
    native = scenario.startswith("native")

    async def main():
        await globals()[scenario]()
        a.close()
        b.send(b"y")                         # the file is readable now
        c0, w0 = time.process_time(), time.monotonic()
        await (yl.sleep(0.4) if native else asyncio.sleep(0.4))
        share = (time.process_time() - c0) / (time.monotonic() - w0)
        return share, epoll_state.armed(fd)

    share, armed = yl.run(main) if native else yl.run_asyncio(main())
    print(round(share, 3), armed)
    os.close(keep)
    b.close()
"""


@pytest.mark.skipif(not LINUX, reason="kqueue drops a filter with its fd number")
@pytest.mark.parametrize("scenario", [
    "native_cancel", "native_event", "native_closed_while_waiting",
    "loop_remove", "loop_closed_while_watched"])
def test_file_outliving_its_closed_fd_does_not_make_the_loop_spin(scenario):
    tests = os.path.dirname(os.path.abspath(__file__))
    script = textwrap.dedent(SPIN).format(tests=tests)
    proc = subprocess.run([sys.executable, "-c", script, scenario],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    share, armed = proc.stdout.split()
    print(f"{scenario}: {float(share):.1%} of a CPU over a 0.4 s idle sleep")
    assert float(share) < 0.05, f"the loop used {share} of a CPU while idle"
    assert armed == "False"          # nothing left that could fire
