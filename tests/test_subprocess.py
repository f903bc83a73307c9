"""Child processes on the native kernel: run_process(), open_process(), Process.

Each test that starts a child checks that it was reaped (waitpid() on its
pid raises ChildProcessError) and that no zombie of ours is left; conftest
checks that no fd (pipe, pidfd) was leaked. The tests marked with the
``wait_mode`` fixture run twice: waiting on the exit fd (a pidfd here) and
in a thread, as on an OS with no exit fd.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import epoll_state
import yieldloop as yl
import yieldloop.native._subprocess as ylsub

LINUX = sys.platform.startswith("linux")
PY = sys.executable
# valgrind's core runs exec() for the program it runs: a failed exec is a
# child exiting with status 127 there, not an error Popen sees.
UNDER_VALGRIND = "vgpreload" in os.environ.get("LD_PRELOAD", "")


def _has_pidfd():
    # pidfd_open() works on any pid of ours, this process included; it is
    # missing before Linux 5.3 and under valgrind (ENOSYS).
    try:
        os.close(ylsub._open_exit_fd(os.getpid()))
        return True
    except OSError:
        return False


needs_pidfd = pytest.mark.skipif(
    not LINUX or not _has_pidfd(), reason="needs pidfd_open() (Linux 5.3+, not under valgrind)")


def py(code):
    """The command running ``code`` in a fresh interpreter."""
    return [PY, "-c", textwrap.dedent(code)]


def our_zombies():
    """Pids of our children that exited and were not reaped (Linux /proc)."""
    found = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            found.append(int(name))
    return found


def assert_reaped(pid):
    """``pid`` is no child of ours any more: neither running nor a zombie."""
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def pidfds():
    """Our fds that are pidfds."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[pidfd]":
                out.append(int(name))
        except OSError:
            pass
    return out


def waiting_threads():
    return [t for t in threading.enumerate() if t.name.startswith("yieldloop-waitpid-")]


@pytest.fixture(autouse=True)
def no_zombie_left():
    before = set(our_zombies()) if LINUX else set()
    yield
    if LINUX:
        assert set(our_zombies()) <= before, "a child was left unreaped"


@pytest.fixture(params=["exit-fd", "thread"])
def wait_mode(request, monkeypatch):
    """Wait for exits on the exit fd, or as where the OS has none (ENOSYS)."""
    if request.param == "thread":
        def no_exit_fd(pid):
            raise OSError(errno.ENOSYS, "no exit fd in this test")

        monkeypatch.setattr(ylsub, "_open_exit_fd", no_exit_fd)
    return request.param


async def wait_for_file(path):
    """Wait (polling) until ``path`` holds text; return it."""
    while True:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return text
        except FileNotFoundError:
            pass
        await yl.sleep(0.01)


SLEEPER = """
    import os, sys, time
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\\n")
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(60)
"""


# --- run_process

def test_run_process_feeds_stdin_and_captures_stdout_and_stderr(wait_mode):
    async def main():
        return await yl.run_process(
            py("""
                import sys
                data = sys.stdin.buffer.read()
                sys.stdout.buffer.write(data.upper())
                sys.stderr.buffer.write(b"to stderr")
            """),
            stdin=b"hello child", capture_stdout=True, capture_stderr=True)

    result = yl.run(main)
    assert isinstance(result, subprocess.CompletedProcess)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"HELLO CHILD", b"to stderr")


def test_run_process_passes_megabytes_each_way_without_deadlock(wait_mode):
    # Far more than any pipe or socket buffer, in all three directions at
    # once: the child writes as it reads, so every stream must be served.
    payload = os.urandom(3 * 1024 * 1024)

    async def main():
        return await yl.run_process(
            py("""
                import sys
                out, err = sys.stdout.buffer, sys.stderr.buffer
                while True:
                    chunk = sys.stdin.buffer.read1(65536)
                    if not chunk:
                        break
                    out.write(chunk)
                    err.write(b"e" * len(chunk))
                out.write(b"x" * 5_000_000)
            """),
            stdin=payload, capture_stdout=True, capture_stderr=True)

    result = yl.run(main)
    assert result.stdout == payload + b"x" * 5_000_000
    assert result.stderr == b"e" * len(payload)


