"""The shipped examples: each runs and prints what it promises, in-process and via the CLI.

Expected outputs are exact, except where an example prints a measured time
or text that comes from the interpreter. In an expected line, ``{t}`` stands
for a time printed with one decimal, and ``{any}`` for any text. Each
example's times are then checked against what holds on any machine,
however loaded: a sleep never ends early (a lower bound per time), and
times an example prints in order of events never go back. How long they
take is not checked: a loaded machine may stretch every one.
"""

import importlib
import io
import os
import pkgutil
import re
import subprocess
import sys
import textwrap

import pytest

from yieldloop import examples

EXPECTED = {
    "countdown": """\
        1. Calling countdown(3) runs none of its body:
          got a generator object, and nothing else happened
        2. A for loop calls next() on it; each value is made when asked for:
          countdown(3) starts
          making 3
          the loop got 3
          making 2
          the loop got 2
          making 1
          the loop got 1
          countdown ends
        3. By hand: next() runs to the next yield; at the end, StopIteration:
          countdown(1) starts
          making 1
          next(gen) -> 1
          countdown ends
          next(gen) -> StopIteration
        4. Lazy, so a countdown from a billion costs only the values taken:
          first three: [1000000000, 999999999, 999999998]
        5. yieldloop.run() drives a generator the same way, step by step:
          T-3
          T-2
          T-1
          run() returned 'liftoff', the generator's return value
        """,
    "send_chatbot": """\
        1. An echo: prime it with next(), then send() values in:
          next(e)          -> 'echo is ready'
          e.send('hello') -> 'echo #1: hello'
          e.send('world') -> 'echo #2: world'
        2. A chatbot: each send() answers the question the bot last yielded:
          bot: Hello! What is your name?
          you: Ada
          bot: Nice to meet you, Ada. How are you today?
          you: curious
          bot: Glad you are curious, Ada. Goodbye!
        """,
    "round_robin": """\
        Three generator tasks, each yielding after every step:
          spawned A, B and C; the ready queue is now A B C
          A step 1
          B step 1
          C step 1
          A step 2
          B step 2
          C step 2
          A step 3
          B done
          C step 3
          A done
          C done
          joined: A did 3 steps
          joined: B did 2 steps
          joined: C did 3 steps
        """,
    "yield_from": """\
        1. send() goes through `yield from` to the sub-generator:
          temperatures: average 21.0
        2. On the kernel, a bare yield inside `yield from` lets other tasks run:
          a.txt: alpha
          spinner |
          a.txt: beta
          spinner /
          a.txt: 2 lines
          b.txt: gamma
          spinner -
          b.txt: delta
          spinner \\
          b.txt: epsilon
          b.txt: 3 lines
          copied 5 lines
        """,
    "generator_coroutine": """\
        1. Three fetches, one after another, with yield from:
          /: 2 words
          /about: 4 words
          /news: 5 words
          11 words in {t} s (3 fetches of 0.1 s, one after another)
        2. async def code may await the decorated generator:
          /news: 5 words
          awaiting an undecorated generator: TypeError: {any}
          await crawl(['/news']) returned {'/news': 5}
        """,
    "async_def": """\
        1. Three fetches, one after another, with await:
          /: 2 words
          /about: 4 words
          /news: 5 words
          11 words in {t} s (3 fetches of 0.1 s, one after another)
        2. Driving a coroutine by hand shows what the kernel receives:
          coro is a coroutine
          coro.send(None) -> <yieldloop trap sleep(0.1)>
          (the kernel would put it in the timer heap and resume coro when it is due)
        """,
    "gather_tasks": """\
        Three tasks sleep 0.3 s, 0.1 s and 0.2 s at the same time:
          slow   starts, sleeps 0.3 s
          fast   starts, sleeps 0.1 s
          medium starts, sleeps 0.2 s
          fast   done at {t} s
          medium done at {t} s
          slow   done at {t} s
          results, in the order asked for: ['slow!', 'fast!', 'medium!']
          took {t} s (the longest, 0.3 s, not the sum 0.6 s)
        """,
    "async_for": """\
        1. async for, to the end:
          got tick 1
          got tick 2
          got tick 3
          ticks: cleaned up
        2. An async comprehension:
          ticks: cleaned up
          squares: [1, 4, 9, 16]
        3. Stopping early, with aclose() done by contextlib.aclosing:
          got tick 1
          got tick 2
          ticks: cleaned up
          stopped at 2 of 100
        """,
    "tornado_handler": """\
        Three handlers run at once; each yields coroutines and gets results back:
          request r1: user 1
          request r2: user 2
          request r3: user 9
          request r3: no user 9
          request r1: ada ordered engine, notes
          request r2: grace ordered compiler
          response r1: 200 OK, 2 order(s) for ada
          response r2: 200 OK, 1 order(s) for grace
          response r3: 404 Not Found
        """,
    "mixed_styles": """\
        A restaurant in five styles, on one kernel:
          dishwasher: plate 1 clean
          order: table 1 wants pasta
          dishwasher: plate 2 clean
          order: table 2 wants soup
          dishwasher: plate 3 clean
          order: table 3 wants salad
          waiter: hot salad served to table 3
          waiter: hot soup served to table 2
          waiter: hot pasta served to table 1
          served, by table: [(1, 'hot pasta'), (2, 'hot soup'), (3, 'hot salad')]
        """,
    "under_await": """\
        run() returned ('A', 'B'); the kernel's trace of it:
        yieldloop trace: 12 events, 2 tasks
        main     spawned
        main     resumed
        fetch-a  spawned by main
        main     awaits sleep(0.02): a timer in the heap
        fetch-a  resumed
        fetch-a  awaits sleep(0.01): a timer in the heap
        fetch-a  woken by its timer
        fetch-a  resumed
        fetch-a  returned 'A'
        main     woken by its timer
        main     resumed
        main     returned ('A', 'B')
        """,
    "pipeline": """\
        A producer, a Queue(maxsize=2) and three workers; 6 jobs:
          producer: put job 1
          producer: put job 2
          producer: queue full, waits to put job 3
          legacy: took job 1
          native: took job 2
          producer: put job 3
          producer: put job 4
          producer: queue full, waits to put job 5
          tornado: took job 3
          legacy: took job 4
          producer: put job 5
          producer: put job 6
          tornado: took job 5
          native: took job 6
          queue.join() returned: 6 jobs done, queue empty: True
          legacy stopped, tornado stopped, native stopped
          who did what: 1:legacy, 2:native, 3:tornado, 4:legacy, 5:tornado, 6:native
        """,
    "echo_server": """\
        An echo server and three clients at once:
          server listening on 127.0.0.1 (a free port)
          echoed: ann: hello
          echoed: ann: world
          echoed: bob: ping
          echoed: bob: pong
          echoed: cy: spam
          echoed: cy: eggs
          server closed; fds still watched: 0
        """,
    "echo_generators": """\
        An echo server and two clients, all plain generators:
          echoed: one, two
          echoed: three
        """,
    "chat_server": """\
        A chat server and three members:
          ann heard:
            * ann joined
            * bob joined
            * cy joined
            ann: hi all
            bob: hello ann
            cy: hey
          bob heard:
            * bob joined
            * cy joined
            ann: hi all
            bob: hello ann
            cy: hey
            * ann left
          cy heard:
            * cy joined
            ann: hi all
            bob: hello ann
            cy: hey
            * ann left
            * bob left
        """,
    "udp_echo": """\
        A UDP echo server and a client, one datagram at a time:
          server and client bound to 127.0.0.1 (free ports)
          sent 'ping', the server answered 'PING'
          sent 'datagram', the server answered 'DATAGRAM'
          sent 'bye', the server answered 'BYE'
          server answered 3 datagrams; fds still watched: 0
        """,
}

