"""The scheduler core under both front ends: one ready queue, timer heap,
poller, thread inbox and wake-up pipe, and one run-once."""

import asyncio
import os
import signal
import sys
import threading

import pytest

import yieldloop as yl
from yieldloop.core._core import Core

LINUX = sys.platform.startswith("linux")


def _open_fds():
    return {int(n): os.readlink(f"/proc/self/fd/{n}") for n in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{n}")}


def test_kernel_and_loop_each_run_on_a_core():
    kernel = yl.Kernel()
    loop = yl.new_event_loop()
    try:
        assert type(kernel.core) is Core
        assert type(loop._core) is Core
    finally:
        loop.close()


def test_kernel_polls_with_its_cores_poller():
    kernel = yl.Kernel()

    async def main():
        return yl.current_kernel().core.poller is yl.current_kernel().poller

    assert kernel.run(main)
    assert kernel.core.poller.closed          # closed with the run


@pytest.mark.skipif(not LINUX, reason="reads /proc/self/fd")
def test_loop_makes_no_socket_pair_of_its_own():
    before = _open_fds()
    loop = yl.new_event_loop()
    try:
        new = {fd: what for fd, what in _open_fds().items() if fd not in before}
        # The poller and its wake-up pipe: nothing else, no socket.
        assert len(new) == 3, new
        assert not [what for what in new.values() if what.startswith("socket:")]
    finally:
        loop.close()
    assert not set(_open_fds()) - set(before)


def test_loop_self_pipe_is_the_cores_wakeup_pipe():
    loop = yl.new_event_loop()
    try:
        assert loop._csock.fileno() == loop._core.poller.wakeup_fd
        assert loop._internal_fds == 1
    finally:
        loop.close()
    assert loop._csock is None and loop._ssock is None
    assert loop._internal_fds == 0


def test_loop_signal_handler_points_the_wakeup_fd_at_the_cores_pipe():
    loop = yl.new_event_loop()
    try:
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        fd = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(fd)
        assert fd == loop._core.poller.wakeup_fd
        assert loop.remove_signal_handler(signal.SIGUSR1)
    finally:
        loop.close()


def test_loop_signal_handler_runs_while_tasks_keep_the_loop_busy():
    # No fd has a waiter and a task is always ready: the signal number still
    # gets read from the wake-up pipe.
    async def main():
        loop = asyncio.get_running_loop()
        got = []
        loop.add_signal_handler(signal.SIGUSR1, got.append, "signal")
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(1000):
                if got:
                    break
                await asyncio.sleep(0)
            return got
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    assert yl.run_asyncio(main()) == ["signal"]


def test_loop_wakes_for_a_call_from_another_thread_through_the_cores_inbox():
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        threading.Timer(0.01, loop.call_soon_threadsafe, (fut.set_result, "from thread")).start()
        return await fut

    assert yl.run_asyncio(main()) == "from thread"


def test_loop_core_is_empty_after_close():
    loop = yl.new_event_loop()
    loop.call_soon(lambda: None)
    loop.call_later(10, lambda: None)
    core = loop._core
    loop.close()
    assert core.stats() == {"ready": 0, "timers": 0, "fds": 0}
    assert core.poller.closed
