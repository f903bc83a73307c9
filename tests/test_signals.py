"""open_signal_receiver(): signals received by tasks, on the kernel's wake-up fd.

The tests that send signals do so in a child process, with
``os.kill(os.getpid(), ...)``, and report what they saw on stdout; the
tests of refused input run here (they install nothing).
"""

import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import yieldloop as yl

PRELUDE = """
import os, signal, sys, threading
import yieldloop as yl
from signal import SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2

def kill(sig):
    os.kill(os.getpid(), sig)

def kill_when_blocked(sig):
    # Send `sig` from another thread once the main thread is inside
    # run() with no Python frame of a task on top: blocked in the poller.
    main = threading.main_thread().ident
    def wait_then_kill():
        while True:
            frame = sys._current_frames().get(main)
            if frame is not None and frame.f_code.co_name == "<module>":
                kill(sig)
                return
            threading.Event().wait(0.001)
    t = threading.Thread(target=wait_then_kill, daemon=True)
    t.start()
    return t
"""


def run_child(*parts, timeout=60):
    """Run PRELUDE and ``parts`` in a fresh interpreter; its stdout lines."""
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + "".join(textwrap.dedent(p) for p in parts)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"child exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout.splitlines()


# --- receiving


def test_receiver_gets_the_signals_sent_to_the_process_in_order():
    out = run_child("""
        async def main():
            got = []
            async with yl.open_signal_receiver(SIGTERM, SIGHUP) as sigs:
                kill(SIGHUP)
                got.append(await sigs.receive())
                kill(SIGTERM)
                async for signum in sigs:
                    got.append(signum)
                    break
            print(got == [SIGHUP, SIGTERM])
        yl.run(main)
    """)
    assert out == ["True"]


def test_task_blocked_in_the_poller_is_woken_by_a_signal():
    out = run_child("""
        kernel = yl.Kernel()
        async def main():
            async with yl.open_signal_receiver(SIGUSR1) as sigs:
                t = kill_when_blocked(SIGUSR1)
                signum = await sigs.receive()
                t.join()
                return signum == SIGUSR1, kernel.stats()["fds"]
        print(kernel.run(main))
    """)
    assert out == ["(True, 0)"]


def test_signals_that_arrive_while_nobody_receives_are_kept_once_each_in_order_of_arrival():
    out = run_child("""
        from yieldloop.testing import MockClock
        async def main():
            async with yl.open_signal_receiver(SIGUSR1, SIGUSR2, SIGHUP) as sigs:
                for sig in (SIGUSR2, SIGHUP, SIGUSR2, SIGUSR1, SIGHUP):
                    kill(sig)
                got = [await sigs.receive() for _ in range(3)]
                print(got == [SIGUSR2, SIGHUP, SIGUSR1])
                try:
                    await yl.wait_for(sigs.receive(), 10)   # nothing else pending
                except TimeoutError:
                    print("no more")
        yl.run(main, clock=MockClock(autojump_threshold=0))
    """)
    assert out == ["True", "no more"]


def test_generator_receives_with_yield_from_and_with_yield():
    out = run_child("""
        def main():
            with yl.open_signal_receiver(SIGUSR1, SIGUSR2) as sigs:
                kill(SIGUSR1)
                first = yield from sigs.receive()
                kill(SIGUSR2)
                second = yield sigs.receive()
            return first == SIGUSR1, second == SIGUSR2
        print(yl.run(main))
    """)
    assert out == ["(True, True)"]


def test_signal_wakes_a_receiver_while_a_mock_clock_would_jump():
    out = run_child("""
        from yieldloop.testing import MockClock
        async def main():
            async with yl.open_signal_receiver(SIGUSR1) as sigs:
                kill_when_blocked(SIGUSR1)
                async with yl.TaskGroup() as tg:
                    sleeper = tg.spawn(yl.sleep, 3600)
                    signum = await sigs.receive()
                    print(signum == SIGUSR1, sleeper.done())
        yl.run(main, clock=MockClock(autojump_threshold=1.0))
    """)
    assert out == ["True False"]


