# cython: language_level=3, boundscheck=False, wraparound=False, iterable_coroutine=True
"""Child processes on the native kernel: open_process(), run_process() and Process.

Starting: subprocess.Popen, in the kernel's thread, as asyncio does (it
returns once the child has exec'd, or raises the exec error, e.g.
FileNotFoundError). Every option of Popen that makes sense for byte pipes
passes through (cwd, env, start_new_session, pass_fds...).

Pipes: a PIPE is a connected Unix socket pair, as libuv (and so uvloop and
Node.js) gives its children: the parent's end is a yieldloop Stream, the
child's end its stdin, stdout or stderr. The child reads and writes it as
it would a pipe (read(), write(), EOF when the parent closes, SIGPIPE when
it writes after the parent closed).

Exit: never SIGCHLD. The kernel waits for an fd that becomes readable when
the child exits (core/poll/procexit.c: a pidfd on Linux, a one-filter kqueue
with EVFILT_PROC/NOTE_EXIT on macOS and the BSDs), then reaps it with
waitpid(WNOHANG) (Popen.poll()). Where the OS has no such fd (Linux before
5.3, a sandbox refusing pidfd_open: ENOSYS, EPERM...) a thread of its own
per process blocks in Popen.wait() and hands the exit to the kernel with
call_soon_threadsafe(). Only the kernel's thread reaps in the first case,
so a pid cannot be reused while signals may still be sent to it.

Each process has a watcher task that waits for the exit, reaps, wakes the
tasks in wait() and closes the exit fd. When run() ends with the child
still running, the watcher is cancelled like every task left: it kills
the child (SIGKILL), reaps it and closes its pipes, so no zombie and no fd
outlives run(), as asyncio's loop kills the processes it still holds when
it closes. A cancelled run_process() kills its child too (as trio does);
a cancelled wait() only stops waiting.
"""
cimport cython
from libc.errno cimport errno, ESRCH
from yieldloop.core._traps cimport Trap, make_trap, TRAP_READ, TRAP_PARK
from yieldloop.native._waitlist cimport WaitList
from yieldloop.native._task cimport is_cancelled_error
from yieldloop.native._traphost cimport wake
from yieldloop.native._kernel cimport Kernel
from yieldloop.native._api cimport need_kernel, spawn_task

import os as _os
import signal as _signal
import socket as _socket
import subprocess as _subprocess

from yieldloop.native._streams import Stream

cdef extern from "core/poll/procexit.h":
    int yl_proc_exit_fd(int pid) nogil

# subprocess's own constants.
cdef object PIPE = _subprocess.PIPE
cdef object STDOUT = _subprocess.STDOUT
cdef object DEVNULL = _subprocess.DEVNULL

# Popen options for text streams: the pipes here carry bytes.
_TEXT_OPTIONS = ("universal_newlines", "text", "encoding", "errors")


def _open_exit_fd(int pid):
    """An fd readable once child ``pid`` has exited (see procexit.h); OSError
    with the errno otherwise. (A module function, so tests can replace it to
    take the other paths.)"""
    cdef int fd = yl_proc_exit_fd(pid)
    cdef int err = errno
    if fd < 0:
        raise OSError(err, _os.strerror(err))
    return fd


def _wait_for_exit_in_thread(Kernel kernel, Process p):
    # The fallback's thread: Popen.wait() reaps (under Popen's own lock, so
    # that the kernel's Popen.poll() and send_signal() stay safe meanwhile).
    try:
        p._popen.wait()
    finally:
        try:
            kernel.call_soon_threadsafe(_thread_saw_exit, p)
        except RuntimeError:
            pass                  # run() was stopped hard: nobody waits any more


def _thread_saw_exit(Process p):
    p._thread_saw_exit = True
    if p._thread_trap is not None:
        wake(p._thread_trap, None, None)


