"""The kernel's lifecycle: a hard stop, fork(), shutdown while other threads
call in, foreign BaseExceptions, and a run() whose setup fails.

Cases that crashed or could hang the process run in a child process.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import yieldloop as yl


def run_child(script, timeout=60):
    """Run ``script`` in a fresh interpreter; return the finished process."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=timeout)


# --- a hard stop leaves no task behind in a wait list


HARD_STOP = """
    import os, signal, sys, threading
    import yieldloop as yl

    ev, lock, sem, q = yl.Event(), yl.Lock(), yl.Semaphore(0), yl.Queue()
    caught = []

    def on_usr1(signum, frame):
        raise SystemExit(5)

    signal.signal(signal.SIGUSR1, on_usr1)

    def stop_hard_once_all_wait_again():
        # The second SystemExit must come from the kernel's own code (its
        # poller), not from a task: wait until every stubborn task has
        # caught its cancellation and the main thread is back in the kernel
        # (no Python frame of a task on top).
        main = threading.main_thread().ident
        while True:
            frame = sys._current_frames().get(main)
            if len(caught) == 4 and frame is not None and frame.f_code.co_name == "<module>":
                os.kill(os.getpid(), signal.SIGUSR1)
                return
            threading.Event().wait(0.001)

    async def stubborn(wait):
        while True:
            try:
                await wait()
            except yl.CancelledError:
                caught.append(1)       # ignores it and waits again

    async def main():
        await lock.acquire()           # held: the waiter below queues
        for wait in (ev.wait, lock.acquire, sem.acquire, q.get):
            yl.spawn(stubborn, wait)
        await yl.sleep(0)
        threading.Thread(target=stop_hard_once_all_wait_again, daemon=True).start()
        raise SystemExit(3)            # the first stop: run() cleans up...

    try:
        yl.run(main)
    except SystemExit as e:
        print("run stopped:", e.code, flush=True)
    # The primitives outlive the run; waking them must not touch its tasks.
    ev.set()
    lock.release()
    sem.release()
    q.put_nowait(1)
    assert q.get_nowait() == 1
    print("survived", repr(ev), flush=True)
"""


def test_waking_primitives_after_a_hard_stop_does_not_crash():
    proc = run_child(HARD_STOP)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The second SystemExit (5) stopped the cleanup of the first (3).
    assert proc.stdout.splitlines() == [
        "run stopped: 5", "survived <yieldloop.Event [set]>"]


def test_hard_stop_takes_abandoned_traps_out_of_wait_lists(kernel):
    # In-process: a signal handler raises while the kernel's own code runs
    # (its poller), during the cleanup of a first KeyboardInterrupt.
    ev = yl.Event()
    caught = []
    test_code = sys._getframe().f_code

    def stop_hard():
        main = threading.main_thread().ident
        while True:
            frame = sys._current_frames().get(main)
            if caught and frame is not None and frame.f_code is test_code:
                os.kill(os.getpid(), signal.SIGUSR1)
                return
            threading.Event().wait(0.001)

    async def stubborn():
        while True:
            try:
                await ev.wait()
            except yl.CancelledError:
                caught.append(1)

    async def main():
        yl.spawn(stubborn)
        await yl.sleep(0)
        threading.Thread(target=stop_hard, daemon=True).start()
        raise KeyboardInterrupt

    def on_usr1(signum, frame):
        raise KeyboardInterrupt("hard stop")

    old = signal.signal(signal.SIGUSR1, on_usr1)
    try:
        with pytest.raises(KeyboardInterrupt, match="hard stop"):
            kernel.run(main)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert repr(ev) == "<yieldloop.Event [unset]>"      # no waiter left
    ev.set()
    assert kernel.stats()["tasks"] == 0


# --- fork


FORK_IN_A_TASK = """
    import os, socket, sys
    import yieldloop as yl

    async def child_main():
        await yl.sleep(0.01)
        return os.getpid()

    async def main():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                       # the child, inside a parent's task
            os.close(r)
            try:
                got = yl.run(child_main)
                os.write(w, b"ran %d" % (got == os.getpid()))
            except BaseException as e:
                os.write(w, repr(e).encode())
            os._exit(0)
        os.close(w)
        await yl.wait_readable(r)
        out = os.read(r, 200)
        os.close(r)
        os.waitpid(pid, 0)
        return out.decode()

    print(yl.run(main))
"""