def test_run_process_accepts_pipe_for_stdout_and_stderr_as_capture():
    async def main():
        return await yl.run_process(
            py("import sys; print('out'); print('err', file=sys.stderr)"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    result = yl.run(main)
    assert (result.stdout, result.stderr) == (b"out\n", b"err\n")


def test_run_process_without_capture_leaves_output_uncaptured(tmp_path):
    out = tmp_path / "out.txt"

    async def main():
        with open(out, "wb") as f:
            return await yl.run_process(py("print('to the file')"), stdout=f)

    result = yl.run(main)
    assert (result.stdout, result.stderr) == (None, None)
    assert out.read_bytes() == b"to the file\n"


def test_run_process_merges_stderr_into_stdout_and_passes_popen_options(tmp_path):
    async def main():
        return await yl.run_process(
            py("""
                import os, sys
                print(os.getcwd(), os.environ["YL_TEST"])
                sys.stdout.flush()
                print("err", file=sys.stderr)
            """),
            capture_stdout=True, stderr=subprocess.STDOUT, cwd=str(tmp_path),
            env={**os.environ, "YL_TEST": "from env"})

    result = yl.run(main)
    assert result.stdout.decode().splitlines() == [f"{tmp_path} from env", "err"]
    assert result.stderr is None


def test_run_process_returns_the_exit_code_when_check_is_false(wait_mode):
    async def main():
        return await yl.run_process(py("import sys; sys.exit(7)"), check=False)

    assert yl.run(main).returncode == 7


def test_run_process_raises_called_process_error_carrying_the_output():
    async def main():
        await yl.run_process(
            py("import sys; print('partial'); print('oops', file=sys.stderr); sys.exit(3)"),
            capture_stdout=True, capture_stderr=True)

    with pytest.raises(subprocess.CalledProcessError) as info:
        yl.run(main)
    e = info.value
    assert (e.returncode, e.stdout, e.stderr) == (3, b"partial\n", b"oops\n")
    assert e.cmd[0] == PY


def test_run_process_default_stdin_is_empty():
    async def main():
        return await yl.run_process(py("import sys; print(repr(sys.stdin.read()))"),
                                    capture_stdout=True)

    assert yl.run(main).stdout == b"''\n"


def test_run_process_ignores_a_child_that_exits_without_reading_its_input():
    async def main():
        return await yl.run_process(py("pass"), stdin=b"x" * 4_000_000, check=False)

    assert yl.run(main).returncode == 0


def test_run_process_works_from_a_generator():
    def gen():
        first = yield from yl.run_process(py("print(1)"), capture_stdout=True)
        second = yield yl.run_process(py("print(2)"), capture_stdout=True)
        return first.stdout, second.stdout

    assert yl.run(gen) == (b"1\n", b"2\n")


def test_open_process_and_its_methods_work_from_a_generator():
    def gen():
        proc = yield from yl.open_process(py("import sys; sys.exit(len(sys.stdin.read()))"),
                                          stdin=subprocess.PIPE)
        yield from proc.stdin.send_all(b"four")
        yield proc.stdin.aclose()
        code = yield from proc.wait()
        return code, (yield proc.wait())

    assert yl.run(gen) == (4, 4)


def test_cancelling_run_process_kills_and_reaps_the_child(tmp_path, wait_mode):
    pidfile = str(tmp_path / "pid")

    async def main():
        task = yl.spawn(yl.run_process(py(SLEEPER) + [pidfile]))
        pid = int(await wait_for_file(pidfile))
        task.cancel()
        with pytest.raises(yl.CancelledError):
            await task
        assert_reaped(pid)               # killed and reaped before the task ended
        assert yl.stats()["tasks"] == 1  # main alone: the watcher finished too
        return pid

    yl.run(main)


def test_a_timeout_around_run_process_kills_the_child(tmp_path):
    pidfile = str(tmp_path / "pid")

    async def main():
        pid_reader = yl.spawn(wait_for_file(pidfile))
        with pytest.raises(TimeoutError):
            async with yl.timeout(1.0):
                await yl.run_process(py(SLEEPER) + [pidfile])
        pid = int(await pid_reader)
        assert_reaped(pid)

    yl.run(main)


# --- open_process and Process

def test_open_process_streams_talk_to_the_child_line_by_line(wait_mode):
    async def main():
        proc = await yl.open_process(
            py("""
                import sys
                for line in sys.stdin:
                    print(line.strip()[::-1], flush=True)
            """),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stderr is None
        assert isinstance(proc.stdin, yl.Stream) and isinstance(proc.stdout, yl.Stream)
        replies = []
        for word in ("abc", "hello"):
            await proc.stdin.send_all(word.encode() + b"\n")
            replies.append(await proc.stdout.readline())
        await proc.stdin.send_eof()
        assert await proc.stdout.read() == b""
        code = await proc.wait()
        await proc.aclose()
        return replies, code, proc.pid

    replies, code, pid = yl.run(main)
    assert replies == [b"cba\n", b"olleh\n"] and code == 0
    assert_reaped(pid)


def test_process_as_async_context_manager_closes_pipes_and_waits():
    async def main():
        async with await yl.open_process(
                py("import sys; sys.stdout.write(sys.stdin.read())"),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
            await proc.stdin.send_all(b"data")
            await proc.stdin.send_eof()
            out = await proc.stdout.read()
        assert proc.stdin.closed and proc.stdout.closed
        return out, proc.returncode

    assert yl.run(main) == (b"data", 0)


def test_communicate_returns_the_output_of_the_piped_streams():
    async def main():
        proc = await yl.open_process(
            py("import sys; sys.stdout.write(sys.stdin.read() * 2); sys.stderr.write('e')"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = await proc.communicate(b"ab")
        return out, proc.returncode

    assert yl.run(main) == ((b"abab", b"e"), 0)


def test_a_process_ended_by_a_signal_has_a_negative_returncode(wait_mode):
    async def main():
        codes = []
        for end in ("terminate", "kill"):
            proc = await yl.open_process(py("import time; time.sleep(60)"))
            assert proc.returncode is None
            getattr(proc, end)()
            codes.append(await proc.wait())
            assert proc.returncode == codes[-1]
        # The child says when it is running our code: a SIGINT that lands
        # while Python is still starting ends it with status 1 instead.
        proc = await yl.open_process(
            py("import sys, time; print('ready', flush=True); time.sleep(60)"),
            stdout=subprocess.PIPE)
        assert await proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGINT)
        codes.append(await proc.wait())
        await proc.aclose()
        return codes

    # SIGINT reaches Python's default handler: KeyboardInterrupt, then
    # Python re-raises the signal at exit, so the status is still -SIGINT.
    assert yl.run(main) == [-signal.SIGTERM, -signal.SIGKILL, -signal.SIGINT]


def test_signals_after_the_process_was_reaped_do_nothing():
    async def main():
        proc = await yl.open_process(py("pass"))
        await proc.wait()
        proc.kill()
        proc.terminate()
        proc.send_signal(signal.SIGTERM)
        return proc.returncode

    assert yl.run(main) == 0


def test_many_tasks_can_wait_for_one_process():
    async def main():
        proc = await yl.open_process(py("import sys; sys.exit(5)"))
        waiters = [yl.spawn(proc.wait()) for _ in range(3)]
        return [await w for w in waiters] + [await proc.wait()]

    assert yl.run(main) == [5, 5, 5, 5]


def test_cancelling_wait_leaves_the_process_running():
    async def main():
        proc = await yl.open_process(py("import time; time.sleep(60)"))
        waiter = yl.spawn(proc.wait())
        await yl.sleep(0.05)
        waiter.cancel()
        with pytest.raises(yl.CancelledError):
            await waiter
        assert proc.returncode is None
        os.kill(proc.pid, 0)               # still there
        proc.kill()
        return await proc.wait()

    assert yl.run(main) == -signal.SIGKILL


def test_cancelling_aclose_kills_and_reaps_the_process():
    async def main():
        proc = await yl.open_process(py("import time; time.sleep(60)"))
        closer = yl.spawn(proc.aclose())
        await yl.sleep(0.05)
        closer.cancel()
        with pytest.raises(yl.CancelledError):
            await closer
        assert proc.returncode == -signal.SIGKILL
        return proc.pid

    assert_reaped(yl.run(main))


def test_a_process_still_running_when_run_ends_is_killed_and_reaped(wait_mode):
    async def main():
        proc = await yl.open_process(py("import time; time.sleep(60)"),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return proc

    kernel = yl.Kernel()
    proc = kernel.run(main)
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdin.closed and proc.stdout.closed    # its pipes went with it
    assert kernel.stats()["tasks"] == 0
    assert_reaped(proc.pid)


def test_a_process_started_just_before_main_returns_is_still_reaped():
    # main ends before the watcher task ever ran: its cancellation at the
    # end of run() must still kill the child.
    async def main():
        proc = await yl.open_process(py("import time; time.sleep(60)"))
        return proc.pid

    assert_reaped(yl.run(main))


@needs_pidfd
def test_the_exit_fd_is_a_pidfd_registered_only_while_the_process_runs():
    async def main():
        epfd = yl.current_kernel().poller.fileno()
        before = set(pidfds())
        proc = await yl.open_process(py("import sys; sys.stdin.read()"), stdin=subprocess.PIPE)
        await yl.sleep(0.01)
        [fd] = set(pidfds()) - before
        assert epoll_state.armed(fd, epfd)       # the kernel waits on it
        assert not waiting_threads()
        await proc.stdin.aclose()                # the child reads EOF and exits
        await proc.wait()
        assert fd not in pidfds()
        assert not epoll_state.registered(fd, epfd)
        assert yl.stats()["fds"] == 0

    yl.run(main)


def test_without_an_exit_fd_a_thread_waits_for_the_exit(monkeypatch):
    def no_exit_fd(pid):
        raise OSError(errno.ENOSYS, "no exit fd in this test")

    monkeypatch.setattr(ylsub, "_open_exit_fd", no_exit_fd)

    async def main():
        proc = await yl.open_process(py("import sys; sys.stdin.read()"), stdin=subprocess.PIPE)
        assert [t.name for t in waiting_threads()] == [f"yieldloop-waitpid-{proc.pid}"]
        if LINUX:
            assert pidfds() == []
        await proc.stdin.aclose()
        return await proc.wait()

    assert yl.run(main) == 0
    for t in waiting_threads():
        t.join(10)
    assert not waiting_threads()


@needs_pidfd
def test_an_exit_fd_closed_behind_the_watchers_back_falls_back_to_a_thread():
    async def main():
        before = set(pidfds())
        proc = await yl.open_process(py("import sys; sys.stdin.read()"), stdin=subprocess.PIPE)
        await yl.sleep(0.01)
        [fd] = set(pidfds()) - before
        yl.notify_closing(fd)
        os.close(fd)
        await yl.sleep(0.01)
        assert [t.name for t in waiting_threads()] == [f"yieldloop-waitpid-{proc.pid}"]
        await proc.stdin.aclose()
        return await proc.wait()

    assert yl.run(main) == 0


def test_a_child_that_exited_before_it_could_be_watched_is_reaped_at_once(monkeypatch):
    # As on macOS, where a zombie refuses the kqueue filter with ESRCH.
    def already_exited(pid):
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)    # now a zombie
        raise OSError(errno.ESRCH, "exited already")

    monkeypatch.setattr(ylsub, "_open_exit_fd", already_exited)

    async def main():
        proc = await yl.open_process(py("import sys; sys.exit(4)"))
        assert proc.returncode == 4              # reaped in open_process already
        assert not waiting_threads()
        return await proc.wait()

    assert yl.run(main) == 4


# --- bad input

@pytest.mark.skipif(UNDER_VALGRIND, reason="under valgrind a failed exec is exit status 127")
def test_a_missing_program_raises_file_not_found_and_leaks_nothing():
    async def main():
        fds = set(os.listdir("/proc/self/fd")) if LINUX else None
        with pytest.raises(FileNotFoundError):
            await yl.run_process(["/nonexistent/program"], stdin=b"input", capture_stdout=True)
        with pytest.raises(FileNotFoundError):
            await yl.open_process(["/nonexistent/program"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if LINUX:
            assert set(os.listdir("/proc/self/fd")) == fds
        assert yl.stats()["tasks"] == 1 and yl.stats()["fds"] == 0

    yl.run(main)


def test_a_command_given_as_one_string_needs_shell_true():
    async def main():
        with pytest.raises(TypeError, match="sequence"):
            await yl.run_process("echo hi")
        result = await yl.run_process("echo hi", shell=True, capture_stdout=True)
        return result.stdout

    assert yl.run(main) == b"hi\n"


@pytest.mark.parametrize("option", ["text", "universal_newlines", "encoding", "errors"])
def test_text_mode_options_are_refused(option):
    value = "utf-8" if option in ("encoding", "errors") else True

    async def main():
        with pytest.raises(TypeError, match=option):
            await yl.open_process(py("pass"), stdout=subprocess.PIPE, **{option: value})

    yl.run(main)


def test_run_process_refuses_contradictory_arguments():
    async def main():
        with pytest.raises(ValueError, match="stdin"):
            await yl.run_process(py("pass"), stdin=subprocess.PIPE)
        with pytest.raises(ValueError, match="capture_stdout"):
            await yl.run_process(py("pass"), capture_stdout=True, stdout=subprocess.DEVNULL)
        with pytest.raises(ValueError, match="capture_stderr"):
            await yl.run_process(py("pass"), capture_stderr=True, stderr=subprocess.STDOUT)
        with pytest.raises(TypeError, match="bytes"):
            await yl.run_process(py("pass"), stdin="text")

    yl.run(main)


def test_communicate_with_input_needs_a_stdin_pipe():
    async def main():
        proc = await yl.open_process(py("pass"))
        with pytest.raises(ValueError, match="stdin"):
            await proc.communicate(b"data")
        return await proc.wait()

    assert yl.run(main) == 0


def test_process_functions_need_a_running_kernel():
    with pytest.raises(RuntimeError, match="kernel"):
        yl.run_process(py("pass")).send(None)
    with pytest.raises(TypeError, match="open_process"):
        yl.Process()