async def _watch(Process p):
    """The watcher task of ``p``: wait for the exit, reap, wake the waiters.
    Cancelled (run() ends), it kills the child and still reaps it."""
    cdef Trap t
    cdef object interrupted = p._early_cancel
    p._early_cancel = None
    if interrupted is not None:
        p._kill_quietly()
        p._close_pipes()
    while True:
        p._reap()
        if p._returncode is not None:
            break
        try:
            if p._exit_fd >= 0:
                t = make_trap(TRAP_READ)
                t.fd = p._exit_fd
                await t
            else:
                if p._thread_saw_exit:
                    # The thread ended with the process not reaped (Popen.wait()
                    # does not do that): wait in a new one rather than spin.
                    p._thread_saw_exit = False
                    p._wait_in_thread()
                t = make_trap(TRAP_PARK)
                t.arg = "exit of process %d" % p._pid
                p._thread_trap = t
                try:
                    await t
                finally:
                    p._thread_trap = None
        except GeneratorExit:
            p._kill_quietly()     # the task is being thrown away: no more waiting
            raise
        except BaseException as e:
            if is_cancelled_error(e) or not isinstance(e, Exception):
                if interrupted is None:
                    interrupted = e
                p._kill_quietly()
                p._close_pipes()
            else:
                # The exit fd failed under us (closed behind our back, say):
                # it is not ours any more; wait in a thread instead.
                p._exit_fd = -1
                p._wait_in_thread()
    p._finish()
    if interrupted is not None:
        raise interrupted


@cython.final
cdef class _WatcherStart:
    """What the watcher task runs: _watch(p), except that a cancellation
    thrown in before its first step (run() ending right after
    open_process()) reaches it too. A coroutine that never ran cannot catch
    what is thrown into it (none of its body runs), which would leave the
    child running; this hands the cancellation to _watch() as it starts."""

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        self._started = True
        return self._coro.send(None)

    def send(self, value):
        self._started = True
        return self._coro.send(value)

    def throw(self, typ, val=None, tb=None):
        if self._started:
            if val is None and tb is None:
                return self._coro.throw(typ)
            return self._coro.throw(typ, val, tb)
        self._started = True
        self._p._early_cancel = typ if isinstance(typ, BaseException) else (
            typ() if val is None else typ(val))
        return self._coro.send(None)

    def close(self):
        self._coro.close()


@cython.final
cdef class Process:
    """A child process started by open_process().

        async with await yieldloop.open_process(["cat"], stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE) as proc:
            await proc.stdin.send_all(b"hello")
            await proc.stdin.aclose()
            print(await proc.stdout.read())
        print(proc.returncode)

    ``stdin``, ``stdout`` and ``stderr`` are yieldloop Streams for the
    pipes asked for with ``subprocess.PIPE`` (else None). ``returncode`` is
    None until the process has exited and been reaped, then its exit
    status, or ``-N`` if signal N ended it. ``async with`` closes the pipes
    and waits for the exit on the way out (see aclose()).
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("Process objects are made by open_process()")

    @property
    def args(self):
        """The command, as given to open_process()."""
        return self._args

    @property
    def pid(self):
        """The process id."""
        return self._pid

    @property
    def returncode(self):
        """None while the process runs; its exit status once it was reaped
        (negative: the number of the signal that ended it)."""
        return self._returncode

    @property
    def stdin(self):
        """A Stream writing to the child's stdin, or None (no PIPE)."""
        return self._stdin

    @property
    def stdout(self):
        """A Stream reading the child's stdout, or None (no PIPE)."""
        return self._stdout

    @property
    def stderr(self):
        """A Stream reading the child's stderr, or None (no PIPE)."""
        return self._stderr

    async def wait(self):
        """Wait until the process has exited and been reaped; return its
        returncode. Cancelling the wait leaves the process running."""
        cdef Trap t
        while self._returncode is None:
            t = self._waiters.park()
            try:
                await t
            finally:
                self._waiters.remove(t)
        return self._returncode

    def send_signal(self, sig):
        """Send signal ``sig`` to the process; nothing once it has been reaped."""
        if self._returncode is None:
            self._popen.send_signal(sig)

    def terminate(self):
        """Send SIGTERM (see send_signal())."""
        self.send_signal(_signal.SIGTERM)

    def kill(self):
        """Send SIGKILL (see send_signal())."""
        self.send_signal(_signal.SIGKILL)

    async def communicate(self, input=None):
        """Send ``input`` (bytes-like, or None) to stdin and close it, read
        stdout and stderr to their end, all at once, then wait for the exit;
        return ``(stdout_data, stderr_data)`` (None for a stream that is not
        a PIPE). As asyncio's Process.communicate(); cancelling it stops the
        reading and writing and closes those pipes, but does not kill the
        process."""
        if input is not None:
            if self._stdin is None:
                raise ValueError("communicate(input=...) needs stdin=subprocess.PIPE")
            if memoryview(input).nbytes == 0:
                input = None
        tasks = []
        try:
            if self._stdin is not None:
                if input is None:
                    self._stdin.close()
                else:
                    tasks.append(spawn_task(self._kernel, _feed(self._stdin, input), None))
            out = err = None
            if self._stdout is not None:
                out = spawn_task(self._kernel, _read_all(self._stdout), None)
                tasks.append(out)
            if self._stderr is not None:
                err = spawn_task(self._kernel, _read_all(self._stderr), None)
                tasks.append(err)
            for task in tasks:
                await task
            await self.wait()
        except BaseException:
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except BaseException:
                    pass
            raise
        return (out.result() if out is not None else None,
                err.result() if err is not None else None)

    async def aclose(self):
        """Close the pipes, then wait for the process to exit. If this is
        cancelled, the process is killed (SIGKILL) and reaped first; the
        cancellation then goes on. (As trio's Process.aclose().)"""
        try:
            for stream in (self._stdin, self._stdout, self._stderr):
                if stream is not None:
                    await stream.aclose()
            await self.wait()
        finally:
            if self._returncode is None:
                await _kill_and_reap(self)

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.aclose()

    def __repr__(self):
        if self._returncode is None:
            state = "running"
        else:
            state = "returncode=%r" % (self._returncode,)
        return "<yieldloop.Process pid=%d %s>" % (self._pid, state)

    # --- for the watcher

    cdef int _reap(self) except -1:
        """Reap the process if it has exited (waitpid WNOHANG)."""
        if self._returncode is None:
            self._returncode = self._popen.poll()
        return 0

    cdef int _kill_quietly(self) except -1:
        try:
            self.kill()
        except OSError:
            pass                  # gone already
        return 0

    cdef int _wait_in_thread(self) except -1:
        import threading
        threading.Thread(target=_wait_for_exit_in_thread, args=(self._kernel, self),
                         name="yieldloop-waitpid-%d" % self._pid, daemon=True).start()
        return 0

    cdef int _close_exit_fd(self) except -1:
        cdef int fd = self._exit_fd
        if fd >= 0:
            self._exit_fd = -1
            if self._kernel._running:
                self._kernel.close_fd(fd)
            _os.close(fd)
        return 0

    cdef int _close_pipes(self) except -1:
        for stream in (self._stdin, self._stdout, self._stderr):
            if stream is not None:
                stream.close()
        return 0

    cdef int _finish(self) except -1:
        """Reaped: close the exit fd and wake every task in wait()."""
        cdef Trap t
        self._close_exit_fd()
        t = self._waiters.first()
        while t is not None:
            wake(t, None, None)
            t = self._waiters.next_after(t)
        return 0


