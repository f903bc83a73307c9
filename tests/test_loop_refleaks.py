"""Leak checks for yieldloop.Loop's own Task and Future: each behaviour, run
many times in one loop, must not make memory grow (the method and the Meter
are test_refleaks.py's)."""

import asyncio
import concurrent.futures
import gc
import sys

import pytest

import yieldloop
from test_refleaks import ROUNDS, WARMUP, Meter, metered, traced  # noqa: F401 - traced is a fixture

PY311 = sys.version_info >= (3, 11)
PY312 = sys.version_info >= (3, 12)


def check_in_loop(astep, n, what, *, refs=(), rounds=ROUNDS, warmup=WARMUP, setup=None):
    """``await astep()`` as the step, all rounds in one yieldloop.Loop run."""
    meter = Meter(rounds, refs)
    reports = {}     # message -> count: a list of them would itself grow

    async def main():
        if setup is not None:
            setup(asyncio.get_running_loop())
        await metered(astep, n, meter, warmup)

    loop = yieldloop.new_event_loop()
    def count(lp, context):
        reports[context["message"]] = reports.get(context["message"], 0) + 1

    loop.set_exception_handler(count)
    try:
        loop.run_until_complete(main())
        assert asyncio.all_tasks(loop) == set()
    finally:
        loop.close()
    meter.check(n, what)
    return reports


async def _value(v):
    await asyncio.sleep(0)
    return v


def test_tasks_created_and_awaited_do_not_leak():
    payload = object()

    async def step():
        loop = asyncio.get_running_loop()
        t = loop.create_task(_value(payload), name="child")
        assert await t is payload
        assert await loop.create_task(_value(payload)) is payload

    check_in_loop(step, 200, "create_task + await", refs=[payload])


def test_futures_set_and_awaited_do_not_leak():
    payload = object()

    async def step():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_soon(fut.set_result, payload)
        fut.add_done_callback(lambda f: None)
        assert await fut is payload
        bad = loop.create_future()
        bad.set_exception(ValueError(payload))
        try:
            await bad
        except ValueError as e:
            assert e.args[0] is payload

    check_in_loop(step, 200, "future set + await", refs=[payload])


def test_tasks_cancelled_while_waiting_and_before_starting_do_not_leak():
    payload = object()

    async def step():
        loop = asyncio.get_running_loop()
        waiting = loop.create_task(asyncio.sleep(10))
        unstarted = loop.create_task(_value(payload))
        await asyncio.sleep(0)
        waiting.cancel(payload)
        unstarted.cancel()
        for t in (waiting, unstarted):
            try:
                await t
            except asyncio.CancelledError:
                pass
        assert waiting.cancelled() and unstarted.cancelled()

    check_in_loop(step, 200, "cancel", refs=[payload])


def test_task_errors_awaited_and_unretrieved_do_not_leak():
    payload = object()

    async def fails():
        await asyncio.sleep(0)
        raise KeyError(payload)

    async def step():
        loop = asyncio.get_running_loop()
        try:
            await loop.create_task(fails())
        except KeyError:
            pass
        lost = loop.create_task(fails())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        del lost
        gc.collect()

    reports = check_in_loop(step, 100, "task errors", refs=[payload])
    assert set(reports) == {"Task exception was never retrieved"}
    assert reports["Task exception was never retrieved"] == (WARMUP + ROUNDS) * 100


def test_awaiting_foreign_futures_does_not_leak():
    payload = object()
    pool = concurrent.futures.ThreadPoolExecutor(1)

    async def step():
        loop = asyncio.get_running_loop()
        foreign = asyncio.Future(loop=loop)
        loop.call_soon(foreign.set_result, payload)
        assert await foreign is payload
        assert await asyncio.gather(_value(payload), _value(payload)) == [payload, payload]
        assert await loop.run_in_executor(pool, lambda: payload) is payload

    try:
        check_in_loop(step, 100, "foreign futures", refs=[payload])
    finally:
        pool.shutdown()


@pytest.mark.skipif(not PY312, reason="eager tasks are 3.12+")
def test_eager_tasks_do_not_leak():
    payload = object()

    async def quick():
        return payload

    async def step():
        loop = asyncio.get_running_loop()
        t = loop.create_task(quick())
        assert t.done() and t.result() is payload
        assert await loop.create_task(_value(payload)) is payload

    check_in_loop(step, 200, "eager tasks", refs=[payload],
                  setup=lambda loop: loop.set_task_factory(asyncio.eager_task_factory))


@pytest.mark.skipif(not PY311, reason="TaskGroup and timeout() are 3.11+")
def test_taskgroup_and_timeout_do_not_leak():
    payload = object()

    async def fails():
        await asyncio.sleep(0)
        raise KeyError(payload)

    async def step():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(asyncio.sleep(10))
                tg.create_task(fails())
        except BaseExceptionGroup as eg:  # noqa: F821 - 3.11+, as TaskGroup
            assert all(isinstance(e, KeyError) for e in eg.exceptions)
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(10)
        except TimeoutError:
            pass

    check_in_loop(step, 100, "TaskGroup + timeout", refs=[payload])
