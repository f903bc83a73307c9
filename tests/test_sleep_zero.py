"""sleep(0)'s awaitable: a trap of its own type, small and outside the GC,
that behaves as every other trap in every way of awaiting and misusing it.

Most tasks of a spawn-heavy program hold one while they wait in the ready
queue, so it is 24 bytes where a Trap is 128 (core/_traps.pyx, YieldTrap).
"""

import asyncio
import gc
import sys
import warnings

import pytest

import yieldloop as yl
from yieldloop import trace


def test_is_small_and_outside_the_cyclic_gc():
    small, timer = yl.sleep(0), yl.sleep(1)
    try:
        assert not gc.is_tracked(small)
        assert sys.getsizeof(small) < sys.getsizeof(timer)
        assert repr(small) == "<yieldloop trap sleep(0)>"
        assert small.__await__() is small and iter(small) is small
    finally:
        small.close()
        timer.close()


def test_cannot_be_made_directly():
    t = yl.sleep(0)
    t.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # and no "never awaited" for the refused one
        with pytest.raises(TypeError, match=r"made by yieldloop\.sleep\(0\)"):
            type(t)()


def test_negative_and_zero_delays_give_it():
    first = yl.sleep(0)
    kind = type(first)
    first.close()
    for delay in (0, 0.0, -1, -0.5):
        t = yl.sleep(delay)
        assert type(t) is kind
        t.close()


def test_await_yield_from_and_bare_yield_each_let_the_others_run_first():
    log = []

    async def awaiter():
        log.append("await 1")
        await yl.sleep(0)
        log.append("await 2")

    def yield_from():
        log.append("yield from 1")
        got = yield from yl.sleep(0)
        log.append(("yield from 2", got))

    def bare():
        log.append("bare 1")
        got = yield yl.sleep(0)
        log.append(("bare 2", got))

    async def main():
        tasks = [yl.spawn(awaiter), yl.spawn(yield_from), yl.spawn(bare)]
        for t in tasks:
            await t

    yl.run(main)
    assert log == ["await 1", "yield from 1", "bare 1",
                   "await 2", ("yield from 2", None), ("bare 2", None)]


def test_awaiting_one_twice_is_an_error_in_the_task_not_a_crash():
    async def main():
        t = yl.sleep(0)
        await t
        with pytest.raises(RuntimeError, match=r"cannot reuse already awaited sleep\(0\)"):
            await t
        return "ok"

    assert yl.run(main) == "ok"


def test_yielding_a_consumed_one_bare_is_refused():
    def main():
        t = yl.sleep(0)
        yield t                       # consumed by the kernel
        try:
            yield t
        except RuntimeError as e:
            return str(e)

    assert "which was already awaited" in yl.run(main)


def test_iterated_by_hand_it_says_it_was_resumed_too_early():
    t = yl.sleep(0)
    assert next(t) is t               # yielded once, as to a kernel
    with pytest.raises(RuntimeError, match=r"resumed before the yieldloop kernel answered"):
        next(t)
    with pytest.raises(RuntimeError, match=r"resumed before the yieldloop kernel answered"):
        t.send(None)


def test_cancel_while_it_waits_in_the_ready_queue():
    reached = []

    async def child():
        try:
            await yl.sleep(0)
        except BaseException as e:
            reached.append(type(e).__name__)
            raise
        reached.append("not cancelled")

    async def main():
        c = yl.spawn(child)
        await yl.sleep(0)             # child is now past its sleep(0), queued
        c.cancel()
        with pytest.raises(asyncio.CancelledError):
            await c

    yl.run(main)
    # The kernel had answered the trap: the cancellation reaches the task at
    # its next step, inside the await, as with any trap.
    assert reached == ["CancelledError"]


def test_cancel_before_it_is_reached_cancels_at_it():
    async def child(started):
        started.append(1)
        yl.current_task().cancel()    # while running: at the next wait
        await yl.sleep(0)
        return "not cancelled"

    async def main():
        started = []
        c = yl.spawn(child, started)
        with pytest.raises(asyncio.CancelledError):
            await c
        return started, c.cancelled()

    assert yl.run(main) == ([1], True)


def test_uncancel_before_it_lets_the_task_go_on():
    async def child():
        me = yl.current_task()
        me.cancel()
        me.uncancel()
        await yl.sleep(0)
        return "went on"

    async def main():
        return await yl.spawn(child)

    assert yl.run(main) == "went on"


def test_traced_as_a_trip_to_the_back_of_the_ready_queue():
    async def child():
        await yl.sleep(0)

    def gen():
        yield yl.sleep(0)

    async def main():
        await yl.spawn(child, name="awaits")
        await yl.spawn(gen, name="bare")

    tracer = yl.Tracer()
    yl.run(main, trace=tracer)
    text = trace.text(tracer, times=False)
    assert "awaits  awaits sleep(0): back of the ready queue" in text
    assert "bare    awaits sleep(0): back of the ready queue" in text


def test_in_an_asyncio_task_on_yieldloop_loop():
    async def main():
        order = []

        async def other():
            order.append("other")

        t = asyncio.ensure_future(other())
        await yl.sleep(0)             # the native trap, in an asyncio task
        order.append("after")
        await t
        s = yl.sleep(0)
        await s
        with pytest.raises(RuntimeError, match="already awaited"):
            await s
        return order

    assert yl.run_asyncio(main()) == ["other", "after"]


def test_on_asyncio_own_loop_it_says_what_to_use_instead():
    async def main():
        await yl.sleep(0)

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError) as info:
            loop.run_until_complete(main())
    finally:
        loop.close()
    assert ("yieldloop sleep(0) was awaited in a task that yieldloop's kernel does not run"
            in str(info.value))
    assert "use asyncio.sleep() instead" in str(info.value)


def test_never_awaited_warns_and_closed_does_not():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        yl.sleep(0)
        gc.collect()
        closed = yl.sleep(0)
        closed.close()
        del closed
    messages = [str(x.message) for x in w if x.category is RuntimeWarning]
    assert messages == ["yieldloop sleep(0) was never awaited: it does nothing until a task "
                        "awaits it (or yields it)"]


def test_throw_into_a_fresh_one_raises_the_exception_and_finishes_it():
    t = yl.sleep(0)
    with pytest.raises(KeyError):
        t.throw(KeyError("k"))
    with pytest.raises(RuntimeError, match="cannot reuse already awaited"):
        next(t)


def test_one_yielded_bare_by_a_second_task_before_the_first_resumes():
    # As for any trap: the second task consumes the answer (it gets None),
    # the first is told it cannot reuse it.
    shared = yl.sleep(0)
    log = []

    async def first():
        try:
            await shared               # answered at once, then queued
        except RuntimeError as e:
            log.append(("first", str(e)))

    def second():
        got = yield shared             # runs before first resumes
        log.append(("second", got))

    async def main():
        a, b = yl.spawn(first), yl.spawn(second)
        await a
        await b

    yl.run(main)
    # second consumed it before first resumed; first, queued earlier, resumes first.
    assert log == [("first", "cannot reuse already awaited sleep(0)"), ("second", None)]


def test_cancelling_an_asyncio_task_queued_after_it_on_yieldloop_loop():
    reached = []

    async def child():
        try:
            await yl.sleep(0)
        except asyncio.CancelledError:
            reached.append("cancelled at sleep(0)")
            raise

    async def main():
        t = asyncio.ensure_future(child())
        await asyncio.sleep(0)         # child ran up to its sleep(0) and is queued
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return reached

    assert yl.run_asyncio(main()) == ["cancelled at sleep(0)"]
