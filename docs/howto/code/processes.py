"""Child processes: run one to completion, or talk to one through its pipes."""

import subprocess
import sys

import yieldloop as yl

CHILD = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)"


async def main():
    # To completion: feed stdin, capture the output, check the exit status.
    result = await yl.run_process([sys.executable, "-c", CHILD], stdin=b"one\ntwo\n",
                                  capture_stdout=True)
    print(result.returncode, result.stdout)

    # A conversation: proc.stdin and proc.stdout are yieldloop Streams.
    async with await yl.open_process([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE) as proc:
        for word in (b"ping", b"pong"):
            await proc.stdin.send_all(word + b"\n")
            print("child says", (await proc.stdout.readline()).strip())
        await proc.stdin.send_eof()
    print("exit status", proc.returncode)

    # A failure raises, with what was captured.
    try:
        await yl.run_process([sys.executable, "-c", "import sys; sys.exit(3)"])
    except subprocess.CalledProcessError as e:
        print("failed:", e.returncode)

    # A timeout (any cancellation) kills the child and reaps it.
    try:
        async with yl.timeout(0.5):
            await yl.run_process([sys.executable, "-c", "import time; time.sleep(60)"])
    except TimeoutError:
        print("timed out; the child was killed")


yl.run(main)
