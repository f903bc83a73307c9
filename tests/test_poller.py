"""The poller, through its Python surface: the same tests for epoll and kqueue."""

import os
import socket
import sys
import threading
import time

import pytest

import epoll_state
from yieldloop.core import _poller
from yieldloop.core._poller import ERROR, READ, WRITE, Poller


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


def test_persistent_waiter_keeps_its_registration_across_events(poller):
    a, b = socket.socketpair()
    with a, b:
        poller.add_reader(a.fileno(), "w", a)
        calls = poller.ctl_calls
        for _ in range(5):
            b.send(b"x")
            assert fds(poller.wait(1.0)) == [a.fileno()]
            a.recv(10)
        assert poller.ctl_calls == calls    # no system call per event


def test_removing_a_waiter_removes_its_os_registration_at_once(poller, pipe):
    r, w = pipe
    poller.add_reader(r, "reader")
    assert poller.registered_fds == 1
    poller.remove_reader(r)
    assert poller.registered_fds == 0 and poller.armed_fds == 0
    if sys.platform.startswith("linux"):
        assert not epoll_state.registered(r, poller.fileno())
    os.write(w, b"x")
    assert poller.wait(0) == []


def test_removing_one_side_keeps_the_other_registered(poller):
    a, b = socket.socketpair()
    with a, b:
        poller.add_reader(a.fileno(), "r", a)
        poller.add_writer(a.fileno(), "w", a)
        poller.remove_writer(a.fileno())
        assert poller.wait(0) == []           # writable, but nobody asks
        b.send(b"x")
        assert poller.wait(1.0) == [(a.fileno(), READ)]


@epoll_state.needs_fdinfo
def test_fd_closed_after_remove_leaves_nothing_even_if_its_file_lives_on(poller):
    a, b = socket.socketpair()
    keep = os.dup(a.fileno())                 # the file outlives a's number
    try:
        fd = a.fileno()
        poller.add_reader(fd, "reader", a)
        assert epoll_state.armed(fd, poller.fileno())
        poller.remove_reader(fd)
        a.close()
        b.send(b"x")                          # the file is readable now
        assert not epoll_state.registered(fd, poller.fileno())
        assert poller.wait(0) == []
    finally:
        os.close(keep)
        b.close()


def test_oneshot_event_disarms_the_registration_in_the_os(pipe):
    r, w = pipe
    p = Poller(oneshot=True)
    try:
        p.add_reader(r, "reader")
        os.write(w, b"x")
        assert p.wait(1.0) == [(r, READ)]
        assert p.armed_fds == 0 and p.registered_fds == 1
        if sys.platform.startswith("linux"):
            assert epoll_state.registered(r, p.fileno())
            assert not epoll_state.armed(r, p.fileno())
        calls = p.ctl_calls
        p.remove_reader(r)                    # the event took it: nothing to undo
        assert p.ctl_calls == calls
        assert p.wait(0) == []                # still readable, but disarmed
    finally:
        p.close_poller()


def test_oneshot_wait_again_rearms_with_one_system_call(pipe):
    r, w = pipe
    p = Poller(oneshot=True)
    try:
        p.add_reader(r, "first")
        os.write(w, b"x")
        assert p.wait(1.0) == [(r, READ)]
        p.remove_reader(r)
        calls = p.ctl_calls
        p.add_reader(r, "second")
        assert p.ctl_calls == calls + 1
        assert p.wait(1.0) == [(r, READ)]
    finally:
        p.close_poller()


def test_oneshot_waiter_left_in_place_is_reported_again(pipe):
    r, w = pipe
    p = Poller(oneshot=True)
    try:
        p.add_reader(r, "reader")
        os.write(w, b"x")
        assert p.wait(1.0) == [(r, READ)]
        assert p.wait(1.0) == [(r, READ)]     # re-armed: level semantics kept
    finally:
        p.close_poller()


