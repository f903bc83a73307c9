"""Threads and callbacks: to_thread, call_soon_threadsafe, run_coroutine_threadsafe,
call_soon / call_later / call_at, done-callbacks."""

import contextvars
import logging
import threading
import time

import pytest

import yieldloop as yl


def test_to_thread_returns_the_result_and_kernel_keeps_running():
    ticked = threading.Event()

    def blocking():
        # Returns only once a task has run while this thread blocks: had
        # the kernel waited for the thread, this would time out.
        return ticked.wait(30), threading.get_ident()

    async def ticker():
        await yl.sleep(0.005)
        ticked.set()

    async def main():
        yl.spawn(ticker)
        ran_meanwhile, ident = await yl.to_thread(blocking)
        assert ran_meanwhile
        assert ident != threading.get_ident()

    yl.run(main)


def test_to_thread_raises_the_function_exception():
    def fail():
        raise KeyError("in thread")

    async def main():
        with pytest.raises(KeyError, match="in thread"):
            await yl.to_thread(fail)

    yl.run(main)


def test_to_thread_copies_contextvars_and_passes_kwargs():
    var = contextvars.ContextVar("var")

    def read(prefix, *, suffix):
        return prefix + var.get() + suffix

    async def main():
        var.set("value")
        return await yl.to_thread(read, "<", suffix=">")

    assert yl.run(main) == "<value>"


def test_cancelled_to_thread_drops_the_outcome_and_run_waits_for_the_thread():
    finished = []

    def slow():
        time.sleep(0.05)
        finished.append(True)
        return "late"

    async def main():
        t = yl.spawn(yl.to_thread(slow))
        await yl.sleep(0.01)
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t

    yl.run(main)
    assert finished == [True]         # run() waited for the worker


def test_to_thread_from_a_generator():
    def gen():
        return (yield from yl.to_thread(sum, [1, 2, 3]))

    assert yl.run(gen) == 6


def test_call_soon_threadsafe_wakes_a_blocked_kernel():
    async def main():
        kernel = yl.current_kernel()
        ev = yl.Event()
        threading.Timer(0.05, kernel.call_soon_threadsafe, (ev.set,)).start()
        start = yl.time()
        await ev.wait()                # nothing else to do: the kernel blocks
        return yl.time() - start

    assert yl.run(main) < 5.0


def test_call_soon_threadsafe_on_a_stopped_kernel_raises():
    kernel = yl.Kernel()
    with pytest.raises(RuntimeError, match="not running"):
        kernel.call_soon_threadsafe(print)


def test_run_coroutine_threadsafe_returns_a_concurrent_future():
    async def double(x):
        await yl.sleep(0.01)
        return 2 * x

    results = []

    async def main():
        kernel = yl.current_kernel()
        done = yl.Event()

        def other_thread():
            fut = kernel.run_coroutine_threadsafe(double(21))
            results.append(fut.result(timeout=5))
            kernel.call_soon_threadsafe(done.set)

        threading.Thread(target=other_thread).start()
        await done.wait()

    yl.run(main)
    assert results == [42]


def test_cancelling_the_concurrent_future_cancels_the_task():
    started = threading.Event()
    outcome = []

    async def forever():
        started.set()
        try:
            await yl.sleep(10)
        except yl.CancelledError:
            outcome.append("cancelled")
            raise

    async def main():
        kernel = yl.current_kernel()
        done = yl.Event()

        def other_thread():
            fut = kernel.run_coroutine_threadsafe(forever())
            started.wait(5)
            fut.cancel()
            kernel.call_soon_threadsafe(done.set)

        threading.Thread(target=other_thread).start()
        await done.wait()
        await yl.sleep(0.01)

    yl.run(main)
    assert outcome == ["cancelled"]


def test_call_soon_later_and_at_run_in_order_and_can_be_cancelled():
    log = []

    async def main():
        k = yl.current_kernel()
        k.call_later(0.02, log.append, "later")
        k.call_at(yl.time() + 0.01, log.append, "at")
        k.call_soon(log.append, "soon")
        h = k.call_later(0.01, log.append, "cancelled")
        assert h.when() > yl.time()
        h.cancel()
        assert h.cancelled()
        k.call_soon(log.append, "soon2").cancel()
        await yl.sleep(0.05)
        assert yl.stats()["timers"] == 0

    yl.run(main)
    assert log == ["soon", "at", "later"]


def test_exception_in_a_callback_is_reported_and_the_kernel_goes_on(caplog):
    async def main():
        yl.current_kernel().call_soon(lambda: 1 / 0)
        await yl.sleep(0.01)
        return "alive"

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        assert yl.run(main) == "alive"
    assert any("Exception in callback" in r.getMessage() for r in caplog.records)


def test_done_callbacks_get_the_task_and_can_be_removed():
    seen = []

    async def main():
        t = yl.spawn(yl.sleep(0))
        t.add_done_callback(lambda task: seen.append(("a", task.done())))
        cb = seen.append
        t.add_done_callback(cb)
        assert t.remove_done_callback(cb) == 1
        await t
        await yl.sleep(0)
        t.add_done_callback(lambda task: seen.append(("late", task.done())))
        await yl.sleep(0)

    yl.run(main)
    assert seen == [("a", True), ("late", True)]
