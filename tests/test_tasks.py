"""Tasks: joining, outcomes, names, contexts, unretrieved-error reports."""

import contextvars
import gc
import logging

import pytest

import yieldloop as yl


def test_spawned_tasks_run_in_fifo_order():
    order = []

    async def job(i):
        order.append(i)

    async def main():
        tasks = [yl.spawn(job, i) for i in range(20)]
        for t in tasks:
            await t

    yl.run(main)
    assert order == list(range(20))


def test_spawn_accepts_a_coroutine_or_a_function_with_arguments():
    async def add(a, b):
        return a + b

    async def main():
        return await yl.spawn(add(1, 2)), await yl.spawn(add, 3, 4)

    assert yl.run(main) == (3, 7)


def test_spawn_takes_the_coroutine_by_keyword_and_a_name():
    async def add(a, b=10):
        return a + b

    async def main():
        t = yl.spawn(coro=add(1), name="kw")
        return await t, t.get_name(), await yl.spawn(add, 1, 2, name="args")

    assert yl.run(main) == (11, "kw", 3)


@pytest.mark.parametrize("call, message", [
    (lambda c: yl.spawn(), "missing 1 required positional argument: 'coro'"),
    (lambda c: yl.spawn(c, coro=c), "got multiple values for argument 'coro'"),
    (lambda c: yl.spawn(c, nmae="typo"), "got an unexpected keyword argument 'nmae'"),
])
def test_spawn_refuses_bad_arguments_as_a_python_function_would(call, message):
    async def child():
        pass

    async def main():
        with pytest.raises(TypeError, match=message):
            call(child)
        return yl.stats()["tasks"]

    assert yl.run(main) == 1                # main alone: nothing was spawned


def test_join_returns_result_and_raises_exception():
    async def ok():
        return 5

    async def bad():
        raise ValueError("nope")

    async def main():
        t1, t2 = yl.spawn(ok), yl.spawn(bad)
        assert await t1 == 5
        with pytest.raises(ValueError, match="nope"):
            await t2
        assert t1.done() and t2.done() and not t2.cancelled()
        assert t1.result() == 5
        assert isinstance(t2.exception(), ValueError)
        with pytest.raises(ValueError):
            t2.result()

    yl.run(main)


def test_many_joiners_all_get_the_result_in_join_order():
    got = []

    async def slow():
        await yl.sleep(0.01)
        return "x"

    async def joiner(t, i):
        got.append((i, await t))

    async def main():
        t = yl.spawn(slow)
        js = [yl.spawn(joiner, t, i) for i in range(5)]
        for j in js:
            await j

    yl.run(main)
    assert got == [(i, "x") for i in range(5)]


def test_result_of_pending_task_raises_invalid_state():
    async def main():
        t = yl.spawn(yl.sleep(1))
        with pytest.raises(yl.InvalidStateError):
            t.result()
        with pytest.raises(yl.InvalidStateError):
            t.exception()
        t.cancel()

    yl.run(main)


def test_a_task_cannot_join_itself():
    async def main():
        with pytest.raises(RuntimeError, match="cannot join itself"):
            await yl.current_task()

    yl.run(main)


def test_names_default_and_custom():
    async def main():
        t = yl.spawn(yl.sleep(0), name="worker")
        u = yl.spawn(yl.sleep(0))
        assert t.name == "worker" and t.get_name() == "worker"
        assert u.name.startswith("Task-")
        u.set_name("renamed")
        assert u.name == "renamed"
        assert yl.current_task().name == "main"
        await t
        await u

    yl.run(main)


def test_repr_shows_name_and_state():
    async def child():
        await yl.sleep(5)

    async def main():
        t = yl.spawn(child, name="c")
        assert repr(t) == "<Task 'c' ready>"
        await yl.sleep(0)
        assert repr(t) == "<Task 'c' waiting on sleep(5.0)>"
        assert "running" in repr(yl.current_task())
        t.cancel()
        await yl.sleep(0)
        assert repr(t) == "<Task 'c' cancelled>"
        done = yl.spawn(yl.sleep(0))
        await done
        assert repr(done).endswith("done result=None>")

    yl.run(main)


def test_get_coro_returns_what_was_spawned():
    async def child():
        pass

    async def main():
        c = child()
        t = yl.spawn(c)
        assert t.get_coro() is c
        await t

    yl.run(main)


def test_task_objects_cannot_be_made_directly():
    with pytest.raises(TypeError, match="spawn"):
        yl.Task()


def test_each_task_runs_in_its_own_context_copy():
    var = contextvars.ContextVar("var", default="unset")
    seen = {}

    async def child(name):
        seen[name + "-before"] = var.get()
        var.set(name)
        await yl.sleep(0)
        seen[name + "-after"] = var.get()

    async def main():
        var.set("main")
        a = yl.spawn(child, "a")
        b = yl.spawn(child, "b")
        await a
        await b
        seen["main"] = var.get()

    yl.run(main)
    assert seen == {
        "a-before": "main", "b-before": "main",
        "a-after": "a", "b-after": "b", "main": "main",
    }


