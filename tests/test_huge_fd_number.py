"""Waiting on an fd number far beyond any open fd.

A bug these tests found (fixed; they guard against its return): Poller.watch grows
its fd-indexed tables to cover ``fd`` before the OS has a say, and
Poller._grow doubles a C ``int``. For an fd above 2**30 the doubling
overflows (UBSan: signed integer overflow in Poller._grow) and, without a
sanitizer, loops forever: ``wait_readable(2**31 - 1)`` never returns. For
fd 10**8 the tables take and zero-fill about 3 GB before epoll_ctl refuses
the fd with EBADF. The OS should be asked first (or the number checked
against the fd limit), and the table size computed without overflow.

Each case runs in a child process, so a hang or a crash fails one test.
"""

import subprocess
import sys
import textwrap


def run_child(body, timeout=15):
    code = textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"child exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    )
    return proc.stdout.splitlines()


def test_wait_readable_on_fd_above_2_to_the_30_raises_oserror():
    out = run_child("""
        import yieldloop as yl

        async def main():
            try:
                await yl.wait_readable(2**31 - 1)
            except OSError as e:
                return "OSError"

        print(yl.run(main))
    """)
    assert out == ["OSError"]


def test_wait_readable_on_a_huge_fd_number_does_not_allocate_its_tables():
    out = run_child("""
        import resource
        import yieldloop as yl

        async def main():
            try:
                await yl.wait_readable(10**8)
            except OSError:
                return "OSError"

        def peak_mb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

        before = peak_mb()
        print(yl.run(main))
        print(peak_mb() - before)
    """)
    assert out[0] == "OSError"
    # Growth of the peak, not the peak itself: under a sanitizer the
    # interpreter alone already holds hundreds of MB (quarantine, shadow).
    assert int(out[1]) < 200, f"peak RSS grew by {out[1]} MB for one refused wait"