# --- handlers installed on entry, the previous ones back on exit


RESTORE = """
    def mine(signum, frame):
        pass
    signal.signal(SIGUSR1, mine)
    signal.signal(SIGUSR2, signal.SIG_IGN)
    before = {s: signal.getsignal(s) for s in (SIGUSR1, SIGUSR2, SIGHUP)}
    def restored():
        return all(signal.getsignal(s) is h for s, h in before.items())
"""


def test_previous_handlers_come_back_when_the_block_ends():
    out = run_child(RESTORE, """
        async def main():
            async with yl.open_signal_receiver(SIGUSR1, SIGUSR2, SIGHUP):
                print("inside, ours:", not restored())
            print("after block:", restored())
        yl.run(main)
        print("after run:", restored())
    """)
    assert out == ["inside, ours: True", "after block: True", "after run: True"]


def test_previous_handlers_come_back_when_the_block_raises():
    out = run_child(RESTORE, """
        async def main():
            async with yl.open_signal_receiver(SIGUSR1, SIGHUP):
                raise KeyError("boom")
        try:
            yl.run(main)
        except KeyError:
            print("KeyError", restored())
    """)
    assert out == ["KeyError True"]


def test_previous_handlers_come_back_when_the_receiving_task_is_cancelled():
    out = run_child(RESTORE, """
        kernel = yl.Kernel()
        async def receiver():
            async with yl.open_signal_receiver(SIGUSR1, SIGHUP) as sigs:
                async for signum in sigs:
                    print("unexpected", signum)
        async def main():
            t = yl.spawn(receiver)
            await yl.sleep(0)
            print("inside, ours:", not restored())
            t.cancel()
            try:
                await t
            except yl.CancelledError:
                print("cancelled", restored())
        kernel.run(main)
        print(kernel.stats()["tasks"], kernel.stats()["timers"])
    """)
    assert out == ["inside, ours: True", "cancelled True", "0 0"]


def test_run_that_stops_hard_leaves_no_handler_of_a_receiver_it_abandoned():
    # SystemExit from a handler while the kernel cleans up stops run() at
    # once: the stubborn task never leaves its block, run() closes it.
    out = run_child(RESTORE, """
        def stop(signum, frame):
            raise SystemExit(5)
        signal.signal(SIGTERM, stop)

        async def stubborn():
            with yl.open_signal_receiver(SIGUSR1, SIGHUP):
                while True:
                    try:
                        await yl.sleep(60)
                    except yl.CancelledError:
                        kill_when_blocked(SIGTERM)   # the second stop

        kept = []                         # the task, and so its block, outlive run()

        async def main():
            kept.append(yl.spawn(stubborn))
            await yl.sleep(0)
            raise SystemExit(3)

        try:
            yl.run(main)
        except SystemExit as e:
            print("stopped", e.code, restored(), kept[0].cancelled())
    """)
    assert out == ["stopped 5 True True"]


def test_after_fork_the_child_has_the_previous_handlers():
    out = run_child(RESTORE, """
        async def main():
            with yl.open_signal_receiver(SIGUSR1, SIGHUP):
                pid = os.fork()
                if pid == 0:
                    os._exit(0 if restored() else 1)
                _, status = os.waitpid(pid, 0)
                print("child restored:", os.waitstatus_to_exitcode(status) == 0)
                print("parent still ours:", not restored())
        yl.run(main)
    """)
    assert out == ["child restored: True", "parent still ours: True"]


# --- several receivers


def test_newest_receiver_of_a_signal_gets_it_then_the_older_one_again():
    out = run_child("""
        async def main():
            async with yl.open_signal_receiver(SIGUSR1) as outer:
                async with yl.open_signal_receiver(SIGUSR1, SIGUSR2) as inner:
                    kill(SIGUSR1)
                    print("inner", await inner.receive() == SIGUSR1)
                kill(SIGUSR1)
                print("outer", await outer.receive() == SIGUSR1)
        yl.run(main)
        print(signal.getsignal(SIGUSR1) is signal.SIG_DFL)
    """)
    assert out == ["inner True", "outer True", "True"]


