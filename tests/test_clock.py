"""run(clock=...) and yieldloop.testing.MockClock: timers, timeouts and
time() in virtual time.

Every assertion is on virtual time and on order, never on how long a test
took in real time.
"""

import gc
import math
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

import yieldloop as yl
from yieldloop.testing import MockClock


def autojump():
    return MockClock(autojump_threshold=0)


# --- virtual time and order


def test_timers_fire_in_virtual_time_order_ties_in_the_order_set():
    log = []

    async def sleeper(name, delay):
        await yl.sleep(delay)
        log.append((name, yl.time()))

    async def main():
        async with yl.TaskGroup() as tg:
            for name, delay in [("c", 3), ("a1", 1), ("b", 2), ("a2", 1), ("z", 0.5)]:
                tg.spawn(sleeper, name, delay)

    yl.run(main, clock=autojump())
    assert log == [("z", 0.5), ("a1", 1.0), ("a2", 1.0), ("b", 2.0), ("c", 3.0)]


def test_hour_long_sleep_with_autojump_reaches_the_virtual_hour():
    clock = autojump()

    async def main():
        before = yl.time()
        await yl.sleep(3600)
        return before, yl.time()

    assert yl.run(main, clock=clock) == (0.0, 3600.0)
    assert clock.current_time() == 3600.0


def test_same_program_gives_the_same_log_on_every_run():
    def program():
        log = []

        async def worker(i, q):
            for n in range(3):
                await yl.sleep((i * 7 + n * 3) % 5 * 0.25)
                await q.put((i, n, yl.time()))

        async def main():
            q = yl.Queue()
            async with yl.TaskGroup() as tg:
                for i in range(5):
                    tg.spawn(worker, i, q)
                for _ in range(15):
                    log.append(await q.get())

        yl.run(main, clock=autojump())
        return log

    first = program()
    assert len(first) == 15
    assert program() == first


def test_autojump_waits_while_a_task_is_ready():
    seen = []

    async def busy():
        for _ in range(200):
            seen.append(yl.time())
            await yl.sleep(0)

    async def main():
        t = yl.spawn(busy)
        await yl.sleep(1)
        seen.append(("main woke", yl.time()))
        await t

    yl.run(main, clock=autojump())
    # The busy task never blocks on a timer: time stands still until it ends.
    assert seen[:200] == [0.0] * 200
    assert seen[200] == ("main woke", 1.0)


def test_jump_fires_the_timers_it_passes_and_only_those():
    clock = MockClock()  # rate 0, no autojump: only jump() moves time
    log = []

    async def sleeper(delay):
        await yl.sleep(delay)
        log.append((delay, yl.time()))

    async def main():
        yl.spawn(sleeper, 10)
        yl.spawn(sleeper, 20)
        for _ in range(3):
            await yl.sleep(0)
        assert log == []
        clock.jump(9.5)
        for _ in range(3):
            await yl.sleep(0)
        assert log == []
        clock.jump(0.5)
        for _ in range(3):
            await yl.sleep(0)
        assert log == [(10, 10.0)]
        clock.jump(100)
        for _ in range(3):
            await yl.sleep(0)
        return yl.time()

    assert yl.run(main, clock=clock) == 110.0
    assert log == [(10, 10.0), (20, 110.0)]


def test_autojump_threshold_set_during_a_run_takes_effect():
    clock = MockClock()  # no autojump at first

    async def main():
        t = yl.spawn(yl.sleep, 50)
        await yl.sleep(0)
        clock.autojump_threshold = 0
        await t
        return yl.time()

    assert yl.run(main, clock=clock) == 50.0


def test_autojump_after_a_real_threshold_still_reaches_the_deadline():
    async def main():
        await yl.sleep(7200)
        return yl.time()

    assert yl.run(main, clock=MockClock(autojump_threshold=0.01)) == 7200.0


def test_rate_moves_virtual_time_with_real_time():
    clock = MockClock(rate=1000.0)

    async def main():
        t0 = yl.time()
        await yl.sleep(5)  # 5 virtual seconds: about 5 ms of real time
        return t0, yl.time()

    t0, t1 = yl.run(main, clock=clock)
    assert t1 - t0 >= 5.0


