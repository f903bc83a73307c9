"""yieldloop.Loop's own Task behaves as asyncio's.

Each test runs one asyncio program twice, on asyncio's own loop (asyncio's C
Task and Future) and on yieldloop.Loop (yieldloop's Task and Future), and
asserts that what the program observed is the same: results, exceptions and
their messages, the order in which things ran, what reached the exception
handler (tests/task_diff.py). The harness also checks that on yieldloop.Loop
the program really ran in yieldloop's Task, so that a fallback to asyncio's
classes cannot pass unnoticed. Futures: test_loop_futures.py.
"""

import asyncio
import contextvars
import gc
import io
import sys
import types

import pytest

import yieldloop
from task_diff import give_way, same, scrub, task_name, value_after, value_soon

PY311 = sys.version_info >= (3, 11)
PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)
PY314 = sys.version_info >= (3, 14)


# --- results, exceptions, states


def test_task_result_and_exception_after_it_ends():
    async def fails():
        await give_way()
        raise LookupError("nope")

    async def program(loop, seen):
        ok = loop.create_task(give_way())
        bad = loop.create_task(fails())
        await asyncio.wait([ok, bad])
        return ok.result(), repr(bad.exception()), ok._state, bad._state, bad.done()

    same(program)


def test_task_set_result_and_set_exception_are_refused():
    async def program(loop, seen):
        task = loop.create_task(give_way())
        out = []
        for call in (lambda: task.set_result(1), lambda: task.set_exception(ValueError())):
            try:
                call()
            except RuntimeError as e:
                out.append(str(e))
        await task
        return out

    same(program)


def test_create_task_refuses_a_non_coroutine():
    async def program(loop, seen):
        try:
            loop.create_task(42)
        except TypeError as e:
            return str(e)

    assert same(program)[0] == ("returned", "a coroutine was expected, got 42")


def test_create_task_takes_a_generator_based_coroutine_before_3_12():
    @types.coroutine
    def gen():
        yield
        return "gen"

    async def program(loop, seen):
        try:
            task = loop.create_task(gen())
        except TypeError as e:
            return "refused", scrub(str(e))
        return "accepted", await task

    result = same(program)[0][1]
    if PY312:
        assert result[0] == "refused" and "a coroutine was expected, got <generator" in result[1]
    else:
        assert result == ("accepted", "gen")


# --- cancellation


def test_cancel_with_message_reaches_the_task_and_its_awaiter():
    async def program(loop, seen):
        async def sleeper():
            await asyncio.sleep(10)

        task = loop.create_task(sleeper())
        await give_way()
        task.cancel("stop it")
        try:
            await task
        except asyncio.CancelledError as e:
            args = e.args
        try:
            task.result()
        except asyncio.CancelledError as e:
            again = e.args
        return args, again, task.cancelled(), task._state

    same(program)


def test_cancel_before_the_first_step():
    async def program(loop, seen):
        ran = []

        async def never():
            ran.append(1)

        task = loop.create_task(never())
        out = [task.cancel(), task.cancel(), task._must_cancel]
        if PY311:
            out.append(task.cancelling())
        try:
            await task
        except asyncio.CancelledError:
            out.append("cancelled")
        out += [ran, task.cancel(), task.cancelled()]
        return out

    same(program)


def test_cancel_a_task_that_catches_it_and_returns():
    async def program(loop, seen):
        async def stubborn():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return "kept going"

        task = loop.create_task(stubborn())
        await give_way()
        task.cancel()
        return await task, task.cancelled(), task.cancelling() if PY311 else None

    same(program)


def test_cancel_after_the_awaited_future_is_done_but_before_the_step():
    async def program(loop, seen):
        fut = loop.create_future()

        async def waiter():
            return await fut

        task = loop.create_task(waiter())
        await give_way()
        fut.set_result("late")
        out = [task.cancel("now"), fut.cancelled()]
        try:
            await task
        except asyncio.CancelledError as e:
            out.append(e.args)
        return out

    same(program)