# The least each {t} can be (in order of appearance): the sleeps before it.
LOWEST = {
    "generator_coroutine": [0.3],
    "async_def": [0.3],
    "gather_tasks": [0.1, 0.2, 0.3, 0.3],
}
# Examples whose times are printed as the events happen: never decreasing.
# (gather_tasks' tasks finish fast, medium, slow; the total comes last.)
ORDERED = {"gather_tasks"}


def check_output(name, out):
    """Assert that ``out`` is example ``name``'s expected output."""
    expected = textwrap.dedent(EXPECTED[name]).splitlines()
    lines = out.splitlines()
    assert len(lines) == len(expected), out
    times = []
    for line, want in zip(lines, expected):
        pattern = re.escape(want).replace(r"\{t\}", r"(\d+\.\d)").replace(r"\{any\}", r".+")
        m = re.fullmatch(pattern, line)
        assert m, f"{name}: expected {want!r}, got {line!r}"
        times += [float(g) for g in m.groups()]
    lowest = LOWEST.get(name, [])
    assert len(times) == len(lowest)
    for value, low in zip(times, lowest):
        assert value >= low, f"{name}: time {value} s, below the {low} s slept"
    if name in ORDERED:
        assert times == sorted(times), f"{name}: times out of order: {times}"


class NoStdin(io.TextIOBase):
    """A stdin that fails the test if an example reads from it."""

    def read(self, *args):
        raise AssertionError("an example read stdin")

    readline = read


