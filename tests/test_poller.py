"""The poller, through its Python surface: the same tests for epoll and kqueue."""

import os
import socket
import sys
import threading
import time

import pytest

from yieldloop import _poller
from yieldloop._poller import ERROR, READ, WRITE, Poller


@pytest.fixture
def poller():
    p = Poller()
    yield p
    p.close_poller()


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def fds(events):
    return sorted(fd for fd, _ in events)


def test_backend_is_the_one_for_this_os():
    expected = "epoll" if sys.platform.startswith("linux") else "kqueue"
    assert _poller.BACKEND == expected


def test_writable_pipe_is_reported_writable(poller, pipe):
    r, w = pipe
    poller.add_writer(w, "writer")
    assert poller.wait(0) == [(w, WRITE)]


def test_reader_is_reported_only_after_data_arrives(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "reader")
    assert poller.wait(0) == []
    os.write(w, b"x")
    events = poller.wait(1.0)
    assert fds(events) == [r]
    assert events[0][1] & READ


def test_waiters_stay_registered_until_removed(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "reader")
    os.write(w, b"x")
    assert fds(poller.wait(0)) == [r]
    assert fds(poller.wait(0)) == [r]   # level-triggered: still readable
    assert poller.remove_reader(r) == "reader"
    assert poller.remove_reader(r) is None
    assert poller.nwaiters == 0


def test_registration_is_kept_across_waits_for_the_same_owner(poller):
    a, b = socket.socketpair()
    try:
        poller.add_reader(a.fileno(), "w1", a)
        calls = poller.ctl_calls
        for _ in range(10):
            poller.remove_reader(a.fileno())
            poller.add_reader(a.fileno(), "w2", a)
        assert poller.ctl_calls == calls    # no system call per wait
        b.send(b"x")
        assert fds(poller.wait(1.0)) == [a.fileno()]
    finally:
        a.close()
        b.close()


def test_bare_fd_registration_is_resubmitted_on_each_wait(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "w1")
    calls = poller.ctl_calls
    poller.remove_reader(r)
    poller.add_reader(r, "w2")
    assert poller.ctl_calls == calls + 1


def test_event_nobody_waits_for_disarms_the_fd(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "reader")
    poller.remove_reader(r)
    assert poller.armed_fds == 1
    os.write(w, b"x")
    assert poller.wait(0) == [(r, READ)]     # reported once ...
    assert poller.armed_fds == 0             # ... and disarmed,
    assert poller.wait(0) == []              # so it does not spin.


def test_reused_fd_number_for_a_new_owner_is_watched(poller):
    a, peer = socket.socketpair()
    fd = a.fileno()
    poller.add_reader(fd, "old", a)
    poller.remove_reader(fd)
    a.close()                     # the OS drops the registration silently
    peer.close()
    c, d = socket.socketpair()
    try:
        new = c if c.fileno() == fd else d
        other = d if new is c else c
        if new.fileno() != fd:
            pytest.skip("the OS did not reuse the fd number")
        poller.add_reader(fd, "new", new)
        other.send(b"x")
        assert fds(poller.wait(1.0)) == [fd]
    finally:
        c.close()
        d.close()


def test_second_waiter_for_the_same_side_is_refused(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "first")
    with pytest.raises(RuntimeError, match="already has a read waiter"):
        poller.add_reader(r, "second")
    poller.add_writer(w, "writer")    # the other side is independent


def test_reader_and_writer_on_one_fd_are_reported_separately(poller):
    a, b = socket.socketpair()
    try:
        poller.add_reader(a.fileno(), "r", a)
        poller.add_writer(a.fileno(), "w", a)
        assert poller.wait(0) == [(a.fileno(), WRITE)]
        b.send(b"x")
        flags = 0
        for _ in range(2):       # kqueue reports the two filters apart
            for fd, f in poller.wait(0):
                flags |= f
        assert flags & READ and flags & WRITE
    finally:
        a.close()
        b.close()


def test_hang_up_wakes_the_reader(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "reader")
    os.close(w)
    events = poller.wait(1.0)
    assert fds(events) == [r]
    assert events[0][1] & (READ | ERROR)


def test_wait_returns_after_its_timeout(poller):
    start = time.monotonic()
    assert poller.wait(0.05) == []
    assert time.monotonic() - start >= 0.05


def test_wake_from_another_thread_ends_a_blocked_wait(poller):
    threading.Timer(0.05, poller.wake).start()
    start = time.monotonic()
    assert poller.wait(30.0) == []
    assert time.monotonic() - start < 10.0


def test_wakeups_are_drained_so_the_next_wait_blocks(poller):
    for _ in range(100):
        poller.wake()
    assert poller.wait(0) == []
    start = time.monotonic()
    poller.wait(0.05)
    assert time.monotonic() - start >= 0.05


def test_negative_fd_is_refused(poller):
    with pytest.raises(ValueError, match="invalid file descriptor"):
        poller.add_reader(-1, "x")


def test_fd_that_is_not_open_raises_oserror(poller, pipe):
    r, w = pipe
    os.close(r)
    with pytest.raises(OSError):
        poller.add_reader(r, "x")
    assert poller.nwaiters == 0


def test_forget_drops_the_registration_before_close(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "reader")
    poller.remove_reader(r)
    poller.forget_fd(r)
    assert poller.armed_fds == 0
    os.write(w, b"x")
    assert poller.wait(0) == []


def test_fds_beyond_the_initial_table_are_supported(poller):
    r, w = os.pipe()
    high = os.dup2(w, 900) if os.sysconf("SC_OPEN_MAX") > 900 else w
    try:
        poller.add_writer(high, "high")
        assert poller.wait(0) == [(high, WRITE)]
    finally:
        os.close(r)
        os.close(w)
        if high != w:
            os.close(high)


def test_close_releases_waiters_and_refuses_new_ones(pipe):
    r, w = pipe
    p = Poller()
    waiter = object()
    base = sys.getrefcount(waiter)
    p.add_reader(r, waiter)
    assert sys.getrefcount(waiter) == base + 1
    p.close_poller()
    assert sys.getrefcount(waiter) == base
    assert p.closed
    with pytest.raises(RuntimeError, match="closed"):
        p.add_reader(r, waiter)
    with pytest.raises(RuntimeError, match="closed"):
        p.wait(0)


def test_poller_fds_are_closed_by_close():
    from conftest import open_fds

    before = open_fds()
    p = Poller()
    assert open_fds() == before + 3      # poll fd + wake-up pipe
    p.close_poller()
    assert open_fds() == before