def test_cancel_propagates_down_a_chain_of_awaited_tasks():
    async def program(loop, seen):
        async def leaf():
            await asyncio.sleep(10)

        async def middle(t):
            return await t

        leaf_t = loop.create_task(leaf())
        mid_t = loop.create_task(middle(leaf_t))
        await give_way(2)
        mid_t.cancel("chain")
        results = await asyncio.gather(mid_t, leaf_t, return_exceptions=True)
        return ([type(r).__name__ for r in results], leaf_t.cancelled(), mid_t.cancelled(),
                [r.args for r in results])

    same(program)


def test_cancelled_error_raised_by_the_coroutine_is_handed_on_as_is():
    async def program(loop, seen):
        err = asyncio.CancelledError("own")

        async def raiser():
            await give_way()
            raise err

        task = loop.create_task(raiser())
        try:
            await task
        except asyncio.CancelledError as e:
            first = (e is err, e.args, e.__context__ is err)
        try:
            task.result()
        except asyncio.CancelledError as e:
            second = (e is err, e.args)
        return first, second, task._cancel_message

    same(program)


@pytest.mark.skipif(not PY311, reason="uncancel() and cancelling() are 3.11+")
def test_uncancel_counts_down_and_clears_a_pending_cancel_per_version():
    async def program(loop, seen):
        async def body():
            await asyncio.sleep(0)
            return "finished"

        task = loop.create_task(body())
        out = [task.cancel(), task.cancel(), task.cancelling(), task.uncancel(),
               task.uncancel(), task.uncancel(), task._must_cancel]
        try:
            out.append(await task)
        except asyncio.CancelledError:
            out.append("cancelled")
        return out

    same(program)


def test_cancel_on_a_task_awaiting_a_foreign_future_cancels_that_future():
    async def program(loop, seen):
        foreign = asyncio.Future(loop=loop)   # asyncio's own class, made directly

        async def waiter():
            return await foreign

        task = loop.create_task(waiter())
        await give_way()
        task.cancel("why")
        try:
            await task
        except asyncio.CancelledError as e:
            return foreign.cancelled(), e.args, type(foreign).__module__

    same(program)


def test_must_cancel_cancels_the_future_awaited_next():
    async def program(loop, seen):
        fut = loop.create_future()

        async def body():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                pass
            return await fut

        task = loop.create_task(body())
        await give_way()
        task.cancel()
        await give_way()
        task.cancel("second")
        try:
            await task
        except asyncio.CancelledError as e:
            return e.args, fut.cancelled(), fut._cancel_message

    same(program)


# --- what a task may yield


def test_bad_yields_are_thrown_back_into_the_task():
    @types.coroutine
    def yields(value):
        yield value

    def gen():
        yield

    async def program(loop, seen):
        out = []
        other = asyncio.new_event_loop()
        try:
            values = [42, gen(), loop.create_future(), other.create_future()]
            for value in values:
                try:
                    await loop.create_task(_yield_then_return(yields, value))
                except RuntimeError as e:
                    out.append(scrub(str(e)))
        finally:
            other.close()
        return out

    assert len(same(program)[0][1]) == 4


async def _yield_then_return(yields, value):
    await yields(value)


def test_task_cannot_await_itself():
    async def program(loop, seen):
        async def selfish():
            await asyncio.current_task()

        try:
            await loop.create_task(selfish())
        except RuntimeError as e:
            return scrub(str(e))

    assert "cannot await on itself" in same(program)[0][1]


def test_a_future_of_another_loop_is_refused():
    async def program(loop, seen):
        other = yieldloop.new_event_loop() if type(loop).__module__.startswith(
            "yieldloop") else asyncio.new_event_loop()
        try:
            fut = other.create_future()
            try:
                await fut
            except RuntimeError as e:
                return "attached to a different loop" in str(e)
        finally:
            other.close()

    assert same(program)[0] == ("returned", True)


# --- current_task(), all_tasks(), names, coroutines, contexts