def test_oneshot_cancelled_waiter_removes_its_registration(pipe):
    r, w = pipe
    p = Poller(oneshot=True)
    try:
        p.add_reader(r, "reader")
        p.remove_reader(r)                    # gone before any event
        assert p.registered_fds == 0
        if sys.platform.startswith("linux"):
            assert not epoll_state.registered(r, p.fileno())
    finally:
        p.close_poller()


def test_oneshot_other_side_is_rearmed_after_one_side_reports():
    a, b = socket.socketpair()
    p = Poller(oneshot=True)
    try:
        p.add_reader(a.fileno(), "r", a)
        p.add_writer(a.fileno(), "w", a)
        assert p.wait(1.0) == [(a.fileno(), WRITE)]
        assert p.remove_writer(a.fileno()) == "w"
        b.send(b"x")
        assert p.wait(1.0) == [(a.fileno(), READ)]
    finally:
        p.close_poller()
        a.close()
        b.close()


@epoll_state.needs_fdinfo
def test_stale_registration_of_a_file_closed_while_watched_is_dropped(poller):
    # Misuse: the fd is closed while its waiter is still registered, so
    # epoll keeps a registration nobody can remove. Its first event makes
    # the poller replace its epoll set; it never fires again.
    a, b = socket.socketpair()
    keep = os.dup(a.fileno())
    try:
        fd = a.fileno()
        poller.add_reader(fd, "reader", a)
        a.close()
        poller.remove_reader(fd)             # too late: epoll_ctl gets EBADF
        b.send(b"x")
        assert poller.wait(0) == []
        assert poller.stale_events == 1 and poller.rebuilds == 1
        assert not epoll_state.registered(fd, poller.fileno())
        assert poller.wait(0) == []
        assert poller.stale_events == 1
    finally:
        os.close(keep)
        b.close()


@epoll_state.needs_fdinfo
def test_rebuild_keeps_the_other_waiters(poller, pipe):
    r, w = pipe
    a, b = socket.socketpair()
    keep = os.dup(a.fileno())
    try:
        poller.add_reader(r, "pipe reader")
        poller.add_reader(a.fileno(), "stale", a)
        fd = a.fileno()
        a.close()
        poller.remove_reader(fd)
        b.send(b"x")
        assert poller.wait(0) == []
        assert poller.rebuilds == 1
        os.write(w, b"y")
        assert poller.wait(1.0) == [(r, READ)]
    finally:
        os.close(keep)
        b.close()


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


def test_the_pollers_own_descriptors_are_refused(poller):
    # A closed fd number can come back as one of the poller's own.
    for fd in (poller.fileno(), poller.wakeup_fd):
        with pytest.raises(OSError, match="poller's own"):
            poller.add_reader(fd, "x")
    assert poller.nwaiters == 0


def test_fd_that_is_not_open_raises_oserror(poller, pipe):
    r, w = pipe
    os.close(r)
    with pytest.raises(OSError):
        poller.add_reader(r, "x")
    assert poller.nwaiters == 0


def test_forget_drops_a_disarmed_registration_before_close(pipe):
    r, w = pipe
    p = Poller(oneshot=True)
    try:
        p.add_reader(r, "reader")
        os.write(w, b"x")
        assert p.wait(1.0) == [(r, READ)]
        p.remove_reader(r)
        assert p.registered_fds == 1          # disarmed, kept for the next wait
        p.forget_fd(r)
        assert p.registered_fds == 0
        if sys.platform.startswith("linux"):
            assert not epoll_state.registered(r, p.fileno())
    finally:
        p.close_poller()


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


# --- one poller, both modes: each waiter is one-shot or persistent


def test_persistent_waiter_stays_armed_on_a_oneshot_poller(pipe):
    r, w = pipe
    p = Poller(oneshot=True)
    try:
        p.add_reader(r, "reader", persistent=True)
        os.write(w, b"x")
        assert p.wait(1.0) == [(r, READ)]
        assert p.armed_fds == 1               # not disarmed by its event
        if sys.platform.startswith("linux"):
            assert epoll_state.armed(r, p.fileno())
        assert p.wait(1.0) == [(r, READ)]     # reported again, no system call
    finally:
        p.close_poller()


