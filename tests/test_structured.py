"""TaskGroup, timeout/timeout_at, wait_for, gather, shield."""

import sys

import pytest

import yieldloop as yl

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


async def settle(n=5):
    for _ in range(n):
        await yl.sleep(0)


async def fail_after(delay, exc):
    await yl.sleep(delay)
    raise exc


# --- TaskGroup


def test_taskgroup_waits_for_all_children():
    async def child(x):
        await yl.sleep(0.01 * x)
        return x

    async def main():
        async with yl.TaskGroup() as tg:
            tasks = [tg.spawn(child, x) for x in (3, 1, 2)]
            named = tg.create_task(child(0), name="zero")
        assert [t.result() for t in tasks] == [3, 1, 2]
        assert named.name == "zero"

    yl.run(main)


def test_failing_child_cancels_siblings_and_body_and_errors_are_grouped():
    cancelled = []

    async def sibling():
        try:
            await yl.sleep(10)
        except yl.CancelledError:
            cancelled.append("sibling")
            raise

    async def main():
        with pytest.raises(BaseExceptionGroup) as info:
            async with yl.TaskGroup() as tg:
                tg.spawn(sibling)
                tg.spawn(fail_after, 0.01, ValueError("boom"))
                try:
                    await yl.sleep(10)
                except yl.CancelledError:
                    cancelled.append("body")
                    raise
        assert isinstance(info.value, ExceptionGroup)
        assert [type(e) for e in info.value.exceptions] == [ValueError]
        assert yl.current_task().cancelling() == 0   # no cancel leaks out

    yl.run(main)
    assert sorted(cancelled) == ["body", "sibling"]


def test_several_failures_are_all_reported():
    async def main():
        with pytest.raises(ExceptionGroup) as info:
            async with yl.TaskGroup() as tg:
                tg.spawn(fail_after, 0, ValueError("a"))
                tg.spawn(fail_after, 0, KeyError("b"))
        assert sorted(type(e).__name__ for e in info.value.exceptions) == ["KeyError", "ValueError"]

    yl.run(main)


def test_body_error_cancels_children_and_is_grouped():
    async def main():
        with pytest.raises(ExceptionGroup) as info:
            async with yl.TaskGroup() as tg:
                child = tg.spawn(yl.sleep(10))
                raise LookupError("body")
        assert child.cancelled()
        assert [type(e) for e in info.value.exceptions] == [LookupError]

    yl.run(main)


def test_taskgroup_cancelled_from_outside_propagates_cancellation():
    async def body():
        async with yl.TaskGroup() as tg:
            tg.spawn(yl.sleep(10))
            await yl.sleep(10)

    async def main():
        t = yl.spawn(body)
        await settle()
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t

    yl.run(main)


def test_taskgroup_refuses_spawn_before_enter_and_after_exit():
    async def main():
        tg = yl.TaskGroup()
        coro = yl.sleep(0)
        with pytest.raises(RuntimeError, match="not been entered"):
            tg.spawn(coro)
        async with tg:
            pass
        with pytest.raises(RuntimeError, match="finished"):
            tg.spawn(yl.sleep(0))
        with pytest.raises(RuntimeError, match="already been entered"):
            async with tg:
                pass

    yl.run(main)


# --- timeouts


def test_timeout_expiry_raises_timeout_error():
    async def main():
        with pytest.raises(TimeoutError):
            async with yl.timeout(0.02) as cm:
                await yl.sleep(10)
        assert cm.expired()
        async with yl.timeout(10) as cm2:
            await yl.sleep(0)
        assert not cm2.expired()
        assert yl.current_task().cancelling() == 0

    yl.run(main)


def test_timeout_none_and_reschedule():
    async def main():
        with pytest.raises(TimeoutError):
            async with yl.timeout(None) as cm:
                assert cm.when() is None
                cm.reschedule(yl.time() + 0.02)
                await yl.sleep(10)
        async with yl.timeout(0.02) as cm:
            cm.reschedule(None)
            await yl.sleep(0.05)
        with pytest.raises(RuntimeError, match="not been entered"):
            yl.timeout(1).reschedule(2)

    yl.run(main)


def test_timeout_at_uses_the_kernel_clock():
    async def main():
        with pytest.raises(TimeoutError):
            async with yl.timeout_at(yl.time() + 0.02):
                await yl.sleep(10)

    yl.run(main)


def test_inner_timeout_expires_first():
    async def main():
        async with yl.timeout(10) as outer:
            with pytest.raises(TimeoutError):
                async with yl.timeout(0.01) as inner:
                    await yl.sleep(10)
        assert inner.expired() and not outer.expired()

    yl.run(main)


