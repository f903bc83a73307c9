"""yieldloop.Loop's own Future behaves as asyncio's.

Each test runs one asyncio program on asyncio's own loop (asyncio's C Task
and Future) and on yieldloop.Loop (yieldloop's), and asserts that what the
program observed is the same (tests/task_diff.py); the harness also checks
that on yieldloop.Loop the program ran in yieldloop's Task. Tasks:
test_loop_tasks.py.
"""

import asyncio
import concurrent.futures
import contextvars
import sys
import types

import pytest

from task_diff import give_way, same



# --- what a task and a future are


def test_task_and_future_present_as_asyncios_classes():
    async def program(loop, seen):
        task = loop.create_task(give_way())
        fut = loop.create_future()
        out = (isinstance(task, asyncio.Task), isinstance(task, asyncio.Future),
               isinstance(fut, asyncio.Future), asyncio.isfuture(task), asyncio.isfuture(fut),
               task.__class__.__name__, fut.__class__.__name__,
               asyncio.iscoroutine(task), asyncio.iscoroutine(fut))
        fut.cancel()
        await task
        return out

    assert same(program)[0] == ("returned", (True, True, True, True, True, "Task", "Future",
                                             False, False))


def test_the_classes_have_asyncios_attribute_names():
    def names(cls):
        return {n for n in dir(cls) if not n.startswith("__")}

    async def program(loop, seen):
        task = loop.create_task(give_way())
        fut = loop.create_future()
        out = (sorted(names(type(task)) ^ names(asyncio.Task)),
               sorted(names(type(fut)) ^ names(asyncio.Future)))
        await task
        return out

    assert same(program)[0] == ("returned", ([], []))


def test_tasks_and_futures_take_attributes_and_weak_references():
    import weakref

    async def program(loop, seen):
        task = loop.create_task(give_way())
        fut = loop.create_future()
        task.note, fut.note = "t", "f"
        refs = (weakref.ref(task)() is task, weakref.ref(fut)() is fut)
        await task
        return task.note, fut.note, refs

    assert same(program)[0] == ("returned", ("t", "f", (True, True)))


def test_task_and_future_subscript_as_generic_aliases():
    async def program(loop, seen):
        t, f = loop.create_task(give_way()), loop.create_future()
        out = (type(t)[int].__args__, type(f)[str].__args__)
        await t
        return out

    assert same(program)[0] == ("returned", ((int,), (str,)))


def test_methods_take_arguments_as_asyncios_do():
    async def program(loop, seen):
        fut = loop.create_future()
        task = loop.create_task(give_way())
        out = []
        for call in (lambda: fut.set_result(result=1), lambda: fut.add_done_callback(fn=print),
                     lambda: fut.remove_done_callback(fn=print),
                     lambda: fut.set_exception(exception=ValueError()),
                     lambda: task.set_name(value="x"), lambda: task.get_stack(limit=1),
                     lambda: fut.cancel(msg="m")):
            try:
                call()
                out.append("ok")
            except TypeError:
                out.append("TypeError")
        await task
        return out

    assert same(program)[0][1] == ["TypeError"] * 5 + ["ok", "ok"]


# --- results, exceptions, states


def test_future_result_and_exception_before_done_raise_invalid_state():
    async def program(loop, seen):
        fut = loop.create_future()
        out = []
        for call in (fut.result, fut.exception):
            try:
                call()
            except asyncio.InvalidStateError as e:
                out.append(str(e))
        return out, fut._state, fut.done(), fut.cancelled()

    same(program)


def test_future_set_twice_raises_invalid_state():
    async def program(loop, seen):
        fut = loop.create_future()
        fut.set_result(1)
        out = []
        for call in (lambda: fut.set_result(2), lambda: fut.set_exception(ValueError()),
                     lambda: fut.cancel()):
            try:
                out.append(call())
            except asyncio.InvalidStateError as e:
                out.append(str(e))
        return out, fut.result(), fut._state, fut._result

    same(program)


def test_future_set_exception_takes_a_class_and_refuses_a_non_exception():
    async def program(loop, seen):
        fut = loop.create_future()
        try:
            fut.set_exception(42)
        except TypeError as e:
            refused = str(e)
        fut.set_exception(KeyError)
        return refused, type(fut.exception()).__name__, fut._state

    same(program)


def test_future_set_exception_stop_iteration_per_version():
    async def program(loop, seen):
        out = []
        for exc in (StopIteration(), type("Sub", (StopIteration,), {})()):
            fut = loop.create_future()
            try:
                fut.set_exception(exc)
            except TypeError as e:
                out.append(("refused", str(e)))
            else:
                got = fut.exception()
                out.append((type(got).__name__, str(got), got.__cause__ is exc))
        return out

    same(program)


def test_future_exception_keeps_its_traceback_for_each_retrieval():
    async def program(loop, seen):
        fut = loop.create_future()
        try:
            raise ValueError("boom")
        except ValueError as e:
            fut.set_exception(e)
        depths = []
        for _ in range(2):
            try:
                fut.result()
            except ValueError as e:
                tb, n = e.__traceback__, 0
                while tb is not None:
                    n, tb = n + 1, tb.tb_next
                depths.append(n >= 1)
        return depths, fut._exception is fut.exception()

    same(program)


# --- await


def test_await_future_returns_its_result_or_raises_its_exception():
    async def program(loop, seen):
        a, b = loop.create_future(), loop.create_future()
        loop.call_soon(a.set_result, "value")
        loop.call_soon(b.set_exception, KeyError("k"))
        out = [await a]
        try:
            await b
        except KeyError as e:
            out.append(repr(e))
        return out

    assert same(program)[0] == ("returned", ["value", "KeyError('k')"])