def test_current_task_is_the_running_task_and_none_in_a_callback():
    async def program(loop, seen):
        here = []

        async def body():
            here.append(asyncio.current_task() is task)
            await give_way()
            here.append(asyncio.current_task() is task)

        task = loop.create_task(body())
        loop.call_soon(lambda: here.append(asyncio.current_task()))
        await task
        return here

    assert same(program)[0] == ("returned", [True, None, True])


def test_all_tasks_lists_pending_tasks_only():
    async def program(loop, seen):
        fut = loop.create_future()

        async def wait():
            await fut

        tasks = [loop.create_task(wait()) for _ in range(3)]
        await give_way()
        done = loop.create_task(give_way())
        await done
        listed = asyncio.all_tasks()
        out = (all(t in listed for t in tasks), done in listed,
               asyncio.current_task() in listed, len(listed))
        fut.set_result(None)
        await asyncio.gather(*tasks)
        return out, len(asyncio.all_tasks())

    assert same(program)[0] == ("returned", ((True, False, True, 4), 1))


def test_names_default_given_and_set():
    class Named:
        def __str__(self):
            return "from str"

    async def program(loop, seen):
        auto = loop.create_task(give_way())
        named = loop.create_task(give_way(), name=Named())
        renamed = loop.create_task(give_way())
        renamed.set_name(7)
        out = [task_name(auto), named.get_name(), renamed.get_name()]
        await asyncio.gather(auto, named, renamed)
        return out

    assert same(program)[0] == ("returned", ["Task-N", "from str", "7"])


def test_get_coro_returns_the_coroutine_until_and_after_it_ends():
    async def program(loop, seen):
        coro = give_way()
        t = loop.create_task(coro)
        before = t.get_coro() is coro
        await t
        return before, t.get_coro() is coro

    assert same(program)[0] == ("returned", (True, True))


@pytest.mark.skipif(not PY311, reason="create_task(context=) is 3.11+")
def test_a_task_runs_in_the_context_given():
    var = contextvars.ContextVar("var", default="default")

    async def read():
        return var.get()

    async def program(loop, seen):
        ctx = contextvars.copy_context()
        ctx.run(var.set, "in ctx")
        task = loop.create_task(read(), context=ctx)
        return await task, task.get_context() is ctx if PY312 else None, var.get()

    assert same(program)[0][1][::2] == ("in ctx", "default")


def test_each_task_runs_in_its_own_copy_of_the_context():
    var = contextvars.ContextVar("var", default=0)

    async def bump():
        var.set(var.get() + 1)
        await give_way()
        return var.get()

    async def program(loop, seen):
        var.set(10)
        results = await asyncio.gather(bump(), bump())
        return results, var.get()

    assert same(program)[0] == ("returned", ([11, 11], 10))


def test_reprs_of_tasks_and_futures_in_each_state():
    async def program(loop, seen):
        fut = loop.create_future()

        async def waiter():
            await fut

        task = loop.create_task(waiter(), name="w")
        await give_way()
        out = [scrub(repr(task)), scrub(repr(fut))]
        task.cancel()
        out.append(scrub(repr(task)))
        await asyncio.gather(task, return_exceptions=True)
        out.append(scrub(repr(task)))
        done = loop.create_future()
        done.set_result("r")
        failed = loop.create_future()
        failed.set_exception(ValueError("v"))
        failed.exception()
        out += [scrub(repr(done)), scrub(repr(failed))]
        return out

    assert "wait_for=<Future pending" in same(program)[0][1][0]


def test_get_stack_and_print_stack_show_where_the_task_waits():
    async def program(loop, seen):
        fut = loop.create_future()

        async def waiter():
            await fut

        task = loop.create_task(waiter(), name="w")
        await give_way()
        names = [f.f_code.co_name for f in task.get_stack()]
        buf = io.StringIO()
        task.print_stack(file=buf)
        fut.set_result(None)
        await task
        return names, scrub(buf.getvalue()).splitlines()[0], task.get_stack()

    names, first_line, after = same(program)[0][1]
    assert names == ["waiter"] and after == []
    assert first_line.startswith("Stack for <Task pending name='w'")


# --- reports: never-retrieved exceptions, pending tasks destroyed


