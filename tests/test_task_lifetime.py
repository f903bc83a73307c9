"""How long a task and what it holds live, now that the collector skips live
tasks: the kernel takes a live task, its coroutine and its context out of the
cyclic GC's lists (it holds them anyway) and puts them back when it lets go of
the task. Once back, a cycle through them is collected as any other.

Each case runs in a child process: a mistake here (an object freed while out
of the collector's lists) crashes the interpreter.
"""

import subprocess
import sys
import textwrap
import weakref

import yieldloop as yl


def run_child(body, timeout=60):
    """Run ``body`` in a fresh interpreter with the collector off (so that
    nothing is freed behind the test's back) and return its stdout lines."""
    script = "import gc, sys, weakref\nimport yieldloop as yl\ngc.disable()\n" + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_collector_skips_a_live_task_its_coroutine_and_its_context():
    out = run_child("""
        async def child():
            me = yl.current_task()
            print(gc.is_tracked(me), gc.is_tracked(me.get_coro()), gc.is_tracked(me.get_context()))
            await yl.sleep(0)

        async def main():
            await yl.spawn(child)

        yl.run(main)
    """)
    assert out == ["False False False"]


def test_finished_task_is_tracked_again_with_its_coroutine_and_context():
    out = run_child("""
        async def child():
            await yl.sleep(0)

        async def main():
            t = yl.spawn(child)
            await t
            return t

        t = yl.run(main)
        print(gc.is_tracked(t), gc.is_tracked(t.get_coro()), gc.is_tracked(t.get_context()))
    """)
    assert out == ["True True True"]


def test_weakref_to_a_finished_task_dies_with_its_last_reference():
    out = run_child("""
        async def child():
            return 1

        async def main():
            t = yl.spawn(child)
            await t
            return weakref.ref(t)

        ref = yl.run(main)
        print(ref() is None)            # no cycle: freed by reference counting
    """)
    assert out == ["True"]


def test_finished_task_in_a_cycle_through_its_result_is_collected():
    out = run_child("""
        async def child():
            return []

        async def main():
            t = yl.spawn(child)
            (await t).append(t)         # task -> result -> task
            return weakref.ref(t), weakref.ref(t.get_coro())

        task_ref, coro_ref = yl.run(main)
        print(task_ref() is not None)
        gc.collect()
        print(task_ref() is None, coro_ref() is None)
    """)
    assert out == ["True", "True True"]


def test_finished_task_in_a_cycle_through_its_context_is_collected():
    out = run_child("""
        import contextvars
        var = contextvars.ContextVar("var")

        async def child():
            var.set(yl.current_task())  # task -> context -> task
            await yl.sleep(0)

        async def main():
            t = yl.spawn(child)
            await t
            return weakref.ref(t), weakref.ref(t.get_coro())

        task_ref, coro_ref = yl.run(main)
        print(task_ref() is not None)
        gc.collect()
        print(task_ref() is None, coro_ref() is None)
    """)
    assert out == ["True", "True True"]


def test_task_cancelled_when_run_ends_is_collected_from_a_cycle():
    out = run_child("""
        refs = []

        async def child():
            me = yl.current_task()      # frame -> task; its error's traceback -> frame
            await yl.sleep(60)

        async def main():
            t = yl.spawn(child)
            refs.append(weakref.ref(t))
            await yl.sleep(0)           # main returns: run() cancels the child

        yl.run(main)
        print(refs[0]() is not None, refs[0]().cancelled())
        gc.collect()
        print(refs[0]() is None)
    """)
    assert out == ["True True", "True"]


def test_task_abandoned_by_a_hard_stop_is_collected():
    # A second stop during run()'s cleanup leaves tasks unfinished: one
    # awaiting an Event, one generator waiting in an awaitable it yielded
    # (its own generator then sits under that awaitable's iterator). Each
    # refers to itself from its frame.
    out = run_child("""
        import os, signal, threading
        ev = yl.Event()
        caught, refs = [], []

        def on_usr1(signum, frame):
            raise SystemExit(5)

        signal.signal(signal.SIGUSR1, on_usr1)

        def stop_hard_once_both_wait_again():
            main = threading.main_thread().ident
            while True:
                frame = sys._current_frames().get(main)
                if len(caught) == 2 and frame is not None and frame.f_code.co_name == "<module>":
                    os.kill(os.getpid(), signal.SIGUSR1)
                    return
                threading.Event().wait(0.001)

        async def stubborn():
            me = yl.current_task()
            while True:
                try:
                    await ev.wait()
                except yl.CancelledError:
                    caught.append(1)

        class Waiting:
            def __await__(self):
                return (yield from ev.wait().__await__())

        def stubborn_generator():
            me = yl.current_task()
            while True:
                try:
                    yield Waiting()
                except yl.CancelledError:
                    caught.append(1)

        async def main():
            for fn in (stubborn, stubborn_generator):
                t = yl.spawn(fn)
                refs.append((weakref.ref(t), weakref.ref(t.get_coro())))
            await yl.sleep(0)
            threading.Thread(target=stop_hard_once_both_wait_again, daemon=True).start()
            raise SystemExit(3)

        try:
            yl.run(main)
        except SystemExit as e:
            print("stopped", e.code)
        print([(t() is not None, t().cancelled()) for t, c in refs])
        gc.collect()
        print([(t() is None, c() is None) for t, c in refs])
    """)
    assert out == ["stopped 5", "[(True, True), (True, True)]",
                   "[(True, True), (True, True)]"]


def test_unretrieved_exception_of_a_task_collected_from_a_cycle_is_reported():
    out = run_child("""
        import logging
        logging.basicConfig(stream=sys.stdout, format="%(message)s")

        async def fail():
            me = yl.current_task()      # its traceback -> frame -> task
            await yl.sleep(0)
            raise ValueError("lost?")

        async def main():
            t = yl.spawn(fail, name="orphan")
            await yl.sleep(0)
            await yl.sleep(0)
            print("done", t.done())

        yl.run(main)
        print("collecting")
        gc.collect()
    """)
    assert out[:2] == ["done True", "collecting"]
    assert out[2].startswith("Task exception was never retrieved: <Task 'orphan' failed")
    assert "ValueError: lost?" in out


def test_task_group_task_keeps_the_context_it_was_given_tracked():
    out = run_child("""
        import contextvars
        ctx = contextvars.copy_context()

        async def child():
            print(gc.is_tracked(yl.current_task().get_context()))

        async def main():
            async with yl.TaskGroup() as tg:
                t = tg.create_task(child(), context=ctx)
            print(t.get_context() is ctx)

        yl.run(main)
        del ctx
        gc.collect()
        print("ok")
    """)
    assert out == ["True", "True", "ok"]


def test_task_can_be_weakly_referenced():
    seen = []

    async def main():
        t = yl.spawn(yl.sleep(0))
        seen.append(weakref.ref(t)() is t)
        await t

    yl.run(main)
    assert seen == [True]


def test_many_tasks_in_cycles_are_all_collected():
    out = run_child("""
        refs = []

        async def child():
            return []

        async def main():
            tasks = [yl.spawn(child) for _ in range(1000)]
            for t in tasks:
                (await t).append(t)
                refs.append(weakref.ref(t))

        yl.run(main)
        gc.collect()
        print(sum(r() is not None for r in refs))
    """)
    assert out == ["0"]
