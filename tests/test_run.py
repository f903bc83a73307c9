"""yieldloop.run(): results, errors, leftover tasks, Ctrl-C, one kernel per thread."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import yieldloop as yl


def test_run_returns_main_result_for_every_kind_of_main():
    async def coro_fn(x):
        return x

    def gen_fn(x):
        yield
        return x

    assert yl.run(coro_fn, 1) == 1
    assert yl.run(coro_fn(2)) == 2
    assert yl.run(gen_fn, 3) == 3
    assert yl.run(gen_fn(4)) == 4


def test_run_raises_main_exception():
    async def main():
        raise LookupError("from main")

    with pytest.raises(LookupError, match="from main"):
        yl.run(main)


def test_run_rejects_what_is_not_a_coroutine():
    with pytest.raises(TypeError, match="needs a coroutine"):
        yl.run(42)
    with pytest.raises(TypeError, match="returned int"):
        yl.run(lambda: 5)
    with pytest.raises(TypeError, match="not callable"):
        yl.run(42, "arg")


def test_leftover_tasks_are_cancelled_and_awaited(kernel):
    cleaned = []

    async def child(i):
        try:
            await yl.sleep(60)
        finally:
            await yl.sleep(0)        # may still await while cancelled
            cleaned.append(i)

    async def main():
        for i in range(3):
            yl.spawn(child, i)
        await yl.sleep(0)
        return "main done"

    assert kernel.run(main) == "main done"
    assert cleaned == [0, 1, 2]
    stats = kernel.stats()
    assert stats["tasks"] == stats["ready"] == stats["timers"] == stats["fds"] == 0


def test_leftover_cleanup_also_runs_when_main_fails(kernel):
    cleaned = []

    async def child():
        try:
            await yl.sleep(60)
        finally:
            cleaned.append(True)

    async def main():
        yl.spawn(child)
        await yl.sleep(0)
        raise ValueError("main failed")

    with pytest.raises(ValueError):
        kernel.run(main)
    assert cleaned == [True]
    assert kernel.stats()["tasks"] == 0


def test_tasks_spawned_during_cleanup_are_cancelled_too(kernel):
    spawned = []

    async def child():
        try:
            await yl.sleep(60)
        except yl.CancelledError:
            spawned.append(yl.spawn(yl.sleep(60)))
            raise

    async def main():
        yl.spawn(child)
        await yl.sleep(0)

    kernel.run(main)
    assert len(spawned) == 1 and spawned[0].cancelled()
    assert kernel.stats()["tasks"] == 0


def test_nothing_stays_registered_after_run(kernel):
    r, w = os.pipe()
    try:
        async def reader():
            await yl.wait_readable(r)

        async def main():
            yl.spawn(reader)
            yl.spawn(yl.sleep(30))
            await yl.sleep(0.01)
            s = yl.stats()
            assert s["fds"] == 1 and s["timers"] == 1 and s["tasks"] == 3

        kernel.run(main)
        s = kernel.stats()
        assert s["fds"] == s["timers"] == s["tasks"] == s["ready"] == 0
    finally:
        os.close(r)
        os.close(w)


def test_stats_counts_switches_and_spawns(kernel):
    def gen():
        for _ in range(10):
            yield

    async def main():
        await yl.spawn(gen)

    kernel.run(main)
    s = kernel.stats()
    assert s["spawned"] == 2
    assert s["switches"] >= 11


def test_a_kernel_can_run_again_after_finishing(kernel):
    async def main(x):
        await yl.sleep(0)
        return x

    assert kernel.run(main, 1) == 1
    assert kernel.run(main, 2) == 2


def test_run_inside_a_running_kernel_is_an_error():
    async def inner():
        return 1

    async def main():
        coro = inner()
        with pytest.raises(RuntimeError, match="cannot be called while a yieldloop kernel"):
            yl.run(coro)
        return "still fine"

    with _no_unawaited_warnings():
        assert yl.run(main) == "still fine"


def test_functions_that_need_a_kernel_say_so_outside_one():
    async def job():
        pass

    coro = job()
    with pytest.raises(RuntimeError, match="needs a running yieldloop kernel"):
        yl.spawn(coro)
    coro.close()
    with pytest.raises(RuntimeError, match="needs a running yieldloop kernel"):
        yl.current_task()
    with pytest.raises(RuntimeError, match="needs a running yieldloop kernel"):
        yl.stats()


def test_one_kernel_per_thread_runs_concurrently():
    results = {}
    barrier = threading.Barrier(2)

    async def main(name):
        barrier.wait(5)          # both kernels are running now
        await yl.sleep(0.01)
        return name, yl.current_task().name

    def thread_main(name):
        results[name] = yl.run(main, name)

    threads = [threading.Thread(target=thread_main, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {"a": ("a", "main"), "b": ("b", "main")}


def test_same_program_gives_the_same_order_every_run():
    def program():
        log = []

        async def job(i):
            for step in range(3):
                await yl.sleep(0 if i % 2 else 0.001 * (3 - step))
                log.append((i, step))

        async def main():
            for t in [yl.spawn(job, i) for i in range(6)]:
                await t

        yl.run(main)
        # How sleep(0) steps interleave with timer wake-ups depends on how
        # much time passed (a loaded machine, valgrind); within each kind the
        # order is the scheduler's alone: FIFO for the ready queue, deadline
        # then scheduling order for timers.
        return ([e for e in log if e[0] % 2], [e for e in log if not e[0] % 2])

    first = program()
    assert first[0][:3] == [(1, 0), (3, 0), (5, 0)]
    assert all(program() == first for _ in range(3))


def test_timers_with_equal_deadlines_fire_in_the_order_scheduled():
    log = []

    def sleeper(i):
        yield yl.sleep(float("inf"))

    async def main():
        tasks = [yl.spawn(sleeper, i) for i in range(5)]
        await yl.sleep(0)
        for t in tasks:
            t.cancel()
        for i in range(5):
            yl.spawn(_log_after, log, i, 0.02)
        await yl.sleep(0.05)

    yl.run(main)
    assert log == list(range(5))


async def _log_after(log, i, delay):
    await yl.sleep(delay)
    log.append(i)


# --- exceptions that stop the kernel


def test_keyboard_interrupt_in_a_task_stops_run_after_cleanup(kernel):
    cleaned = []

    async def bystander():
        try:
            await yl.sleep(60)
        finally:
            cleaned.append(True)

    async def culprit():
        await yl.sleep(0.01)
        raise KeyboardInterrupt

    async def main():
        yl.spawn(bystander)
        await yl.spawn(culprit)
        await yl.sleep(60)

    with pytest.raises(KeyboardInterrupt):
        kernel.run(main)
    assert cleaned == [True]
    assert kernel.stats()["tasks"] == 0


def test_system_exit_in_a_task_propagates_from_run():
    async def main():
        yl.spawn(_exit_soon)
        await yl.sleep(60)

    with pytest.raises(SystemExit):
        yl.run(main)


async def _exit_soon():
    raise SystemExit(3)


def test_sigint_cancels_main_and_run_raises_keyboard_interrupt(kernel):
    log = []

    async def main():
        os.kill(os.getpid(), signal.SIGINT)
        try:
            await yl.sleep(30)
        except yl.CancelledError:
            log.append("main cancelled")
            raise

    with pytest.raises(KeyboardInterrupt):
        kernel.run(main)
    assert log == ["main cancelled"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_of_a_real_process_blocked_in_the_poller():
    script = textwrap.dedent("""
        import sys, yieldloop as yl
        async def child():
            try:
                await yl.sleep(60)
            finally:
                print("child cleaned", flush=True)
        async def main():
            yl.spawn(child)
            print("ready", flush=True)
            try:
                await yl.sleep(60)
            finally:
                print("main cleaned", flush=True)
        try:
            yl.run(main)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
            sys.exit(7)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.stdout.close()
    assert proc.returncode == 7
    assert out.split() == ["main", "cleaned", "child", "cleaned", "KeyboardInterrupt"]