def test_await_wasnt_used_with_future():
    async def program(loop, seen):
        fut = loop.create_future()
        it = fut.__await__()
        first = next(it) is fut
        try:
            next(it)
        except RuntimeError as e:
            second = str(e)
        fut.set_result(3)
        try:
            next(it)
        except StopIteration as e:
            third = e.value
        return first, second, third

    assert same(program)[0] == ("returned", (True, "await wasn't used with future", 3))


def test_future_iterator_throw_and_close():
    async def program(loop, seen):
        fut = loop.create_future()
        it = fut.__await__()
        out = [it.__next__() is fut, iter(it) is it]
        try:
            it.throw(ValueError("in"))
        except ValueError as e:
            out.append(str(e))
        it2 = fut.__await__()
        it2.close()
        try:
            it2.throw(TypeError)
        except TypeError:
            out.append("TypeError")
        try:
            it2.throw(42)
        except TypeError as e:
            out.append(str(e))
        return out

    same(program)


def test_yield_from_a_future_in_a_generator_coroutine():
    @types.coroutine
    def legacy(fut):
        return (yield from fut)

    async def program(loop, seen):
        fut = loop.create_future()
        loop.call_soon(fut.set_result, "yf")
        return await legacy(fut)

    assert same(program)[0] == ("returned", "yf")


# --- __init__ again


def test_init_again_restarts_a_future_before_3_15_and_is_refused_after():
    async def program(loop, seen):
        fut = loop.create_future()
        fut.add_done_callback(print)
        fut.set_result(1)
        fut.result()
        try:
            fut.__init__(loop=loop)
        except RuntimeError:
            return "refused", fut.result()
        return "restarted", fut.done(), fut._callbacks, fut._result

    result = same(program)[0][1]
    assert result[0] == ("refused" if sys.version_info >= (3, 15) else "restarted")


# --- done-callbacks


def test_done_callbacks_run_in_order_in_their_context_after_the_waiting_task():
    var = contextvars.ContextVar("var", default="main")

    async def program(loop, seen):
        fut = loop.create_future()
        order = []

        async def waiter():
            await fut
            order.append(("task", var.get()))

        task = loop.create_task(waiter())
        await give_way()
        fut.add_done_callback(lambda f: order.append(("cb1", var.get())))
        ctx = contextvars.copy_context()
        ctx.run(var.set, "ctx")
        fut.add_done_callback(lambda f: order.append(("cb2", var.get())), context=ctx)
        loop.call_soon(order.append, ("soon", var.get()))
        fut.set_result(None)
        fut.add_done_callback(lambda f: order.append(("late", f.result())))
        await task
        await give_way()
        return order

    out = same(program)[0][1]
    assert out[0] == ("soon", "main") and out[1] == ("task", "main")


def test_remove_done_callback_counts_every_instance():
    async def program(loop, seen):
        fut = loop.create_future()
        calls = []

        def a(f):
            calls.append("a")

        def b(f):
            calls.append("b")

        for cb in (a, b, a, a):
            fut.add_done_callback(cb)
        removed = fut.remove_done_callback(a), fut.remove_done_callback(a)
        fut.set_result(None)
        await give_way()
        return removed, calls, fut._callbacks

    assert same(program)[0] == ("returned", ((3, 0), ["b"], None))


def test_callbacks_attribute_lists_callbacks_and_waiting_tasks():
    async def program(loop, seen):
        fut = loop.create_future()

        async def waiter():
            await fut

        task = loop.create_task(waiter())
        await give_way()
        fut.add_done_callback(print)
        cbs = fut._callbacks
        shape = [(getattr(cb, "__self__", None) is task, cb is print,
                  isinstance(ctx, contextvars.Context)) for cb, ctx in cbs]
        fut.set_result(None)
        await task
        return shape

    assert same(program)[0] == ("returned", [(True, False, True), (False, True, True)])


def test_done_callback_added_to_a_done_future_runs_soon():
    async def program(loop, seen):
        fut = loop.create_future()
        fut.set_result(1)
        order = []
        fut.add_done_callback(lambda f: order.append("cb"))
        order.append("after add")
        await give_way()
        return order

    assert same(program)[0] == ("returned", ["after add", "cb"])


# --- foreign futures: asyncio's own, concurrent.futures


def test_await_an_asyncio_future_and_a_concurrent_future():
    async def program(loop, seen):
        foreign = asyncio.Future(loop=loop)
        loop.call_soon(foreign.set_result, "asyncio's")
        out = [await foreign]
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            out.append(await loop.run_in_executor(pool, sum, [1, 2]))
            out.append(await asyncio.wrap_future(pool.submit(str, 5)))
        bad = asyncio.Future(loop=loop)
        loop.call_soon(bad.set_exception, ValueError("foreign"))
        try:
            await bad
        except ValueError as e:
            out.append(str(e))
        return out

    assert same(program)[0] == ("returned", ["asyncio's", 3, "5", "foreign"])


def test_an_asyncio_task_awaits_a_yieldloop_future_and_task():
    async def program(loop, seen):
        fut = loop.create_future()
        ours = loop.create_task(asyncio.sleep(0, "ours"))

        async def in_asyncio_task():
            return await fut, await ours

        theirs = asyncio.Task(in_asyncio_task(), loop=loop)
        await give_way()
        fut.set_result("fut")
        return await theirs

    assert same(program)[0] == ("returned", ("fut", "ours"))


# --- bad use


def test_an_uninitialized_future_refuses_use():
    from yieldloop.aio._aiofuture import Future

    fut = Future.__new__(Future)
    with pytest.raises(RuntimeError, match="not initialized"):
        fut.add_done_callback(print)
    with pytest.raises(RuntimeError, match="not initialized"):
        fut.set_result(1)