def test_unretrieved_exceptions_are_reported():
    async def program(loop, seen):
        async def fails():
            raise ZeroDivisionError

        task = loop.create_task(fails())
        fut = loop.create_future()
        fut.set_exception(OSError("lost"))
        await give_way(2)
        del task, fut
        gc.collect()
        await give_way()
        return sorted(seen)

    result, seen = same(program)
    messages = [m for _, m, _, _ in seen]
    assert "Future exception was never retrieved" in messages
    assert "Task exception was never retrieved" in messages


def test_retrieved_or_cancelled_exceptions_are_not_reported():
    async def program(loop, seen):
        a, b = loop.create_future(), loop.create_future()
        a.set_exception(OSError())
        a.exception()
        b.set_exception(OSError())
        b._log_traceback = False
        try:
            b._log_traceback = True
        except ValueError as e:
            refused = str(e)
        del a, b
        gc.collect()
        return refused, list(seen)

    assert same(program)[0] == ("returned", ("_log_traceback can only be set to False", []))


def test_a_pending_task_destroyed_is_reported_unless_told_not_to():
    async def program(loop, seen):
        fut = loop.create_future()

        async def forever():
            await fut

        reported = loop.create_task(forever())
        quiet = loop.create_task(forever())
        quiet._log_destroy_pending = False
        await give_way()
        fut = None
        del reported, quiet
        gc.collect()
        return [m for _, m, _, _ in seen]

    assert same(program)[0] == ("returned", ["Task was destroyed but it is pending!"])


# --- asyncio's combinators on these tasks


def test_gather_returns_results_and_exceptions():
    async def fail():
        await give_way()
        raise ValueError("g")

    async def program(loop, seen):
        ok = await asyncio.gather(value_soon(1), value_soon(2))
        mixed = await asyncio.gather(value_soon(3), fail(), return_exceptions=True)
        return ok, [repr(x) for x in mixed]

    assert same(program)[0] == ("returned", ([1, 2], ["3", "ValueError('g')"]))


def test_wait_first_completed_returns_the_first_done():
    async def program(loop, seen):
        gate = loop.create_future()
        t1, t2 = loop.create_task(value_soon("fast")), loop.create_task(value_after(gate, "slow"))
        done, pending = await asyncio.wait([t1, t2], return_when=asyncio.FIRST_COMPLETED)
        gate.set_result(None)
        await t2
        return [t.result() for t in done], len(pending)

    assert same(program)[0] == ("returned", (["fast"], 1))


def test_shield_keeps_the_inner_task_running_when_the_outer_is_cancelled():
    async def program(loop, seen):
        gate = loop.create_future()
        inner = loop.create_task(value_after(gate, "shielded"))
        outer = asyncio.ensure_future(asyncio.shield(inner))
        await give_way()
        outer.cancel()
        try:
            await outer
        except asyncio.CancelledError:
            gate.set_result(None)
            return "outer cancelled", await inner, inner.cancelled()

    assert same(program)[0] == ("returned", ("outer cancelled", "shielded", False))


def test_cancelling_a_gather_cancels_its_children():
    async def program(loop, seen):
        children = [loop.create_task(asyncio.sleep(10)) for _ in range(3)]
        g = asyncio.gather(*children)
        await give_way()
        g.cancel("all")
        try:
            await g
        except asyncio.CancelledError as e:
            args = e.args
        return args, [c.cancelled() for c in children]

    same(program)


def test_wait_for_times_out_and_cancels():
    async def program(loop, seen):
        task = loop.create_task(asyncio.sleep(10))
        try:
            await asyncio.wait_for(task, 0.01)
        except asyncio.TimeoutError:
            pass
        return task.cancelled(), await asyncio.wait_for(asyncio.sleep(0, "ok"), 1)

    assert same(program)[0] == ("returned", (True, "ok"))