def test_unjoined_task_exception_is_reported(caplog):
    async def fail():
        raise ValueError("lost?")

    async def main():
        yl.spawn(fail, name="orphan")
        await yl.sleep(0.01)

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        yl.run(main)
        gc.collect()
    records = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert len(records) == 1
    assert "orphan" in records[0].getMessage()
    assert records[0].exc_info[0] is ValueError


def test_joined_task_exception_is_not_reported(caplog):
    async def fail():
        raise ValueError("seen")

    async def main():
        with pytest.raises(ValueError):
            await yl.spawn(fail)

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        yl.run(main)
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_exception_retrieved_by_exception_method_is_not_reported(caplog):
    async def fail():
        raise ValueError("seen")

    async def main():
        t = yl.spawn(fail)
        await yl.sleep(0.01)
        assert isinstance(t.exception(), ValueError)

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        yl.run(main)
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_current_task_is_the_running_task():
    async def child():
        return yl.current_task()

    async def main():
        t = yl.spawn(child)
        assert await t is t

    yl.run(main)


def test_finished_task_joined_again_gives_its_result_each_time_in_every_style():
    async def child():
        return ("a", 1)                 # a tuple: returned whole, not unpacked

    def generator_joins(t):
        first = yield from t
        second = yield t
        return first, second

    async def main():
        t = yl.spawn(child)
        await yl.sleep(0)               # t is done before anyone joins it
        assert t.done()
        return await t, await t, await yl.spawn(generator_joins, t)

    assert yl.run(main) == (("a", 1), ("a", 1), (("a", 1), ("a", 1)))


def test_joining_a_finished_failed_task_raises_and_counts_as_retrieved(caplog):
    async def fail():
        raise ValueError("seen")

    async def main():
        t = yl.spawn(fail)
        await yl.sleep(0)
        assert t.done()
        for _ in range(2):
            with pytest.raises(ValueError, match="seen"):
                await t

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        yl.run(main)
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_cancelling_one_of_several_joiners_leaves_the_others_waiting():
    got = []
    gate = yl.Event()

    async def target():
        await gate.wait()
        return "x"

    async def joiner(t, i):
        try:
            got.append((i, await t))
        except yl.CancelledError:
            got.append((i, "cancelled"))

    async def main():
        t = yl.spawn(target)
        js = [yl.spawn(joiner, t, i) for i in range(3)]
        await yl.sleep(0)               # all three wait on t
        js[1].cancel()
        await yl.sleep(0)
        gate.set()
        for j in js:
            await j

    yl.run(main)
    assert got == [(1, "cancelled"), (0, "x"), (2, "x")]


def test_cancelled_only_joiner_is_not_woken_when_the_target_finishes():
    got = []
    gate = yl.Event()

    async def target():
        await gate.wait()
        return "x"

    async def joiner(t):
        try:
            await t
        except yl.CancelledError:
            got.append("cancelled")
            await yl.sleep(0.01)        # still alive when t finishes
            got.append("slept")

    async def main():
        t = yl.spawn(target)
        j = yl.spawn(joiner, t)
        await yl.sleep(0)
        j.cancel()
        await yl.sleep(0)
        gate.set()
        assert await t == "x"
        got.append("joined by main")
        await j

    yl.run(main)
    assert got == ["cancelled", "joined by main", "slept"]


def test_next_on_a_pending_task_raises_runtime_error():
    async def main():
        t = yl.spawn(yl.sleep(0))
        with pytest.raises(RuntimeError, match="is not done"):
            next(t)
        await t

    yl.run(main)


def test_each_of_many_unretrieved_failures_is_reported_once(caplog):
    # One after another, each task freed before the next is spawned: tasks
    # reuse the memory of earlier ones, and each report still comes.
    async def fail(i):
        raise ValueError(f"lost {i}")

    async def main():
        for i in range(100):
            yl.spawn(fail, i, name=f"orphan-{i}")
            await yl.sleep(0)
            await yl.sleep(0)

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        yl.run(main)
        gc.collect()
    records = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert [str(r.exc_info[1]) for r in records] == [f"lost {i}" for i in range(100)]
    assert all(f"'orphan-{i}'" in r.getMessage() for i, r in enumerate(records))


def test_unretrieved_failure_report_names_the_task_as_last_renamed(caplog):
    async def fail():
        raise ValueError("lost")

    async def main():
        t = yl.spawn(fail, name="before")
        await yl.sleep(0)
        assert t.done()
        t.set_name("after")

    with caplog.at_level(logging.ERROR, logger="yieldloop"):
        yl.run(main)
        gc.collect()
    [record] = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert record.getMessage() == (
        "Task exception was never retrieved: <Task 'after' failed exception=ValueError('lost')>")