def test_oneshot_waiter_is_disarmed_on_a_persistent_poller(pipe):
    r, w = pipe
    p = Poller()
    try:
        p.add_reader(r, "reader", persistent=False)
        os.write(w, b"x")
        assert p.wait(1.0) == [(r, READ)]
        assert p.armed_fds == 0 and p.registered_fds == 1
        if sys.platform.startswith("linux"):
            assert not epoll_state.armed(r, p.fileno())
    finally:
        p.close_poller()


def test_fd_with_one_persistent_side_keeps_the_other_sides_event_from_disarming_it():
    a, b = socket.socketpair()
    p = Poller(oneshot=True)
    try:
        p.add_reader(a.fileno(), "r", a, persistent=True)
        p.add_writer(a.fileno(), "w", a)      # one-shot
        assert p.wait(1.0) == [(a.fileno(), WRITE)]
        assert p.remove_writer(a.fileno()) == "w"
        # The one-shot side went with its waiter; the persistent one stays.
        assert p.wait(0) == []
        if sys.platform.startswith("linux"):
            # Read interest alone, level-triggered (EPOLLONESHOT is 1 << 30).
            kept = epoll_state.EPOLLIN | epoll_state.EPOLLOUT | (1 << 30)
            assert [m & kept for m in epoll_state.masks(a.fileno(), p.fileno())] == [
                epoll_state.EPOLLIN]
        b.send(b"x")
        assert p.wait(1.0) == [(a.fileno(), READ)]
        assert p.wait(1.0) == [(a.fileno(), READ)]
    finally:
        p.close_poller()
        a.close()
        b.close()


def test_registration_turns_oneshot_when_its_persistent_waiter_goes():
    a, b = socket.socketpair()
    p = Poller(oneshot=True)
    try:
        p.add_writer(a.fileno(), "w", a, persistent=True)
        p.add_reader(a.fileno(), "r", a)      # one-shot
        assert p.remove_writer(a.fileno()) == "w"
        b.send(b"x")
        assert p.wait(1.0) == [(a.fileno(), READ)]
        assert p.armed_fds == 0               # one-shot again: disarmed by its event
        assert p.remove_reader(a.fileno()) == "r"
        assert p.registered_fds == 1          # left disarmed for the next wait to re-arm
    finally:
        p.close_poller()
        a.close()
        b.close()


def test_removing_the_last_persistent_waiter_removes_the_registration(pipe):
    r, w = pipe
    p = Poller(oneshot=True)
    try:
        p.add_reader(r, "reader", persistent=True)
        p.remove_reader(r)
        assert p.registered_fds == 0
        if sys.platform.startswith("linux"):
            assert not epoll_state.registered(r, p.fileno())
    finally:
        p.close_poller()


# --- the wake-up pipe carries Python's signal numbers


def test_signal_numbers_written_to_the_wakeup_pipe_are_kept_for_the_caller():
    import signal

    p = Poller()
    old_handler = signal.signal(signal.SIGUSR1, lambda *a: None)
    old_fd = signal.set_wakeup_fd(p.wakeup_fd, warn_on_full_buffer=False)
    try:
        signal.raise_signal(signal.SIGUSR1)
        signal.raise_signal(signal.SIGUSR1)
        assert p.wait(1.0) == []              # the pipe itself is never an event
        assert p.signal_bytes() == bytes([signal.SIGUSR1, signal.SIGUSR1])
        assert p.signal_bytes() is None       # taken once
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGUSR1, old_handler)
        p.close_poller()


def test_wakeups_from_threads_are_not_taken_for_signals(poller):
    poller.wake()
    assert poller.wait(1.0) == []
    assert poller.signal_bytes() is None
