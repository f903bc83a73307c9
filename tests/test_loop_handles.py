"""yieldloop.Loop's handles are asyncio's Handle and TimerHandle to the code
that uses them, and its clock, error reports and debug mode are asyncio's.

Each test runs on asyncio's own loop too: what it asserts is what asyncio
does.
"""

import asyncio
import concurrent.futures
import contextvars
import gc
import logging
import threading
import time
import weakref

import pytest

import yieldloop

LOOPS = {"asyncio": asyncio.new_event_loop, "yieldloop": yieldloop.new_event_loop}


@pytest.fixture(params=list(LOOPS))
def loop(request):
    lp = LOOPS[request.param]()
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()
    asyncio.set_event_loop(None)


def test_call_later_returns_an_asyncio_timer_handle(loop):
    ctx = contextvars.copy_context()
    h = loop.call_later(10, print, context=ctx)
    assert isinstance(h, asyncio.TimerHandle) and isinstance(h, asyncio.Handle)
    assert h.when() == pytest.approx(loop.time() + 10, abs=1)
    if hasattr(asyncio.Handle, "get_context"):         # asyncio's: 3.12+
        assert h.get_context() is ctx
    assert not h.cancelled()
    h.cancel()
    assert h.cancelled()


def test_call_at_returns_a_timer_handle_due_at_when(loop):
    h = loop.call_at(1234.5, print)
    assert isinstance(h, asyncio.TimerHandle) and h.when() == 1234.5
    h.cancel()


def test_call_soon_returns_an_asyncio_handle_that_is_not_a_timer_handle(loop):
    h = loop.call_soon(print)
    assert isinstance(h, asyncio.Handle) and not isinstance(h, asyncio.TimerHandle)
    assert h == h and h != loop.call_soon(print)
    h.cancel()


def test_handles_are_weak_referenceable(loop):
    fired = []
    h = loop.call_soon(fired.append, 1)
    t = loop.call_later(0, fired.append, 2)
    refs = [weakref.ref(h), weakref.ref(t)]
    assert refs[0]() is h and refs[1]() is t
    loop.run_until_complete(asyncio.sleep(0.01))
    del h, t
    gc.collect()
    assert fired == [1, 2] and [r() for r in refs] == [None, None]


def test_timer_handles_compare_by_deadline_with_each_other_and_asyncios(loop):
    early = loop.call_at(100.0, print)
    late = loop.call_at(200.0, print)
    twin = loop.call_at(100.0, print)
    real = asyncio.TimerHandle(150.0, print, (), loop)
    assert early < late and late > early and early <= twin and early >= twin
    assert early == twin and early != late and hash(early) == hash(twin)
    assert early < real < late and real > early and late >= real
    assert sorted([late, real, early]) == [early, real, late]
    twin.cancel()
    assert early != twin                      # cancelled: not equal any more
    for h in (early, late):
        h.cancel()


def test_timer_handle_repr_is_asyncios(loop):
    def tick():
        pass

    h = loop.call_at(5.0, tick)
    assert repr(h).startswith("<TimerHandle when=5.0 test_timer_handle_repr_is_asyncios.<locals>"
                              ".tick() at ")
    h.cancel()
    assert repr(h) == "<TimerHandle cancelled when=5.0>"


def test_time_set_on_the_instance_drives_the_timers(loop):
    # A test clock: time set on the loop object, as libraries' tests do.
    offset = [0.0]
    real = loop.time
    loop.time = lambda: real() + offset[0]
    fired = []
    h = loop.call_later(3600, fired.append, "later")
    assert h.when() == pytest.approx(real() + 3600, abs=60)
    offset[0] = 7200.0                        # an hour and more went by
    loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(asyncio.sleep(0))
    assert fired == ["later"]
    del loop.time
    assert loop.call_later(3600, print).when() == pytest.approx(real() + 3600, abs=60)


def test_time_overridden_by_a_subclass_drives_the_timers(loop):
    class Fast(type(loop)):
        def time(self):
            return super().time() + 7200

    fast = Fast()
    try:
        fired = []
        t0 = time.monotonic()
        fast.call_at(t0 + 3600, fired.append, "at")      # due: the clock is ahead
        fast.run_until_complete(asyncio.sleep(0))
        fast.run_until_complete(asyncio.sleep(0))
        assert fired == ["at"]
        assert fast.call_later(0, print).when() >= t0 + 7200
    finally:
        fast.close()