@pytest.mark.skipif(not PY311, reason="TaskGroup and timeout() are 3.11+")
def test_taskgroup_cancels_siblings_and_groups_errors():
    async def program(loop, seen):
        order = []

        async def sibling():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                order.append("sibling cancelled")
                raise

        async def failing():
            await give_way()
            raise KeyError("k")

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(sibling())
                tg.create_task(failing())
        except BaseExceptionGroup as eg:  # noqa: F821 - 3.11+, as TaskGroup
            order.append([repr(e) for e in eg.exceptions])
        order.append(asyncio.current_task().cancelling())
        return order

    same(program)


@pytest.mark.skipif(not PY311, reason="TaskGroup and timeout() are 3.11+")
def test_timeout_raises_timeout_error_and_nested_timeouts_unwind():
    async def program(loop, seen):
        out = []
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            out.append(("outer", asyncio.current_task().cancelling()))
        try:
            async with asyncio.timeout(10) as outer:
                try:
                    async with asyncio.timeout(0):
                        await asyncio.sleep(10)
                except TimeoutError:
                    out.append(("inner", asyncio.current_task().cancelling()))
                outer.reschedule(loop.time())
                await asyncio.sleep(10)
        except TimeoutError:
            out.append(("outer2", asyncio.current_task().cancelling()))
        return out

    same(program)


@pytest.mark.skipif(not PY311, reason="TaskGroup and timeout() are 3.11+")
def test_a_taskgroup_cancelled_from_outside_is_cancelled():
    async def program(loop, seen):
        async def group():
            async with asyncio.TaskGroup() as tg:
                tg.create_task(asyncio.sleep(10))
                tg.create_task(asyncio.sleep(10))

        task = loop.create_task(group())
        await give_way(2)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return task.cancelled(), task.cancelling()

    same(program)


# --- eager tasks


@pytest.mark.skipif(not PY312, reason="eager tasks are 3.12+")
def test_eager_task_factory_runs_the_first_step_at_once():
    async def program(loop, seen):
        order = []

        async def body(tag):
            order.append((tag, asyncio.current_task() is not None))
            await give_way()
            order.append((tag + " resumed", True))
            return tag

        async def quick():
            return "quick"

        loop.set_task_factory(asyncio.eager_task_factory)
        try:
            t = loop.create_task(body("eager"))
            order.append("created")
            q = loop.create_task(quick())
            # (asyncio's C Task of 3.12 crashes in get_coro() there.)
            order.append((q.done(), q.result(), q.get_coro() if PY313 else None))
            order.append(await t)
        finally:
            loop.set_task_factory(None)
        return order

    same(program)


@pytest.mark.skipif(not PY312, reason="eager tasks are 3.12+")
def test_eager_task_factory_tasks_are_yieldloops_and_named_as_asyncio_names_them():
    async def program(loop, seen):
        loop.set_task_factory(asyncio.eager_task_factory)
        try:
            named = loop.create_task(give_way(), name="given")
            unnamed = loop.create_task(give_way())
        finally:
            loop.set_task_factory(None)
        kinds = {type(named).__module__, type(unnamed).__module__}
        await asyncio.gather(named, unnamed)
        return named.get_name(), task_name(unnamed), kinds == {type(asyncio.current_task()).__module__}

    result = same(program)[0][1]
    assert (result[0], result[2]) == ("given", True)


@pytest.mark.skipif(not PY312, reason="eager tasks are 3.12+")
def test_eager_task_factory_takes_create_tasks_keywords_as_asyncio_does():
    async def program(loop, seen):
        ctx = contextvars.copy_context()
        loop.set_task_factory(asyncio.eager_task_factory)
        try:
            t = loop.create_task(give_way(), name=42, context=ctx)
            coro = give_way()
            try:
                loop.create_task(coro, bogus=1)
            except TypeError:
                refused = True
            else:
                refused = False
            coro.close()
        finally:
            loop.set_task_factory(None)
        await t
        return t.get_name(), t.get_context() is ctx, refused

    assert same(program)[0][1] == ("42", True, True)