async def _kill_and_reap(Process p):
    """Kill ``p`` and wait until it is reaped, whatever cancellation comes
    meanwhile (SIGKILL cannot be caught: the wait is short); a cancellation
    that came is raised at the end."""
    cdef object interrupted = None
    p._kill_quietly()
    while p._returncode is None:
        try:
            await p.wait()
        except BaseException as e:
            if interrupted is None:
                interrupted = e
    if interrupted is not None:
        raise interrupted


async def _feed(stream, data):
    # communicate()'s writer: a child that exits without reading all of its
    # input is not an error (as in asyncio and subprocess).
    try:
        await stream.send_all(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        stream.close()


async def _read_all(stream):
    try:
        return await stream.read(-1)
    finally:
        stream.close()


cdef bint _is_pipe(object spec):
    return isinstance(spec, int) and not isinstance(spec, bool) and spec == PIPE


cdef int _check_command(object args, dict options) except -1:
    if isinstance(args, (str, bytes)) and not options.get("shell"):
        raise TypeError("the command must be a sequence of arguments, not a string, "
                        "unless shell=True: ['ls', '-l'], not 'ls -l'")
    for name in _TEXT_OPTIONS:
        if options.get(name):
            raise TypeError("yieldloop's process pipes carry bytes: the %r option of "
                            "subprocess.Popen is not supported (decode the bytes read)" % name)
    return 0


async def open_process(args, *, stdin=None, stdout=None, stderr=None, **options):
    """Start a child process; return its Process at once (without waiting
    for it to finish).

    ``args`` is the command as a sequence (``[sys.executable, "-c", code]``),
    or a string with ``shell=True``. ``stdin``, ``stdout`` and ``stderr``
    each take ``subprocess.PIPE`` (a Stream on ``proc.stdin`` /
    ``proc.stdout`` / ``proc.stderr``), ``subprocess.DEVNULL``, an fd or a
    file object, or None (inherit ours); ``stderr`` also
    ``subprocess.STDOUT``. Other keyword arguments go to subprocess.Popen
    (``cwd``, ``env``, ``start_new_session``, ``pass_fds``...); text mode
    options are refused: the pipes carry bytes. A missing program raises
    FileNotFoundError here.

        proc = await yieldloop.open_process(["sort"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE)
        out, _ = await proc.communicate(b"b\\na\\n")

    When run() ends with the process still running, it is killed and reaped.
    """
    cdef Kernel kernel = need_kernel("open_process()")
    cdef Process p
    cdef _WatcherStart start
    _check_command(args, options)
    socks = [None, None, None]            # the parent's ends of the pipes
    child_ends = []
    specs = [stdin, stdout, stderr]
    try:
        for i in range(3):
            if _is_pipe(specs[i]):
                parent, child = _socket.socketpair()
                socks[i] = parent
                child_ends.append(child)
                specs[i] = child.fileno()
        popen = _subprocess.Popen(args, stdin=specs[0], stdout=specs[1], stderr=specs[2],
                                  **options)
    except BaseException:
        for sock in socks:
            if sock is not None:
                sock.close()
        raise
    finally:
        for child in child_ends:
            child.close()                 # the child has its copies
    p = Process.__new__(Process)
    p._args = args
    p._pid = popen.pid
    p._popen = popen
    p._kernel = kernel
    p._exit_fd = -1
    p._waiters = WaitList("Process.wait()")
    try:
        streams = [Stream(sock) if sock is not None else None for sock in socks]
    except BaseException:
        for sock in socks:
            if sock is not None:
                sock.close()
        popen.kill()
        popen.wait()
        raise
    p._stdin, p._stdout, p._stderr = streams
    try:
        p._exit_fd = _open_exit_fd(p._pid)
    except OSError as e:
        # ESRCH: exited already (kqueue) or reaped by someone else: reap
        # now. Otherwise there is no exit fd here: wait in a thread.
        if e.errno == ESRCH:
            p._reap()
        if p._returncode is None:
            p._wait_in_thread()
    start = _WatcherStart.__new__(_WatcherStart)
    start._coro = _watch(p)
    start._p = p
    p._watcher = spawn_task(kernel, start, "process-%d" % p._pid)
    return p


async def run_process(args, *, stdin=b"", capture_stdout=False, capture_stderr=False,
                      check=True, **options):
    """Run a command to completion; return a subprocess.CompletedProcess.

    ``stdin``: bytes-like data to feed to the child (default b"": an empty
    stdin), or what open_process() takes (None inherits ours, DEVNULL, an
    fd, a file object). ``capture_stdout`` / ``capture_stderr`` (or
    ``stdout=subprocess.PIPE`` / ``stderr=subprocess.PIPE``) collect the
    output into the result's ``stdout`` / ``stderr``, read as it comes so
    that any amount passes; otherwise they go where ``stdout`` / ``stderr``
    say (ours by default; ``stderr=subprocess.STDOUT`` merges them). With
    ``check=True`` (the default) a non-zero exit raises
    subprocess.CalledProcessError, carrying what was captured. Other
    keyword arguments go to subprocess.Popen, as for open_process().

        result = await yieldloop.run_process(["git", "status"], capture_stdout=True)
        print(result.stdout.decode())

    Cancelling it (or a yieldloop.timeout() around it) kills the process
    (SIGKILL) and reaps it before the cancellation goes on.
    """
    if _is_pipe(stdin):
        raise ValueError("run_process(): pass the bytes to feed as stdin=..., not subprocess.PIPE")
    if isinstance(stdin, str):
        raise TypeError("run_process(): stdin takes bytes to feed (encode the text), or "
                        "None, DEVNULL, an fd or a file")
    if capture_stdout:
        if options.get("stdout") is not None:
            raise ValueError("run_process(): give capture_stdout=True or stdout=..., not both")
        options["stdout"] = PIPE
    if capture_stderr:
        if options.get("stderr") is not None:
            raise ValueError("run_process(): give capture_stderr=True or stderr=..., not both")
        options["stderr"] = PIPE
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        data = stdin
        stdin = PIPE
    else:
        data = None
    proc = await open_process(args, stdin=stdin, **options)
    try:
        out, err = await (<Process>proc).communicate(data)
    except BaseException:
        (<Process>proc)._close_pipes()
        await _kill_and_reap(<Process>proc)
        raise
    if check and proc.returncode:
        raise _subprocess.CalledProcessError(proc.returncode, args, output=out, stderr=err)
    return _subprocess.CompletedProcess(args, proc.returncode, out, err)
