"""The harness of test_loop_tasks.py and test_loop_futures.py: run one
asyncio program on asyncio's own loop (asyncio's C Task and Future) and on
yieldloop.Loop (yieldloop's), and compare what it observed."""

import asyncio
import gc
import re

import yieldloop


def run_on(factory, program):
    """Run ``program(loop, seen)`` on a new loop from ``factory``: the task
    classes it ran in, its outcome, and what reached the exception handler."""
    loop = factory()
    seen = []

    def handler(lp, context):
        exc = context.get("exception")
        seen.append(("handler", context["message"], type(exc).__name__ if exc else None,
                     "task" in context or "future" in context))

    loop.set_exception_handler(handler)
    asyncio.set_event_loop(loop)
    kinds = []

    async def main():
        kinds.append(type(asyncio.current_task()).__module__)
        return await program(loop, seen)

    try:
        try:
            result = ("returned", loop.run_until_complete(main()))
        except BaseException as exc:  # noqa: BLE001 - what the program raised is the outcome
            result = ("raised", type(exc).__name__, str(exc))
        gc.collect()
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    gc.collect()
    return kinds, result, seen


def same(program):
    """Run ``program(loop, seen)`` on both loops; assert they saw the same."""
    a_kinds, a_result, a_seen = run_on(asyncio.new_event_loop, program)
    y_kinds, y_result, y_seen = run_on(yieldloop.new_event_loop, program)
    assert y_kinds == ["yieldloop.aio._aiotask"], "the program did not run in yieldloop's Task"
    assert a_kinds != y_kinds
    assert (y_result, y_seen) == (a_result, a_seen)
    return y_result, y_seen


def task_name(task_or_name):
    """A task name with its number hidden ("Task-17" -> "Task-N")."""
    name = task_or_name if isinstance(task_or_name, str) else task_or_name.get_name()
    return re.sub(r"Task-\d+", "Task-N", name)


def scrub(text):
    """A repr or message with what differs between runs hidden."""
    text = re.sub(r"Task-\d+", "Task-N", text)
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    return re.sub(r"\.py:\d+", ".py", text)


async def give_way(n=1):
    """Let the loop run ``n`` iterations."""
    for _ in range(n):
        await asyncio.sleep(0)


async def value_soon(v):
    """``v``, after one iteration."""
    await asyncio.sleep(0)
    return v


async def value_after(gate, v):
    """``v``, once future ``gate`` is done."""
    await gate
    return v
