"""Child processes: spawn a program, wait for its exit (and read its output).

The figure is the time per process, from the start of the spawn to the
exit seen by the waiting task. The program is ``true`` (or ``echo`` when
the output is read), so that the runtime's own cost (starting the child,
learning of its exit, reaping it, the pipes) is as large a part of the
figure as a fork and an exec let it be.

- yieldloop: ``yl.open_process()`` + ``wait()`` / ``yl.run_process(capture_stdout=True)``;
- asyncio's loop, uvloop, yieldloop.Loop: ``asyncio.create_subprocess_exec()``
  + ``wait()`` / ``communicate()``;
- trio: ``trio.lowlevel.open_process()`` + ``wait()`` / ``trio.run_process()``;
- floor: ``subprocess.Popen`` + ``wait()`` / ``subprocess.run()``, blocking.
"""

import shutil
import time

TITLE = "processes: spawn + wait"
UNIT = "ns/process"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio", "floor")
CASES = {
    "1 at a time": {
        "quick": {"processes": 60, "at_once": 1, "capture": False},
        "full": {"processes": 400, "at_once": 1, "capture": False},
    },
    "20 at once": {
        "quick": {"processes": 100, "at_once": 20, "capture": False},
        "full": {"processes": 600, "at_once": 20, "capture": False},
    },
    "stdout captured, 1 at a time": {
        "quick": {"processes": 60, "at_once": 1, "capture": True},
        "full": {"processes": 400, "at_once": 1, "capture": True},
    },
}

OUTPUT = b"hello\n"


def ops(processes, at_once, capture):
    return processes


def _command(capture):
    if capture:
        return [shutil.which("echo"), "hello"]
    return [shutil.which("true")]


def _check(code, out, capture):
    if code != 0 or (capture and out != OUTPUT):
        raise RuntimeError(f"the child failed: returncode {code}, output {out!r}")


def yieldloop(processes, at_once, capture):
    import yieldloop as yl

    cmd = _command(capture)

    async def one():
        if capture:
            result = await yl.run_process(cmd, stdin=None, capture_stdout=True)
            _check(result.returncode, result.stdout, capture)
        else:
            proc = await yl.open_process(cmd)
            _check(await proc.wait(), None, capture)

    async def main():
        t0 = time.perf_counter()
        for _ in range(processes // at_once):
            if at_once == 1:
                await one()
            else:
                await yl.gather(*[one() for _ in range(at_once)])
        return time.perf_counter() - t0

    return yl.run(main)


def _asyncio(runtime, processes, at_once, capture):
    import asyncio

    from .runtimes import run_asyncio

    cmd = _command(capture)

    async def one():
        if capture:
            proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            _check(proc.returncode, out, capture)
        else:
            proc = await asyncio.create_subprocess_exec(*cmd)
            _check(await proc.wait(), None, capture)

    async def main():
        t0 = time.perf_counter()
        for _ in range(processes // at_once):
            if at_once == 1:
                await one()
            else:
                await asyncio.gather(*[one() for _ in range(at_once)])
        return time.perf_counter() - t0

    return run_asyncio(runtime, main)


def asyncio(processes, at_once, capture):
    return _asyncio("asyncio", processes, at_once, capture)


def uvloop(processes, at_once, capture):
    return _asyncio("uvloop", processes, at_once, capture)


def yieldloop_loop(processes, at_once, capture):
    return _asyncio("yieldloop-loop", processes, at_once, capture)


def trio(processes, at_once, capture):
    import trio as _trio

    cmd = _command(capture)

    async def one():
        if capture:
            result = await _trio.run_process(cmd, stdin=None, capture_stdout=True)
            _check(result.returncode, result.stdout, capture)
        else:
            proc = await _trio.lowlevel.open_process(cmd, stdin=None)
            _check(await proc.wait(), None, capture)

    async def main():
        t0 = time.perf_counter()
        for _ in range(processes // at_once):
            async with _trio.open_nursery() as nursery:
                for _ in range(at_once):
                    nursery.start_soon(one)
        return time.perf_counter() - t0

    return _trio.run(main)


def floor(processes, at_once, capture):
    """Blocking: start ``at_once`` children, then wait for each in turn."""
    import subprocess

    cmd = _command(capture)
    t0 = time.perf_counter()
    for _ in range(processes // at_once):
        started = [
            subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else None)
            for _ in range(at_once)
        ]
        for proc in started:
            out = proc.communicate()[0] if capture else None
            _check(proc.wait(), out, capture)
    return time.perf_counter() - t0