def test_receivers_closed_out_of_order_still_restore_the_first_handler():
    out = run_child(RESTORE, """
        async def hold(opened, leave, got):
            async with yl.open_signal_receiver(SIGUSR1) as sigs:
                opened.set()
                await leave.wait()
                if got is not None:
                    got.append(await sigs.receive())

        async def main():
            a_open, a_leave = yl.Event(), yl.Event()
            b_open, b_leave = yl.Event(), yl.Event()
            got = []
            a = yl.spawn(hold, a_open, a_leave, None)
            await a_open.wait()
            b = yl.spawn(hold, b_open, b_leave, got)
            await b_open.wait()
            a_leave.set()                 # the older one leaves first
            await a
            kill(SIGUSR1)                 # the newer one still takes it
            b_leave.set()
            await b
            print(got == [SIGUSR1], restored())
        yl.run(main)
    """)
    assert out == ["True True"]


def test_signal_pending_when_a_receiver_closes_goes_to_the_one_before():
    out = run_child("""
        async def main():
            async with yl.open_signal_receiver(SIGUSR1) as outer:
                async with yl.open_signal_receiver(SIGUSR1):
                    kill(SIGUSR1)         # pending in the inner one, never received
                print(await outer.receive() == SIGUSR1)
        yl.run(main)
    """)
    assert out == ["True"]


def test_signal_pending_when_the_last_receiver_closes_reaches_the_previous_handler():
    out = run_child("""
        seen = []
        signal.signal(SIGUSR1, lambda signum, frame: seen.append(signum))
        async def main():
            async with yl.open_signal_receiver(SIGUSR1):
                kill(SIGUSR1)
                print("in block:", seen)
            print("after block:", seen == [SIGUSR1])
        yl.run(main)
    """)
    assert out == ["in block: []", "after block: True"]


def test_unreceived_sigterm_with_the_default_handler_terminates_the_process():
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent("""
            async def main():
                async with yl.open_signal_receiver(SIGTERM):
                    kill(SIGTERM)
                    print("in block", flush=True)
                print("not reached", flush=True)
            yl.run(main)
        """)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.stdout.splitlines() == ["in block"]
    assert proc.returncode == -signal.SIGTERM


# --- SIGINT


def test_sigint_goes_to_a_receiver_that_takes_it_and_back_to_ctrl_c_after():
    out = run_child("""
        async def main():
            async with yl.open_signal_receiver(SIGINT) as sigs:
                kill(SIGINT)
                print("received", await sigs.receive() == SIGINT)
            try:
                kill(SIGINT)              # Ctrl-C again: cancels main
                await yl.sleep(30)
            except yl.CancelledError:
                print("main cancelled")
                raise
        try:
            yl.run(main)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", signal.getsignal(SIGINT) is signal.default_int_handler)
    """)
    assert out == ["received True", "main cancelled", "KeyboardInterrupt True"]


def test_sigint_stays_ctrl_c_while_a_receiver_takes_other_signals():
    out = run_child("""
        async def main():
            async with yl.open_signal_receiver(SIGUSR1, SIGTERM):
                try:
                    kill(SIGINT)
                    await yl.sleep(30)
                except yl.CancelledError:
                    print("main cancelled")
                    raise
        try:
            yl.run(main)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", signal.getsignal(SIGUSR1) is signal.SIG_DFL)
    """)
    assert out == ["main cancelled", "KeyboardInterrupt True"]


def test_unreceived_sigint_at_the_end_of_the_block_is_a_ctrl_c():
    out = run_child("""
        async def main():
            try:
                async with yl.open_signal_receiver(SIGINT, SIGUSR1):
                    kill(SIGINT)
                await yl.sleep(30)
            except yl.CancelledError:
                print("main cancelled")
                raise
        try:
            yl.run(main)
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
    """)
    assert out == ["main cancelled", "KeyboardInterrupt"]


# --- misuse