class _no_unawaited_warnings:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error", RuntimeWarning)

    def __exit__(self, *exc):
        import gc

        gc.collect()
        return self._ctx.__exit__(*exc)


def test_second_ctrl_c_during_cleanup_stops_run_and_orphans_are_marked_done(kernel):
    stubborn = []

    async def refuses_to_die():
        while True:
            try:
                await yl.sleep(30)
            except yl.CancelledError:
                # Cleanup is waiting for us: press Ctrl-C again, while the
                # kernel is blocked in the poller.
                threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()

    async def main():
        stubborn.append(yl.spawn(refuses_to_die))
        await yl.sleep(0)
        os.kill(os.getpid(), signal.SIGINT)
        await yl.sleep(30)

    with pytest.raises(KeyboardInterrupt):
        kernel.run(main)
    t = stubborn[0]
    assert t.done() and t.cancelled() and t.cancel() is False
    assert kernel.stats()["tasks"] == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    t.get_coro().close()


def test_second_ctrl_c_swallowed_by_a_del_still_stops_run():
    # A signal handler runs wherever Python code runs, a __del__ included,
    # and what a __del__ raises is lost ("Exception ignored in"). The second
    # Ctrl-C must stop run() all the same. In a child process: the bug is a
    # hang (the stubborn task sleeps for ever).
    script = textwrap.dedent("""
        import os, signal, sys, yieldloop as yl

        class PressesCtrlCInItsDel:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):   # the handler runs here; its error is lost
                    pass

        async def stubborn():
            while True:
                try:
                    await yl.sleep(30)
                except yl.CancelledError:
                    PressesCtrlCInItsDel()

        async def main():
            yl.spawn(stubborn)
            await yl.sleep(0)
            os.kill(os.getpid(), signal.SIGINT)   # the first: cancels main
            await yl.sleep(30)

        try:
            yl.run(main)
        except KeyboardInterrupt:
            sys.exit(7)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 7, proc.stderr
    assert "KeyboardInterrupt" in proc.stderr    # the lost one, reported by Python


def _numbers(log):
    async def numbers():
        try:
            yield 1
            yield 2
        finally:
            await yl.sleep(0)         # cleanup that needs the kernel
            log.append("closed")

    return numbers()


def test_abandoned_async_generator_is_closed_by_the_kernel():
    log = []

    async def main():
        async for _ in _numbers(log):
            break                     # no aclose(): the kernel must do it
        # While the run goes on, not at its end: wait for it by passes of
        # the loop (bounded), not by a time, which a slow machine outlasts.
        for _ in range(10_000):
            if "closed" in log:
                break
            await yl.sleep(0)
        log.append("main done")

    yl.run(main)
    assert log == ["closed", "main done"]


def test_async_generator_left_open_is_closed_when_run_ends(kernel):
    log = []
    keep = []

    async def main():
        agen = _numbers(log)
        keep.append(agen)             # still referenced: not finalized
        await agen.__anext__()

    kernel.run(main)
    assert log == ["closed"]
    assert kernel.stats()["tasks"] == 0
    assert sys.get_asyncgen_hooks() == (None, None)


def test_run_of_a_finished_generator_is_an_error():
    def gen():
        yield

    g = gen()
    for _ in g:
        pass
    with pytest.raises(RuntimeError, match="already finished"):
        yl.run(g)
