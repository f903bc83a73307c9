"""How long a yieldloop.Loop task and what it holds live, now that the
collector skips queued tasks: while a task sits in the ready queue of a loop
inside run_forever(), the task, its coroutine and the context made for it
are out of the cyclic GC's lists (the loop holds them anyway); they are back
while the task runs or waits, and once the loop returns.

Each case runs in a child process: a mistake here (an object freed while out
of the collector's lists) crashes the interpreter.
"""

import subprocess
import sys
import textwrap

import pytest

LOOPS = ["yieldloop", "asyncio"]
# Task.get_context() is 3.12+: before, a task's context is not looked at.
HAS_CONTEXT = sys.version_info >= (3, 12)


def row(task, coro, context):
    """What the children print for a task: tracked or not, its coroutine
    and its context ("-" where there is no get_context())."""
    return "(%s, %s, %s)" % (task, coro, context if HAS_CONTEXT else "'-'")


def run_child(body, loop="yieldloop", timeout=60):
    """Run ``body`` in a fresh interpreter, ``new_loop()`` making a loop of
    the kind named, and return its stdout lines."""
    script = textwrap.dedent("""
        import asyncio, contextvars, gc, sys, weakref
        import yieldloop as yl

        def new_loop():
            return yl.new_event_loop() if LOOP == "yieldloop" else asyncio.new_event_loop()

        def tracked(t):
            context = gc.is_tracked(t.get_context()) if hasattr(t, "get_context") else "-"
            return (gc.is_tracked(t), gc.is_tracked(t.get_coro()), context)

    """).replace("LOOP", repr(loop)) + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_queued_task_is_out_of_the_collector_until_it_waits_or_ends():
    # It runs the step it was queued for still out of the collector's lists
    # (the loop holds it), and stays out when that step queues it again.
    out = run_child("""
        class Kept:
            pass

        async def child(fut):
            kept = Kept()
            ref = weakref.ref(kept)
            print("running", tracked(asyncio.current_task()))
            await asyncio.sleep(0)
            print("running again", tracked(asyncio.current_task()))
            gc.collect()             # what the hidden frame holds stays
            print("kept", ref() is kept)
            await fut

        async def main():
            fut = asyncio.get_running_loop().create_future()
            t = asyncio.create_task(child(fut))
            print("queued", tracked(t))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            print("waiting", tracked(t))
            fut.set_result(None)
            await t
            print("done", tracked(t))

        loop = new_loop()
        loop.run_until_complete(main())
        loop.close()
    """)
    # From 3.14 on a task is shown to run (_aiotask.pyx, _HIDE_STEPPING).
    hidden = sys.version_info < (3, 14)
    assert out == [
        "queued " + row(False, False, False),
        "running " + row(not hidden, not hidden, not hidden),
        "running again " + row(not hidden, not hidden, not hidden),
        "kept True",
        "waiting " + row(True, True, True),
        "done " + row(True, True, True),
    ]


@pytest.mark.parametrize("end", ["KeyboardInterrupt", "ValueError", "return"])
def test_a_hidden_task_whose_step_ends_it_is_tracked_again(end):
    # The step a task runs hidden ends it, raises through the loop or not.
    out = run_child(f"""
        async def child():
            await asyncio.sleep(0)
            if {end!r} != "return":
                raise {end if end != "return" else "None"}
            return 1

        t = None

        async def main():
            global t
            t = asyncio.create_task(child())
            await asyncio.sleep(0)
            print("queued", tracked(t))
            try:
                await t
            except ValueError:
                pass

        loop = new_loop()
        try:
            loop.run_until_complete(main())
        except KeyboardInterrupt:
            print("interrupted")
        print("ended", t.done(), tracked(t))
        loop.close()
    """)
    assert out == (["queued " + row(False, False, False)]
                   + (["interrupted"] if end == "KeyboardInterrupt" else [])
                   + ["ended True " + row(True, True, True)])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task(context=) is 3.11+")
def test_context_given_to_a_task_stays_with_the_collector():
    # Only the context the task made for itself is its own to untrack.
    out = run_child("""
        async def child():
            pass

        async def main():
            ctx = contextvars.copy_context()
            t = asyncio.create_task(child(), context=ctx)
            print(gc.is_tracked(t), gc.is_tracked(ctx))
            await t

        loop = new_loop()
        loop.run_until_complete(main())
        loop.close()
    """)
    assert out == ["False True"]


@pytest.mark.parametrize("how", ["returned", "raised"])
def test_tasks_still_queued_when_run_forever_returns_are_tracked_again(how):
    out = run_child(f"""
        async def spin():
            while True:
                await asyncio.sleep(0)

        tasks = []

        async def main():
            tasks.extend(asyncio.create_task(spin()) for _ in range(3))
            for _ in range(3):
                await asyncio.sleep(0)       # the tasks go round the queue
            if {how!r} == "raised":
                raise KeyboardInterrupt

        loop = new_loop()
        try:
            loop.run_until_complete(main())
        except KeyboardInterrupt:
            print("interrupted")
        for t in tasks:
            print(tracked(t))
        for t in tasks:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        print(all(t.cancelled() for t in tasks))
        loop.close()
    """)
    assert out == (["interrupted"] if how == "raised" else []) + [row(True, True, True)] * 3 + ["True"]