def test_second_task_receiving_at_the_same_time_gets_busy_resource_error():
    out = run_child("""
        async def main():
            async with yl.open_signal_receiver(SIGUSR1) as sigs:
                first = yl.spawn(sigs.receive)
                await yl.sleep(0)
                try:
                    await sigs.receive()
                except yl.BusyResourceError as e:
                    print("busy:", "another task" in str(e))
                kill(SIGUSR1)
                print(await first == SIGUSR1)
        yl.run(main)
    """)
    assert out == ["busy: True", "True"]


def test_task_waiting_when_another_ends_the_block_gets_closed_resource_error():
    out = run_child("""
        kernel = yl.Kernel()
        async def main():
            sigs = yl.open_signal_receiver(SIGUSR1)
            with sigs:
                waiter = yl.spawn(sigs.receive)
                await yl.sleep(0)
            try:
                await waiter
            except yl.ClosedResourceError as e:
                print("closed:", e)
            try:
                await sigs.receive()
            except yl.ClosedResourceError:
                print("closed again")
        kernel.run(main)
        print(kernel.stats()["tasks"], signal.getsignal(SIGUSR1) is signal.SIG_DFL)
    """)
    assert out == [
        "closed: the open_signal_receiver() block has ended",
        "closed again",
        "0 True",
    ]


def test_receiver_entered_twice_or_received_from_before_entry_is_refused():
    out = run_child("""
        async def main():
            sigs = yl.open_signal_receiver(SIGUSR1)
            try:
                await sigs.receive()
            except RuntimeError as e:
                print("before entry:", "enter the signal receiver first" in str(e))
            with sigs:
                pass
            try:
                with sigs:
                    pass
            except RuntimeError as e:
                print("twice:", "entered already" in str(e))
        yl.run(main)
        print(signal.getsignal(SIGUSR1) is signal.SIG_DFL)
    """)
    assert out == ["before entry: True", "twice: True", "True"]


@pytest.mark.parametrize(
    "args, error, words",
    [
        ((), TypeError, "at least one signal"),
        (("SIGTERM",), TypeError, "signal numbers"),
        ((True,), TypeError, "signal numbers"),
        ((1.0,), TypeError, "signal numbers"),
        ((0,), ValueError, "not a signal number"),
        ((100000,), ValueError, "not a signal number"),
        ((-1,), ValueError, "not a signal number"),
        ((signal.SIGKILL,), ValueError, "SIGKILL cannot be caught"),
        ((signal.SIGUSR1, signal.SIGSTOP), ValueError, "SIGSTOP cannot be caught"),
    ],
)
def test_bad_signals_are_refused_with_a_clear_error(args, error, words):
    before = signal.getsignal(signal.SIGUSR1)
    with pytest.raises(error, match=words):
        yl.open_signal_receiver(*args)
    assert signal.getsignal(signal.SIGUSR1) is before


def test_entering_without_a_running_kernel_is_a_runtime_error_and_installs_nothing():
    before = signal.getsignal(signal.SIGUSR1)
    with pytest.raises(RuntimeError, match="needs a running yieldloop kernel"), yl.open_signal_receiver(signal.SIGUSR1):
        pass
    assert signal.getsignal(signal.SIGUSR1) is before


def test_entering_outside_the_main_thread_is_a_runtime_error():
    before = signal.getsignal(signal.SIGUSR1)
    errors = []

    async def main():
        try:
            async with yl.open_signal_receiver(signal.SIGUSR1):
                pass
        except RuntimeError as e:
            errors.append(str(e))

    t = threading.Thread(target=yl.run, args=(main,))
    t.start()
    t.join()
    assert len(errors) == 1 and "only in the main thread" in errors[0]
    assert signal.getsignal(signal.SIGUSR1) is before


def test_signal_receiver_is_made_by_open_signal_receiver_only():
    with pytest.raises(TypeError, match="open_signal_receiver"):
        yl.SignalReceiver()


def test_receiver_says_what_it_takes():
    r = yl.open_signal_receiver(signal.SIGUSR1, signal.SIGHUP, signal.SIGUSR1)
    assert r.signals == (signal.SIGUSR1, signal.SIGHUP)
    assert repr(r) == "<SignalReceiver SIGUSR1, SIGHUP [new] pending=[]>"