def test_exception_in_callback_is_reported_with_asyncios_message(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def fails():
        raise ZeroDivisionError

    loop.call_soon(fails)
    loop.run_until_complete(asyncio.sleep(0))
    [ctx] = contexts
    assert sorted(ctx) == ["exception", "handle", "message"]
    assert ctx["message"].startswith("Exception in callback test_exception_in_callback_is_"
                                     "reported_with_asyncios_message.<locals>.fails() at ")
    assert isinstance(ctx["handle"], asyncio.Handle)


def test_debug_mode_reports_where_a_failing_callback_was_scheduled(loop):
    loop.set_debug(True)
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def fails():
        raise ZeroDivisionError

    loop.call_soon(fails)
    loop.call_later(0, fails)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert len(contexts) == 2
    for ctx in contexts:
        assert sorted(ctx) == ["exception", "handle", "message", "source_traceback"]
        assert any(frame.name == "test_debug_mode_reports_where_a_failing_callback_was_scheduled"
                   for frame in ctx["source_traceback"])


def test_debug_mode_slow_callback_warning_names_the_task(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    async def slow_step():
        time.sleep(0.05)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        task = loop.create_task(slow_step(), name="slowpoke")
        loop.run_until_complete(task)
    # On a slow machine (valgrind) other steps may pass the limit too.
    [message] = [r.getMessage() for r in caplog.records
                 if "took" in r.getMessage() and "slowpoke" in r.getMessage()]
    assert message.startswith("Executing <Task ") and "name='slowpoke'" in message


def test_debug_mode_slow_callback_warning_names_the_handle(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    def slow():
        time.sleep(0.05)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.call_soon(slow)
        loop.run_until_complete(asyncio.sleep(0.01))
    # On a slow machine (valgrind) other steps may pass the limit too.
    [message] = [r.getMessage() for r in caplog.records
                 if "took" in r.getMessage() and ".slow()" in r.getMessage()]
    assert message.startswith("Executing <Handle test_debug_mode_slow_callback_warning_names"
                              "_the_handle.<locals>.slow() at ")


def test_time_patched_with_mock_drives_the_timers_until_unpatched(loop):
    from unittest import mock

    real = loop.time
    with mock.patch.object(loop, "time", return_value=5000.0):
        assert loop.call_later(1, print).when() == 5001.0
    assert loop.call_later(1, print).when() == pytest.approx(real() + 1, abs=60)


# --- call_soon_threadsafe(): asyncio's _ThreadSafeHandle (3.14+), whose
# lock is held while the callback runs. asyncio's own loop has these
# semantics only where it has the class; yieldloop.Loop on every version.

HAS_THREADSAFE_HANDLE = hasattr(asyncio.events, "_ThreadSafeHandle")


def _threadsafe_semantics(loop):
    if isinstance(loop, yieldloop.Loop) or HAS_THREADSAFE_HANDLE:
        return
    pytest.skip("asyncio's loop locks call_soon_threadsafe() handles from 3.14 on")


def _run_from_thread(loop, body):
    """Run ``body()`` in a thread while ``loop`` runs; re-raise its error."""
    errors = []

    def target():
        try:
            body()
        except BaseException as exc:           # reported in the test's thread
            errors.append(exc)
        finally:
            loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=target)
    t.start()
    loop.run_forever()
    t.join()
    if errors:
        raise errors[0]


def test_call_soon_threadsafe_returns_asyncios_thread_safe_handle(loop):
    h = loop.call_soon_threadsafe(print)
    assert isinstance(h, asyncio.Handle) and not isinstance(h, asyncio.TimerHandle)
    if HAS_THREADSAFE_HANDLE:
        assert isinstance(h, asyncio.events._ThreadSafeHandle)
        assert repr(h).startswith("<_ThreadSafeHandle print()")
    else:
        assert repr(h).startswith("<Handle print()")
    assert not loop.call_soon(print).__class__.__name__.startswith("_Thread")
    h.cancel()
    assert h.cancelled()


def test_cancel_from_another_thread_waits_for_the_running_threadsafe_callback(loop):
    _threadsafe_semantics(loop)
    started, cancelling, finished = threading.Event(), threading.Event(), threading.Event()
    results = []

    def callback():
        started.set()
        cancelling.wait(10)
        time.sleep(0.1)      # the other thread is in cancel() by now, or soon
        results.append("ran")
        finished.set()

    def body():
        h = loop.call_soon_threadsafe(callback)
        assert started.wait(10)
        cancelling.set()
        h.cancel()
        results.append(("cancel returned, callback finished", finished.is_set()))

    _run_from_thread(loop, body)
    assert results == ["ran", ("cancel returned, callback finished", True)]


def test_cancelled_from_another_thread_waits_for_the_running_threadsafe_callback(loop):
    _threadsafe_semantics(loop)
    started, asking, finished = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def callback():
        started.set()
        asking.wait(10)
        time.sleep(0.1)
        finished.set()

    def body():
        h = loop.call_soon_threadsafe(callback)
        assert started.wait(10)
        asking.set()
        seen.append((h.cancelled(), finished.is_set()))

    _run_from_thread(loop, body)
    assert seen == [(False, True)]


def test_threadsafe_callback_that_cancels_its_own_handle_runs_to_the_end(loop):
    # The lock is re-entrant: the callback's own cancel() does not wait.
    handle = concurrent.futures.Future()
    results = []

    def callback():
        h = handle.result(10)
        h.cancel()
        results.append(("cancelled", h.cancelled()))

    def body():
        h = loop.call_soon_threadsafe(callback)
        handle.set_result(h)

    _run_from_thread(loop, body)
    # The thread's own stop() may run first: run until the callback ran.
    loop.run_until_complete(asyncio.sleep(0))
    assert results == [("cancelled", True)]


def test_threadsafe_handle_cancelled_from_another_thread_before_it_runs_does_not_run(loop):
    ran = []
    go = threading.Event()

    def body():
        h = loop.call_soon_threadsafe(ran.append, "ran")
        h.cancel()
        assert h.cancelled()
        go.set()

    loop.call_soon(go.wait, 10)           # the loop is busy until the cancel
    _run_from_thread(loop, body)
    loop.run_until_complete(asyncio.sleep(0))
    assert ran == []


def test_call_soon_handle_cancel_from_another_thread_does_not_wait_for_its_callback(loop):
    # Only call_soon_threadsafe() handles carry the lock.
    started, cancelled = threading.Event(), threading.Event()
    seen = []

    def callback():
        started.set()
        seen.append(cancelled.wait(10))   # True unless cancel() waited for us

    def body():
        assert started.wait(10)
        h.cancel()
        cancelled.set()

    t = threading.Thread(target=body)
    t.start()
    h = loop.call_soon(callback)
    loop.run_until_complete(asyncio.sleep(0))
    t.join()
    assert seen == [True]


def test_threadsafe_handle_run_by_hand_after_cancel_does_not_run(loop):
    _threadsafe_semantics(loop)
    ran = []
    h = loop.call_soon_threadsafe(ran.append, "ran")
    h.cancel()
    h._run()
    assert ran == []


# --- when() as given to call_at()


def test_call_at_keeps_an_int_deadline_as_given(loop):
    h = loop.call_at(1234, print)
    assert h.when() == 1234 and type(h.when()) is int
    assert type(h._when) is int
    assert repr(h) == "<TimerHandle when=1234 print()>"
    h.cancel()


def test_call_at_a_float_deadline_gives_back_the_same_float(loop):
    when = loop.time() + 0.123456789
    h = loop.call_at(when, print)
    assert type(h.when()) is float and h.when() == when
    h.cancel()


def test_call_later_on_an_int_clock_gives_an_int_deadline(loop):
    from unittest import mock

    with mock.patch.object(loop, "time", return_value=5000):
        h = loop.call_later(3, print)
    assert h.when() == 5003 and type(h.when()) is int
    h.cancel()


def test_timer_with_an_int_deadline_still_fires_in_order(loop):
    fired = []
    now = loop.time()
    loop.call_at(int(now) - 1, fired.append, "int")      # already due
    loop.call_at(now - 0.5, fired.append, "float")
    loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(asyncio.sleep(0))
    assert sorted(fired) == ["float", "int"]
    assert fired[0] == ("int" if int(now) - 1 < now - 0.5 else "float")


def test_debug_mode_slow_callback_warning_goes_through_asyncios_logger(loop):
    # asyncio's tests patch asyncio.base_events.logger to see the warning.
    from unittest import mock

    loop.set_debug(True)
    loop.slow_callback_duration = 0.0

    def slow():
        loop.stop()

    with mock.patch("asyncio.base_events.logger") as m_logger:
        loop.call_soon(slow)
        loop.run_forever()
    fmt, *args = m_logger.warning.call_args[0]
    assert (fmt % tuple(args)).startswith("Executing <Handle test_debug_mode_slow_callback")