@pytest.mark.skipif(not PY314, reason="create_task(eager_start=) is 3.14+")
def test_create_task_eager_start():
    async def program(loop, seen):
        order = []

        async def body():
            order.append(asyncio.current_task() in asyncio.all_tasks())
            await give_way()
            return "eager"

        t = loop.create_task(body(), eager_start=True, name="e")
        order.append(("created", t.done(), t.get_name()))
        order.append(await t)
        lazy = loop.create_task(body(), eager_start=False)
        order.append(("lazy", lazy.done()))
        order.append(await lazy)
        return order

    assert same(program)[0][1][1] == ("created", False, "e")


def test_a_task_factory_is_called():
    async def program(loop, seen):
        made = []

        def factory(lp, coro, **kwargs):
            made.append(sorted(kwargs))
            return asyncio.Task(coro, loop=lp, **kwargs)

        loop.set_task_factory(factory)
        try:
            result = await loop.create_task(asyncio.sleep(0, "via factory"))
        finally:
            loop.set_task_factory(None)
        return result, made

    same(program)


def test_with_another_task_factory_set_futures_are_asyncios_own():
    # That factory's tasks (asyncio's C Task) await asyncio's C Future
    # fastest; our tasks await either kind.
    async def main():
        loop = asyncio.get_running_loop()
        ours = type(loop.create_future())
        loop.set_task_factory(lambda lp, coro, **kw: asyncio.Task(coro, loop=lp, **kw))
        try:
            theirs = type(loop.create_future())
            fut = loop.create_future()
            loop.call_soon(fut.set_result, "awaited by ours")
            got = await fut
            got2 = await loop.create_task(asyncio.sleep(0.001, "theirs slept"))
        finally:
            loop.set_task_factory(None)
        return ours.__module__, theirs is asyncio.Future, got, got2

    assert yieldloop.run_asyncio(main()) == (
        "yieldloop.aio._aiofuture", True, "awaited by ours", "theirs slept")


# --- debug mode


def test_debug_mode_records_where_tasks_and_futures_were_made():
    async def program(loop, seen):
        loop.set_debug(True)
        try:
            task = loop.create_task(give_way())  # this line
            fut = loop.create_future()
            line = sys._getframe().f_lineno - 2
        finally:
            loop.set_debug(False)
        await task
        tb = task._source_traceback
        return (tb[-1][2], tb[-1][1] == line, "created at" in repr(task),
                fut._source_traceback is not None)

    assert same(program)[0] == ("returned", ("program", True, True, True))


def test_debug_mode_slow_step_warning_names_the_task(caplog):
    import logging
    import time

    async def program(loop, seen):
        loop.set_debug(True)
        loop.slow_callback_duration = 0.01

        async def slow():
            time.sleep(0.05)

        try:
            await loop.create_task(slow(), name="sluggish")
        finally:
            loop.set_debug(False)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        same(program)
    slow_records = [r.getMessage() for r in caplog.records if "sluggish" in r.getMessage()]
    assert len(slow_records) >= 2   # once per loop
    assert all(m.startswith("Executing <Task") for m in slow_records)


# --- errors that leave the loop


def test_keyboard_interrupt_in_a_task_sets_it_and_stops_the_loop():
    async def program(loop, seen):
        async def interrupted():
            raise KeyboardInterrupt

        task = loop.create_task(interrupted())
        try:
            await asyncio.sleep(1)
        finally:
            program.task = task

    result, _ = same(program)
    assert result == ("raised", "KeyboardInterrupt", "")


# --- the task is really yieldloop's, and it does not hold on to things


def test_loop_tasks_and_futures_are_yieldloops_own():
    async def main():
        loop = asyncio.get_running_loop()
        return (type(asyncio.current_task()).__module__, type(loop.create_future()).__module__)

    assert yieldloop.run_asyncio(main()) == ("yieldloop.aio._aiotask", "yieldloop.aio._aiofuture")


def test_a_finished_task_is_collected_once_the_step_that_awaited_it_ends():
    import weakref

    async def program(loop, seen):
        async def body():
            await asyncio.sleep(0)
            return object()

        task = loop.create_task(body())
        await task
        ref = weakref.ref(task)
        del task
        await asyncio.sleep(0)
        gc.collect()
        return ref() is None

    assert same(program)[0] == ("returned", True)
