"""A trap yielded by a second task while a first one waits on it.

A bug these tests found (fixed; they guard against its return): Kernel._take_trap
accepts a trap in state TS_AWAITING even when the kernel already holds it for
another task (``trap.task`` is set). It is then registered twice: twice in
the joiners of a task, or answered with a BusyResourceError while it stays
in the poller. The second answer runs ``_answer(<Task>trap.task, ...)`` with
``trap.task`` None, and ``t._trap = None`` (_traphost.pyx, in _answer) reads
and writes a Task field inside the static memory of ``None``: a segmentation
fault here (UBSan: member access within null pointer, in Py_DECREF under
Kernel._answer). For a timer the second push raises "timer entry is already
scheduled" out of the kernel, the second task is lost, and run() never
returns. DESIGN.md asks for a clear exception instead: the second task
should get an error thrown in, the first one its normal answer.

Each case runs in a child process, so a crash fails one test, not the run.
"""

import subprocess
import sys
import textwrap

PRELUDE = """
import socket
import yieldloop as yl

def second(trap, log):
    try:
        yield trap             # the trap the first task is blocked on
    except Exception as e:
        log.append("second: " + type(e).__name__)
"""


def run_child(body):
    code = PRELUDE + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 0, (
        f"child exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    )
    return proc.stdout.splitlines()


def test_join_trap_yielded_by_a_second_task_is_refused_without_a_crash():
    out = run_child("""
        async def child():
            await yl.sleep(0.02)
            return "child result"

        async def main():
            log = []
            c = yl.spawn(child)
            j = c.__await__()          # one JOIN trap

            async def first():
                log.append("first: " + await j)

            t1 = yl.spawn(first)
            await yl.sleep(0)
            t2 = yl.spawn(second, j, log)
            await c
            await t1
            await t2
            print("\\n".join(sorted(log)))

        yl.run(main)
    """)
    assert out[0] == "first: child result"
    assert out[1].startswith("second: ")


def test_fd_trap_yielded_by_a_second_task_is_refused_without_a_crash():
    out = run_child("""
        a, b = socket.socketpair()

        async def main():
            log = []
            w = yl.wait_readable(a)

            async def first():
                await w
                log.append("first: readable")

            t1 = yl.spawn(first)
            await yl.sleep(0)
            t2 = yl.spawn(second, w, log)
            await yl.sleep(0.01)
            b.send(b"x")
            await t1
            await t2
            print("\\n".join(sorted(log)))

        yl.run(main)
    """)
    assert out[0] == "first: readable"
    assert out[1].startswith("second: ")


def test_timer_trap_yielded_by_a_second_task_is_refused_without_a_hang():
    out = run_child("""
        async def main():
            log = []
            s = yl.sleep(0.02)

            async def first():
                await s
                log.append("first: slept")

            t1 = yl.spawn(first)
            await yl.sleep(0)
            t2 = yl.spawn(second, s, log)
            await t1
            await t2
            print("\\n".join(sorted(log)))

        yl.run(main)
    """)
    assert out[0] == "first: slept"
    assert out[1].startswith("second: ")