def test_outer_timeout_wins_when_both_expire():
    async def main():
        with pytest.raises(TimeoutError):
            async with yl.timeout(0.01) as outer:
                try:
                    async with yl.timeout(0.01) as inner:
                        # Block the loop past both deadlines, then wait.
                        import time

                        time.sleep(0.03)
                        await yl.sleep(10)
                except TimeoutError:
                    pytest.fail("the inner timeout must not claim the outer's cancellation")
        assert outer.expired()
        assert inner.expired()

    yl.run(main)


def test_external_cancel_is_not_turned_into_timeout_error():
    async def body():
        async with yl.timeout(10):
            await yl.sleep(10)

    async def main():
        t = yl.spawn(body)
        await settle()
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t

    yl.run(main)


def test_cancel_and_timeout_together_stay_a_cancellation():
    async def body():
        async with yl.timeout(0.01):
            import time

            time.sleep(0.02)            # the deadline passes...
            yl.current_task().cancel()  # ...and someone else cancels too
            await yl.sleep(10)

    async def main():
        with pytest.raises(yl.CancelledError):
            await yl.spawn(body)

    yl.run(main)


# --- wait_for


def test_wait_for_returns_the_result_in_time():
    async def job():
        await yl.sleep(0.01)
        return "done"

    async def main():
        assert await yl.wait_for(job(), 1) == "done"
        assert await yl.wait_for(job(), None) == "done"

    yl.run(main)


def test_wait_for_timeout_cancels_the_awaitable():
    cancelled = []

    async def slow():
        try:
            await yl.sleep(10)
        except yl.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        with pytest.raises(TimeoutError):
            await yl.wait_for(slow(), 0.02)
        assert cancelled == [True]
        # A zero timeout cancels the task before it starts, as in asyncio:
        # its body never runs.
        with pytest.raises(TimeoutError):
            await yl.wait_for(slow(), 0)

    yl.run(main)
    assert cancelled == [True]


def test_wait_for_accepts_tasks_and_generators():
    def gen():
        yield from yl.sleep(0)
        return "gen"

    async def main():
        t = yl.spawn(yl.sleep(0))
        assert await yl.wait_for(t, 1) is None
        assert await yl.wait_for(gen(), 1) == "gen"

    yl.run(main)


# --- gather


def test_gather_returns_results_in_argument_order():
    async def job(x):
        await yl.sleep(0.01 * (3 - x))
        return x

    async def main():
        assert await yl.gather(job(0), job(1), job(2)) == [0, 1, 2]
        assert await yl.gather() == []

    yl.run(main)


def test_gather_children_run_concurrently():
    log = []

    async def child(i):
        log.append(("start", i))
        await yl.sleep(0.01)
        log.append(("end", i))
        return i

    async def main():
        return await yl.gather(*[child(i) for i in range(5)])

    assert yl.run(main) == [0, 1, 2, 3, 4]
    # Every child started before any finished: they waited at the same time.
    assert log == [("start", i) for i in range(5)] + [("end", i) for i in range(5)]


def test_gather_raises_first_exception_and_others_keep_running():
    async def main():
        slow = yl.spawn(yl.sleep(0.05))
        with pytest.raises(ValueError):
            await yl.gather(fail_after(0, ValueError("x")), slow)
        assert not slow.done()
        await slow

    yl.run(main)


def test_gather_return_exceptions_collects_them():
    async def main():
        r = await yl.gather(yl.sleep(0), fail_after(0, KeyError("k")), return_exceptions=True)
        assert r[0] is None and isinstance(r[1], KeyError)

    yl.run(main)


def test_cancelling_the_awaiting_task_cancels_gathered_children():
    cancelled = []

    async def child(i):
        try:
            await yl.sleep(10)
        except yl.CancelledError:
            cancelled.append(i)
            raise

    async def main():
        t = yl.spawn(yl.gather(child(0), child(1)))
        await settle()
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t

    yl.run(main)
    assert sorted(cancelled) == [0, 1]


def test_gather_cancel_method_cancels_children():
    async def main():
        g = yl.gather(yl.sleep(10), yl.sleep(10))
        await settle()
        assert g.cancel()
        with pytest.raises(yl.CancelledError):
            await g
        assert g.done()

    yl.run(main)


def test_gather_awaits_the_same_coroutine_once():
    async def job():
        return 1

    async def main():
        c = job()
        assert await yl.gather(c, c) == [1, 1]

    yl.run(main)


# --- shield


def test_shield_keeps_the_inner_work_running():
    async def inner():
        await yl.sleep(0.02)
        return "inner done"

    async def outer(task):
        return await yl.shield(task)

    async def main():
        work = yl.spawn(inner)
        o = yl.spawn(outer, work)
        await settle()
        o.cancel()
        with pytest.raises(yl.CancelledError):
            await o
        assert await work == "inner done"

    yl.run(main)