def test_time_and_timers_continue_from_where_the_clock_is():
    clock = MockClock(autojump_threshold=0)
    clock.jump(1000)

    async def main():
        await yl.sleep(1)
        return yl.time()

    assert yl.run(main, clock=clock) == 1001.0
    assert yl.run(main, clock=clock) == 1002.0


def test_call_later_and_call_at_follow_the_clock(kernel):
    log = []

    async def main():
        k = yl.current_kernel()
        assert k.time() == 0.0
        k.call_later(5, lambda: log.append(("later", k.time())))
        k.call_at(3, lambda: log.append(("at", k.time())))
        await yl.sleep(10)

    kernel.run(main, clock=autojump())
    assert log == [("at", 3.0), ("later", 5.0)]


def test_kernel_time_is_the_monotonic_clock_without_a_clock(kernel):
    async def main():
        return yl.time(), kernel.time()

    t0 = time.monotonic()
    during, kernel_during = kernel.run(main)
    t1 = time.monotonic()
    assert t0 <= during <= kernel_during <= t1
    assert t1 <= yl.time() and t1 <= kernel.time()


def test_kernel_time_goes_back_to_the_monotonic_clock_after_the_run(kernel):
    async def main():
        await yl.sleep(5)
        return kernel.time()

    assert kernel.run(main, clock=autojump()) == 5.0
    t = time.monotonic()
    assert kernel.time() >= t


# --- timeouts follow the clock


def test_timeout_expires_at_its_virtual_deadline():
    async def main():
        try:
            async with yl.timeout(5):
                await yl.sleep(10)
        except TimeoutError:
            return "timed out", yl.time()

    assert yl.run(main, clock=autojump()) == ("timed out", 5.0)


def test_timeout_that_does_not_expire_leaves_the_block_on_time():
    async def main():
        async with yl.timeout(5) as t:
            await yl.sleep(4)
        return t.expired(), yl.time()

    assert yl.run(main, clock=autojump()) == (False, 4.0)


def test_timeout_at_takes_a_deadline_on_the_clock():
    async def main():
        await yl.sleep(100)
        try:
            async with yl.timeout_at(yl.time() + 2):
                await yl.sleep(60)
        except TimeoutError:
            return yl.time()

    assert yl.run(main, clock=autojump()) == 102.0


def test_reschedule_to_a_past_virtual_time_expires_at_once():
    async def main():
        await yl.sleep(10)
        try:
            async with yl.timeout(None) as t:
                t.reschedule(5.0)  # already past on the virtual clock
                await yl.sleep(60)
        except TimeoutError:
            return yl.time()

    assert yl.run(main, clock=autojump()) == 10.0


def test_wait_for_gives_up_at_its_virtual_timeout_and_cancels():
    cancelled = []

    async def slow():
        try:
            await yl.sleep(3600)
        except yl.CancelledError:
            cancelled.append(yl.time())
            raise

    async def main():
        try:
            await yl.wait_for(slow(), 30)
        except TimeoutError:
            return yl.time()

    assert yl.run(main, clock=autojump()) == 30.0
    assert cancelled == [30.0]


def test_wait_for_from_a_generator_follows_the_clock():
    def main():
        try:
            yield from yl.wait_for(yl.sleep(60), 1.5)
        except TimeoutError:
            return yl.time()

    assert yl.run(main, clock=autojump()) == 1.5


# --- I/O with a mock clock


def test_socket_io_between_tasks_works_with_autojump():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def writer():
        await yl.sleep(100)
        await yl.sock_sendall(a, b"ping")

    async def main():
        yl.spawn(writer)
        data = await yl.sock_recv(b, 10)
        return data, yl.time()

    try:
        assert yl.run(main, clock=autojump()) == (b"ping", 100.0)
    finally:
        a.close()
        b.close()


def test_io_from_another_thread_wakes_a_task_while_the_clock_stands_still(kernel):
    a, b = socket.socketpair()
    b.setblocking(False)
    started = threading.Event()

    def peer():
        started.wait(10)
        a.sendall(b"from thread")

    async def main():
        thread = threading.Thread(target=peer)
        thread.start()
        started.set()
        data = await yl.sock_recv(b, 100)
        thread.join()
        return data, yl.time()

    try:
        assert kernel.run(main, clock=MockClock()) == (b"from thread", 0.0)
    finally:
        a.close()
        b.close()
    assert kernel.stats()["fds"] == 0