def test_child_forked_inside_a_task_can_run_its_own_kernel():
    proc = run_child(FORK_IN_A_TASK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ran 1"


FORK_AND_GO_ON = """
    import os, socket, sys
    sys.path.insert(0, {tests!r})
    import epoll_state
    import yieldloop as yl

    PARENT = os.getpid()
    r, w = os.pipe()

    async def main():
        a, b = socket.socketpair()
        c, d = socket.socketpair()
        for s in (a, b, c, d):
            s.setblocking(False)
        reader = yl.spawn(yl.sock_recv(a, 10))    # registered in the parent's set
        await yl.sleep(0)
        epfd = yl.current_kernel().poller.fileno()
        before = epoll_state.registrations(epfd)
        pid = os.fork()
        if pid == 0:
            # The child goes on with the parent's kernel: it is dead here.
            try:
                yl.current_kernel()
            except RuntimeError:
                os.write(w, b"no kernel, ")
            await yl.wait_readable(c)              # back into the parent's kernel
            os.write(w, b"resumed")                # never reached
            os._exit(1)
        os.close(w)
        os.waitpid(pid, 0)
        child_said = os.read(r, 200).decode()
        os.close(r)
        after = epoll_state.registrations(epfd)
        b.send(b"still mine")
        got = await reader
        for s in (a, b, c, d):
            s.close()
        return child_said, before == after, got

    try:
        print(yl.run(main))
    except RuntimeError as e:
        if os.getpid() == PARENT:
            raise
        os.write(w, b"run(): " + (b"forked" if "forked" in str(e) else repr(e).encode()))
        os._exit(0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fdinfo")
def test_forked_child_going_on_with_the_parents_kernel_gets_errors_and_never_touches_its_epoll_set():
    tests = os.path.dirname(os.path.abspath(__file__))
    proc = run_child(FORK_AND_GO_ON.format(tests=tests))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The child: no kernel runs there, and the parent's kernel refuses to
    # go on (RuntimeError out of its run()). The parent: its epoll set is
    # as it was, and its reader still gets its data.
    assert proc.stdout.strip() == "('no kernel, run(): forked', True, b'still mine')"


FORK_THREADSAFE = """
    import os
    import yieldloop as yl

    async def main():
        kernel = yl.current_kernel()
        pid = os.fork()
        if pid == 0:
            try:
                kernel.call_soon_threadsafe(print, "never")
            except RuntimeError as e:
                os._exit(0 if "forked" in str(e) else 1)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    print(yl.run(main))
"""


def test_parents_kernel_refuses_calls_from_a_forked_child():
    proc = run_child(FORK_THREADSAFE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "0"


FORK_LOOP = """
    import asyncio, os, socket, sys
    sys.path.insert(0, {tests!r})
    import epoll_state
    import yieldloop

    loop = yieldloop.new_event_loop()
    a, b = socket.socketpair()
    got = []
    loop.add_reader(a.fileno(), lambda: got.append(a.recv(10)))
    [epfd] = epoll_state.epoll_fds()            # the loop's: the only one here
    before = epoll_state.registrations(epfd)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        out = []
        try:
            loop.run_until_complete(asyncio.sleep(0))
        except RuntimeError as e:
            out.append("refused" if "fork" in str(e) else repr(e))
        try:
            loop.add_reader(b.fileno(), print)
        except RuntimeError as e:
            out.append("refused" if "fork" in str(e) else repr(e))
        loop.close()                       # closing is fine
        os.write(w, " ".join(out).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    child_said = os.read(r, 200).decode()
    os.close(r)
    same = epoll_state.registrations(epfd) == before
    b.send(b"x")
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.remove_reader(a.fileno())
    loop.close()
    a.close()
    b.close()
    print(child_said, same, got)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fdinfo")
def test_event_loop_inherited_through_fork_refuses_use_and_leaves_the_parents_epoll_set():
    tests = os.path.dirname(os.path.abspath(__file__))
    proc = run_child(FORK_LOOP.format(tests=tests))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "refused refused True [b'x']"


FORK_SIGNALS = """
    import os, signal
    import yieldloop as yl

    async def main():
        pid = os.fork()
        if pid == 0:
            # The parent's run took SIGINT: the child gets it back.
            ok = signal.getsignal(signal.SIGINT) is signal.default_int_handler
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    print(yl.run(main))
"""


def test_forked_child_gets_the_default_sigint_handler_back():
    proc = run_child(FORK_SIGNALS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "0"


# --- shutdown keeps serving other threads while the executor drains


def test_worker_calling_back_into_the_kernel_during_shutdown_is_served(kernel):
    proceed = threading.Event()
    answers = []

    async def double(x):
        await yl.sleep(0)
        return 2 * x

    def worker(k):
        proceed.wait(30)
        # run() is shutting down now, waiting for this very thread.
        answers.append(k.run_coroutine_threadsafe(double(21)).result(timeout=30))
        k.call_soon_threadsafe(answers.append, "callback ran")
        return "worker done"

    async def waits_for_worker():
        try:
            await yl.to_thread(worker, yl.current_kernel())
        except yl.CancelledError:
            proceed.set()          # cancelled by run()'s cleanup: let the worker go
            raise

    async def main():
        yl.spawn(waits_for_worker)
        await yl.sleep(0)
        return "main done"

    assert kernel.run(main) == "main done"
    assert answers == [42, "callback ran"]


def test_threadsafe_calls_are_delivered_exactly_once_and_refused_after_run():
    threads, calls = 8, 2000
    ran = []                            # one entry per callback run
    outcomes = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    async def answer(i):
        return i

    def hammer(k, n):
        start.wait(30)
        for i in range(calls):
            try:
                if i % 2:
                    k.call_soon_threadsafe(ran.append, (n, i))
                    outcomes[n].append(("call", i))
                else:
                    outcomes[n].append(("future", k.run_coroutine_threadsafe(answer(i))))
            except RuntimeError:
                outcomes[n].append(("refused", i))

    async def main():
        k = yl.current_kernel()
        pool = [threading.Thread(target=hammer, args=(k, n)) for n in range(threads)]
        for t in pool:
            t.start()
        start.wait(30)
        # Run while the threads call in; stop while they still do.
        while len(ran) < threads * calls // 8:
            await yl.sleep(0)
        return pool

    pool = yl.run(main)
    ran_when_run_returned = len(ran)
    for t in pool:
        t.join(60)
    accepted_calls = {(n, i) for n in range(threads)
                      for kind, i in outcomes[n] if kind == "call"}
    # Every accepted call ran exactly once, all before run() returned.
    assert len(ran) == ran_when_run_returned
    assert sorted(ran) == sorted(accepted_calls)
    for n in range(threads):
        assert len(outcomes[n]) == calls
        refused = False
        for kind, x in outcomes[n]:
            if kind == "refused":
                refused = True
            else:
                # Once refused, a thread is refused for good: nothing is
                # accepted after run() stopped taking calls.
                assert not refused
            if kind == "future":
                # Every accepted coroutine finished: run, or cancelled by
                # run()'s cleanup if it came at the very end.
                assert x.done()
                if not x.cancelled() and x.exception() is None:
                    assert x.result() in range(calls)


def test_call_soon_threadsafe_after_run_raises():
    kernels = []

    async def main():
        kernels.append(yl.current_kernel())

    yl.run(main)
    with pytest.raises(RuntimeError, match="not running"):
        kernels[0].call_soon_threadsafe(print)


# --- foreign BaseExceptions fail their task alone


class LibraryCancel(BaseException):
    """A library's own BaseException, as some use for cancellation."""


@pytest.mark.parametrize("exc_type", [GeneratorExit, LibraryCancel])
def test_foreign_base_exception_fails_its_task_alone(exc_type):
    async def child():
        await yl.sleep(0)
        raise exc_type("from the child")

    async def main():
        t = yl.spawn(child)
        with pytest.raises(exc_type):
            await t
        assert t.done() and not t.cancelled()
        assert isinstance(t.exception(), exc_type)
        await yl.sleep(0)              # the kernel keeps running
        return "main finished"

    assert yl.run(main) == "main finished"


def test_foreign_base_exception_in_main_comes_out_of_run():
    async def main():
        raise LibraryCancel("from main")

    with pytest.raises(LibraryCancel):
        yl.run(main)


def test_foreign_base_exception_in_a_callback_is_reported_and_the_kernel_goes_on(caplog):
    def callback():
        raise LibraryCancel("from a callback")

    async def main():
        yl.current_kernel().call_soon(callback)
        await yl.sleep(0)
        await yl.sleep(0)
        return "went on"

    assert yl.run(main) == "went on"
    assert "from a callback" in caplog.text


# --- a run() whose setup fails leaves nothing set


def test_run_whose_setup_fails_leaves_no_kernel_running(monkeypatch):
    real = sys.set_asyncgen_hooks

    def refuse(*args, **kwargs):
        if kwargs:                     # run() installing its hooks
            raise RuntimeError("hooks refused")
        return real(*args, **kwargs)

    monkeypatch.setattr(sys, "set_asyncgen_hooks", refuse)
    k = yl.Kernel()
    with pytest.raises(RuntimeError, match="hooks refused"):
        k.run(yl.sleep(0))
    monkeypatch.undo()
    assert not k.running
    assert k.stats()["tasks"] == 0
    assert yl.run(yl.sleep, 0) is None      # a later run() in this thread works
