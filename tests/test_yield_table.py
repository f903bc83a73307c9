"""What the kernel does with each value a task yields (DESIGN.md's table)."""

import pytest

import yieldloop as yl


# --- None: requeue at the back of the ready queue


def test_bare_yield_requeues_the_task_behind_the_others():
    order = []

    def worker(name):
        for i in range(3):
            order.append((name, i))
            yield

    async def main():
        a = yl.spawn(worker, "a")
        b = yl.spawn(worker, "b")
        await a
        await b

    yl.run(main)
    assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_bare_yield_resumes_with_none():
    def gen():
        got = yield
        return got

    assert yl.run(gen) is None


# --- a trap: performed, resumed with its result


def test_yielded_sleep_trap_is_performed_and_answered_with_none():
    def gen():
        start = yl.time()
        got = yield yl.sleep(0.02)
        return got, yl.time() - start

    got, elapsed = yl.run(gen)
    assert got is None
    assert elapsed >= 0.02


def test_yield_from_sleep_trap():
    def gen():
        start = yl.time()
        yield from yl.sleep(0.02)
        return yl.time() - start

    assert yl.run(gen) >= 0.02


def test_await_sleep_trap():
    async def main():
        start = yl.time()
        await yl.sleep(0.02)
        return yl.time() - start

    assert yl.run(main) >= 0.02


def test_yielded_task_is_joined_and_its_result_sent_back():
    async def child():
        await yl.sleep(0)
        return "child result"

    def parent():
        task = yl.spawn(child)
        got = yield task
        return got

    assert yl.run(parent) == "child result"


# --- any other awaitable: awaited for the task (Tornado style)


def test_yielded_coroutine_is_awaited_and_its_result_sent_back():
    async def fetch(n):
        await yl.sleep(0)
        return n * 2

    def handler():
        x = yield fetch(21)
        return x

    assert yl.run(handler) == 42


def test_yielded_coroutine_error_is_thrown_into_the_generator():
    async def fail():
        await yl.sleep(0)
        raise KeyError("boom")

    def handler():
        try:
            yield fail()
        except KeyError as e:
            return f"caught {e}"

    assert yl.run(handler) == "caught 'boom'"


def test_yielded_object_with_dunder_await_is_awaited():
    class Answer:
        def __await__(self):
            yield from yl.sleep(0)
            return 42

    def handler():
        return (yield Answer())

    assert yl.run(handler) == 42


def test_yielded_generator_runs_as_a_sub_coroutine():
    def inner():
        yield
        return "inner"

    def outer():
        return (yield inner())

    assert yl.run(outer) == "inner"


def test_yielded_awaitables_nest():
    async def leaf():
        await yl.sleep(0)
        return 1

    def middle():
        x = yield leaf()
        return x + 1

    def top():
        y = yield middle()
        return y + 1

    assert yl.run(top) == 3


def test_cancel_reaches_the_innermost_yielded_awaitable():
    seen = []

    async def leaf():
        try:
            await yl.sleep(10)
        except BaseException as e:
            seen.append(type(e).__name__)
            raise

    def outer():
        yield leaf()

    async def main():
        t = yl.spawn(outer)
        await yl.sleep(0.01)
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t

    yl.run(main)
    assert seen == ["CancelledError"]


# --- anything else: TypeError into that task alone


@pytest.mark.parametrize("bad", [42, "text", 3.5, [1, 2], object(), b"bytes"])
def test_yielding_a_wrong_value_throws_typeerror_into_that_task(bad):
    def gen():
        try:
            yield bad
        except TypeError as e:
            return str(e)

    message = yl.run(gen)
    assert "yielded" in message and type(bad).__name__ in message
    assert "a task may yield None" in message


def test_wrong_value_does_not_disturb_other_tasks():
    progress = []

    def bad():
        yield 123

    async def good():
        for i in range(3):
            await yl.sleep(0)
            progress.append(i)
        return "ok"

    async def main():
        b = yl.spawn(bad)
        g = yl.spawn(good)
        with pytest.raises(TypeError):
            await b
        return await g

    assert yl.run(main) == "ok"
    assert progress == [0, 1, 2]


def test_await_of_custom_iterator_yielding_garbage_raises_at_the_await():
    class Weird:
        def __await__(self):
            yield "garbage"

    async def main():
        with pytest.raises(TypeError, match="garbage"):
            await Weird()
        return "survived"

    assert yl.run(main) == "survived"


def test_yielding_an_asyncio_future_gets_a_clear_error():
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        fut = loop.create_future()

        async def main():
            with pytest.raises(TypeError, match="asyncio future"):
                await fut

        yl.run(main)
    finally:
        loop.close()


def test_awaitable_whose_dunder_await_raises_gets_that_error():
    class Broken:
        def __await__(self):
            raise ValueError("no await for you")

    def gen():
        with pytest.raises(ValueError, match="no await"):
            yield Broken()
        return "ok"

    assert yl.run(gen) == "ok"


def test_awaitable_returning_non_iterator_gets_typeerror():
    class Broken:
        def __await__(self):
            return 5

    def gen():
        with pytest.raises(TypeError, match="non-iterator"):
            yield Broken()
        return "ok"

    assert yl.run(gen) == "ok"


def test_reusing_an_awaited_trap_is_an_error():
    async def main():
        s = yl.sleep(0)
        await s
        with pytest.raises(RuntimeError, match="already awaited"):
            await s

    yl.run(main)


def test_yielding_an_already_awaited_trap_is_an_error():
    def gen():
        s = yl.sleep(0)
        yield s
        with pytest.raises(RuntimeError, match="already awaited"):
            yield s
        return "ok"

    assert yl.run(gen) == "ok"


def test_trap_driven_outside_a_kernel_says_so():
    trap = yl.sleep(1)
    it = trap.__await__()
    assert next(it) is trap
    with pytest.raises(RuntimeError, match=r"in a task neither yieldloop.run\(\) nor yieldloop.Loop runs"):
        next(it)