def test_ready_io_keeps_the_clock_from_jumping():
    # The reader's fd is ready at every poll: autojump must not move time
    # while I/O keeps tasks busy. Only once the reader is done does the
    # sleeper's timer fire.
    a, b = socket.socketpair()
    b.setblocking(False)
    a.sendall(b"x" * 50)
    log = []

    async def sleeper():
        await yl.sleep(1)
        log.append(("sleeper", yl.time()))

    async def reader():
        for _ in range(50):
            await yl.wait_readable(b)
            b.recv(1)
            log.append(yl.time())

    async def main():
        async with yl.TaskGroup() as tg:
            tg.spawn(sleeper)
            tg.spawn(reader)

    try:
        yl.run(main, clock=autojump())
    finally:
        a.close()
        b.close()
    assert log == [0.0] * 50 + [("sleeper", 1.0)]


# --- MockClock itself, and bad clocks


def test_mock_clock_starts_at_zero_and_stands_still():
    clock = MockClock()
    assert clock.current_time() == 0.0
    assert clock.rate == 0.0
    assert clock.autojump_threshold == math.inf
    assert clock.deadline_to_sleep_time(0.0) == 0.0
    assert clock.deadline_to_sleep_time(1.0) > 1e6  # never, in practice


def test_mock_clock_jump_moves_time_forward():
    clock = MockClock()
    clock.jump(2.5)
    clock.jump(0)
    assert clock.current_time() == 2.5


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_mock_clock_jump_refuses_going_back_nan_and_infinity(bad):
    clock = MockClock()
    with pytest.raises(ValueError, match="jump"):
        clock.jump(bad)
    assert clock.current_time() == 0.0


@pytest.mark.parametrize("attr", ["rate", "autojump_threshold"])
def test_mock_clock_refuses_negative_settings(attr):
    with pytest.raises(ValueError, match=attr):
        MockClock(**{attr: -0.5})


def test_mock_clock_refuses_a_non_number():
    with pytest.raises(TypeError, match="autojump_threshold needs a number"):
        MockClock(autojump_threshold="soon")


def test_mock_clock_changing_rate_keeps_the_time():
    clock = MockClock()
    clock.jump(10)
    clock.rate = 0.0
    assert clock.current_time() == 10.0


def test_yieldloop_testing_is_reachable_from_the_package_without_importing_it_first():
    code = (
        "import sys, yieldloop as yl\n"
        "assert 'yieldloop.testing' not in sys.modules\n"
        "print(type(yl.testing.MockClock()).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "MockClock"


def test_run_refuses_a_clock_without_current_time_and_main_is_not_left_unawaited():
    async def main():
        return 1

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(TypeError, match="current_time"):
            yl.run(main(), clock=5)
        gc.collect()


def test_run_refuses_a_clock_without_deadline_to_sleep_time():
    class Half:
        def current_time(self):
            return 0.0

    with pytest.raises(TypeError, match="deadline_to_sleep_time"):
        yl.run(yl.sleep, 0, clock=Half())


def test_a_clock_that_fails_stops_the_run_with_its_error_and_nothing_is_left(kernel):
    class Broken(MockClock):
        fail = False

        def current_time(self):
            if self.fail:
                raise ZeroDivisionError("clock broke")
            return super().current_time()

    clock = Broken(autojump_threshold=0)

    async def main():
        clock.fail = True
        await yl.sleep(10)

    with pytest.raises(ZeroDivisionError, match="clock broke"):
        kernel.run(main, clock=clock)
    assert kernel.stats()["tasks"] == 0
    assert kernel.stats()["timers"] == 0


def test_nan_sleep_time_from_a_clock_is_a_value_error():
    class NanClock(MockClock):
        def deadline_to_sleep_time(self, deadline):
            return float("nan")

    async def main():
        await yl.sleep(1)

    with pytest.raises(ValueError, match="NaN"):
        yl.run(main, clock=NanClock())


def test_a_clock_without_autojump_works_as_given():
    # The kernel needs only current_time() and deadline_to_sleep_time().
    class Fixed:
        def __init__(self):
            self.now = 0.0

        def current_time(self):
            return self.now

        def deadline_to_sleep_time(self, deadline):
            self.now = max(self.now, deadline)  # jumps as the kernel asks
            return 0.0

    async def main():
        await yl.sleep(42)
        return yl.time()

    assert yl.run(main, clock=Fixed()) == 42.0