@pytest.mark.parametrize("loop", LOOPS)
def test_unclosed_loop_with_queued_tasks_is_collected_and_reports_them(loop):
    out = run_child("""
        import warnings

        async def spin(box):
            box.append(box)                  # a cycle the coroutine holds
            while True:
                await asyncio.sleep(0)

        seen = []
        loop = new_loop()
        loop.set_exception_handler(lambda loop, ctx: seen.append(ctx["message"]))
        t = loop.create_task(spin([]))
        loop.run_until_complete(asyncio.sleep(0))
        refs = [weakref.ref(loop), weakref.ref(t)]
        del loop, t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)   # "unclosed event loop"
            gc.collect()
        print([r() is None for r in refs], seen)
    """, loop=loop)
    assert out == ["[True, True] ['Task was destroyed but it is pending!']"]


def test_collection_while_tasks_are_queued_frees_nothing_they_hold():
    out = run_child("""
        class Node:
            def __init__(self, i):
                self.i = i
                self.me = self                # only the coroutine's frame holds it

        async def child(i):
            node = Node(i)
            for _ in range(3):
                await asyncio.sleep(0)
            return node.me.i

        async def collector():
            for _ in range(3):
                gc.collect()
                await asyncio.sleep(0)

        async def main():
            tasks = [asyncio.create_task(child(i)) for i in range(2000)]
            await asyncio.gather(collector(), *tasks[::2])
            return [await t for t in tasks] == list(range(2000))

        loop = new_loop()
        print(loop.run_until_complete(main()))
        loop.close()
    """)
    assert out == ["True"]


def test_finished_task_in_a_cycle_is_collected():
    out = run_child("""
        async def child(box):
            box.append(asyncio.current_task())   # task -> coroutine -> box -> task
            await asyncio.sleep(0)
            return box

        async def main():
            t = asyncio.create_task(child([]))
            await t
            return weakref.ref(t)

        gc.disable()
        loop = new_loop()
        ref = loop.run_until_complete(main())
        print(ref() is not None)
        gc.collect()
        print(ref() is None)
        loop.close()
    """)
    assert out == ["True", "True"]


def test_eager_and_bare_yield_tasks_are_tracked_while_they_wait():
    out = run_child("""
        import types

        @types.coroutine
        def bare():
            yield                             # a bare yield: queued again

        async def child(fut):
            await bare()
            await fut

        async def main():
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            if sys.version_info >= (3, 12):
                loop.set_task_factory(asyncio.eager_task_factory)
            t = loop.create_task(child(fut))
            print(gc.is_tracked(t))           # eager: ran to the bare yield, queued
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            print(gc.is_tracked(t))           # waiting on fut
            fut.set_result(None)
            await t

        loop = new_loop()
        loop.run_until_complete(main())
        loop.close()
    """)
    assert out == ["False", "True"]


def test_all_tasks_finds_queued_running_and_waiting_tasks_and_forgets_finished_ones():
    # Queued tasks are registered where asyncio keeps eager tasks (3.12+),
    # waiting ones in its WeakSet: all_tasks() reads both.
    out = run_child("""
        async def child(fut):
            assert asyncio.current_task() in asyncio.all_tasks()     # running
            await asyncio.sleep(0)
            await fut

        async def main():
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            tasks = [asyncio.create_task(child(fut)) for _ in range(50)]
            print(set(tasks) < asyncio.all_tasks())                 # queued, never run
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            print(set(tasks) < asyncio.all_tasks())                 # waiting on fut
            fut.set_result(None)
            await asyncio.gather(*tasks)
            print(asyncio.all_tasks() == {asyncio.current_task()})
            eager = getattr(asyncio.tasks, "_eager_tasks", None)
            if sys.version_info < (3, 14) and eager is not None:
                print(len(eager))
            else:
                print(0)

        loop = new_loop()
        loop.run_until_complete(main())
        loop.close()
    """)
    assert out == ["True", "True", "True", "0"]


def test_tasks_queued_when_the_loop_stops_stay_in_all_tasks_and_are_freed_once_done():
    out = run_child("""
        async def spin(n):
            for _ in range(n):
                await asyncio.sleep(0)

        tasks = []

        async def main():
            tasks.extend(asyncio.create_task(spin(100)) for _ in range(20))
            await asyncio.sleep(0)

        loop = new_loop()
        loop.run_until_complete(main())
        print(set(tasks) <= asyncio.all_tasks(loop))     # stopped with them queued
        refs = [weakref.ref(t) for t in tasks]
        loop.run_until_complete(asyncio.gather(*tasks))
        del tasks[:]
        gc.collect()
        print(all(r() is None for r in refs), len(asyncio.all_tasks(loop)))
        loop.close()
    """)
    assert out == ["True", "True 0"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task(context=) is 3.11+")
@pytest.mark.parametrize("loop", LOOPS)
def test_a_step_failing_through_the_loop_leaves_the_task_tracked_and_found(loop):
    # The task's context is the one the whole loop runs in: entering it for
    # a step fails out of the step (the loop reports it, on stderr here, as
    # the handler cannot enter that context either). The loop goes on; the
    # task, taken out of the queue untracked, is pending, tracked and found.
    out = run_child("""
        ctx = contextvars.copy_context()

        async def child():
            pass

        async def main():
            t = asyncio.create_task(child(), context=ctx)
            for _ in range(3):
                await asyncio.sleep(0)
            print(t.done(), gc.is_tracked(t), t in asyncio.all_tasks())
            t.get_coro().close()
            t._log_destroy_pending = False

        loop = new_loop()
        ctx.run(loop.run_until_complete, main())
        loop.close()
    """, loop=loop)
    assert out == ["False True True"]