def test_every_example_has_an_expected_output():
    assert set(EXPECTED) == set(examples.EXAMPLES)


def test_every_example_module_is_registered():
    modules = {m.name for m in pkgutil.iter_modules(examples.__path__)}
    assert modules == set(examples.EXAMPLES)


@pytest.mark.parametrize("name", examples.EXAMPLES)
def test_example_prints_what_it_shows(name, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", NoStdin())
    module = importlib.import_module(f"yieldloop.examples.{name}")
    module.main()
    out, err = capsys.readouterr()
    assert err == ""
    check_output(name, out)


def test_example_docstring_first_line_is_its_summary():
    for name in examples.EXAMPLES:
        module = examples.load(name)
        first = module.__doc__.splitlines()[0]
        assert first == examples.summary(name)
        assert 20 < len(first) <= 80, name
        assert callable(module.main) and module.main.__doc__, name


def cli(*args):
    """Run ``python -m yieldloop ARGS`` with no stdin; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "yieldloop", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", examples.EXAMPLES)
def test_cli_runs_example(name):
    proc = cli("examples", name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    check_output(name, proc.stdout)


def test_cli_lists_every_example_in_order_with_its_summary():
    proc = cli("examples")
    assert proc.returncode == 0
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert "python -m yieldloop examples NAME" in lines[0]
    rows = [line.split(None, 1) for line in lines[1:] if line.strip()]
    assert rows == [[name, examples.summary(name)] for name in examples.EXAMPLES]


def test_cli_unknown_example_names_the_valid_ones_and_exits_2():
    proc = cli("examples", "no_such_example")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "unknown example 'no_such_example'" in proc.stderr
    for name in examples.EXAMPLES:
        assert name in proc.stderr


@pytest.mark.parametrize("args", [("examples",), ("examples", "round_robin")])
def test_cli_stops_quietly_when_stdout_is_closed(args):
    r, w = os.pipe()
    os.close(r)  # nobody will read: the first write gets EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "yieldloop", *args],
            stdin=subprocess.DEVNULL,
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(w)
    assert proc.returncode == 1
    assert proc.stderr == ""


def test_cli_rejects_extra_arguments():
    assert examples.main(["countdown", "extra"]) == 2


def test_cli_help_lists_the_examples_command():
    proc = cli("--help")
    assert proc.returncode == 0
    assert re.search(r"^  examples +\S", proc.stdout, re.MULTILINE)
