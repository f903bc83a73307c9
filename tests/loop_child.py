"""Run a small asyncio program in a child process, on asyncio's own loop and
on yieldloop.Loop, and give back what each printed.

A program is Python source that defines ``async def main()``; it runs under
a prelude that gives it ``out()`` (print, flushed), ``handler`` (an
exception handler printing what asyncio promises of its context: the
message, the exception's type and the context's keys) and ``LOOP`` (the
name of the loop it runs on). The child prints ``exit <result>`` when
main() returns, and ``fds <n>`` and ``waiters <n>`` after the loop closed
(open fds beyond those it started with; fd callbacks left in yieldloop's
poller beyond its self-pipe's, 0 on asyncio's loop).
"""

import os
import subprocess
import sys
import textwrap

LOOPS = ("asyncio", "yieldloop")

PRELUDE = '''
import asyncio, gc, os, socket, sys
import yieldloop

LOOP = sys.argv[1]

def out(*args):
    print(*args, flush=True)

def handler(loop, context):
    exc = context.get("exception")
    out("handler", context.get("message"), type(exc).__name__ if exc is not None else None,
        sorted(context))

def _fds():
    return len(os.listdir("/proc/self/fd"))
'''

EPILOGUE = '''
_before = _fds()
_loop = yieldloop.new_event_loop() if LOOP == "yieldloop" else asyncio.new_event_loop()
asyncio.set_event_loop(_loop)
_loop.set_exception_handler(handler)
_waiters0 = _loop._core_stats["fds"] if LOOP == "yieldloop" else 0
try:
    out("exit", _loop.run_until_complete(main()))
    _loop.run_until_complete(_loop.shutdown_asyncgens())
finally:
    _waiters = _loop._core_stats["fds"] - _waiters0 if LOOP == "yieldloop" else 0
    _loop.close()
    asyncio.set_event_loop(None)
gc.collect()
out("fds", _fds() - _before)
out("waiters", _waiters)
'''


def run_on(loop_name, source, timeout=60, env=None):
    """Run ``source`` on the named loop in a child: (returncode, stdout, stderr)."""
    code = PRELUDE + textwrap.dedent(source) + EPILOGUE
    proc = subprocess.run([sys.executable, "-c", code, loop_name], capture_output=True,
                          text=True, timeout=timeout, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def run_both(source, timeout=60, env=None):
    """Run ``source`` on both loops; each must exit 0. Returns {loop: stdout lines}."""
    outputs = {}
    for name in LOOPS:
        rc, stdout, stderr = run_on(name, source, timeout, env)
        assert rc == 0, f"{name}: exit {rc}\n{stdout}\n{stderr}"
        outputs[name] = stdout.splitlines()
    return outputs


def same_on_both(source, timeout=60, env=None):
    """Run ``source`` on both loops and check they printed the same; the lines."""
    outputs = run_both(source, timeout, env)
    assert outputs["yieldloop"] == outputs["asyncio"], (
        "asyncio:\n  " + "\n  ".join(outputs["asyncio"])
        + "\nyieldloop:\n  " + "\n  ".join(outputs["yieldloop"]))
    return outputs["asyncio"]


def make_certificate(directory):
    """A self-signed certificate for "localhost": {"YL_CERT": path, "YL_KEY": path}."""
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return {"YL_CERT": cert, "YL_KEY": key}


if __name__ == "__main__":      # python tests/loop_child.py LOOP < program.py
    rc, so, se = run_on(sys.argv[1], sys.stdin.read())
    sys.stdout.write(so)
    sys.stderr.write(se)
    sys.exit(rc)
