"""The tracer: what it records, the text log, the SVG/HTML timeline, the CLI."""

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

import yieldloop as yl
from yieldloop import trace
from yieldloop.testing import MockClock


async def _worker(delay):
    await yl.sleep(delay)
    return delay * 1000


def _generator():
    got = yield yl.sleep(0)
    yield
    return got


async def _program():
    fast = yl.spawn(_worker, 0.01, name="fast")
    slow = yl.spawn(_worker, 0.02, name="slow")
    gen = yl.spawn(_generator, name="gen")
    event = yl.Event()
    waiter = yl.spawn(event.wait(), name="waiter")
    total = await fast + await slow
    event.set()
    await waiter
    await gen
    return total


EXPECTED = """\
yieldloop trace: 37 events, 5 tasks
main    spawned
main    resumed
fast    spawned by main
slow    spawned by main
gen     spawned by main
waiter  spawned by main
main    joins fast
fast    resumed
fast    awaits sleep(0.01): a timer in the heap
slow    resumed
slow    awaits sleep(0.02): a timer in the heap
gen     resumed
gen     awaits sleep(0): back of the ready queue
waiter  resumed
waiter  parks in Event.wait()
gen     resumed
gen     yields (bare yield): back of the ready queue
gen     resumed
gen     returned None
fast    woken by its timer
fast    resumed
fast    returned 10.0
main    woken by fast
main    resumed
main    joins slow
slow    woken by its timer
slow    resumed
slow    returned 20.0
main    woken by slow
main    resumed
waiter  woken by main (Event.wait())
main    joins waiter
waiter  resumed
waiter  returned True
main    woken by waiter
main    resumed
main    returned 30.0
"""


def traced(program=_program, *, real_time=False):
    """Run ``program`` under a tracer. On a virtual clock that jumps to the
    next timer when every task waits (unless ``real_time``): the same
    events on every run, where a stalled machine would wake both sleepers
    of _program in one pass."""
    tracer = yl.Tracer()
    clock = None if real_time else MockClock(autojump_threshold=0)
    yl.run(program, trace=tracer, clock=clock)
    return tracer


def test_text_log_of_a_fixed_program_is_exact():
    assert trace.text(traced(), times=False) == EXPECTED


def test_text_log_with_times_has_increasing_timestamps():
    lines = trace.text(traced(real_time=True)).splitlines()[1:]
    times = [float(line.split(" ms")[0]) for line in lines]
    assert times == sorted(times)
    assert times[-1] >= 20.0                # the slow sleep lasted 20 ms


def test_events_are_tuples_of_what_happened():
    tracer = traced()
    kinds = [e[1] for e in tracer.events()]
    assert kinds.count("spawn") == 5 and kinds.count("finish") == 5
    assert {e[1] for e in tracer.events()} == {"spawn", "resume", "yield", "wake", "finish"}
    assert len(tracer) == len(kinds)


def test_wake_ups_name_their_cause():
    async def reader(fd):
        await yl.wait_readable(fd)

    async def program():
        r, w = os.pipe()
        try:
            t = yl.spawn(reader, r, name="reader")
            s = yl.spawn(yl.sleep(10), name="sleeper")
            await yl.sleep(0.01)
            os.write(w, b"x")
            await t
            s.cancel()
            await yl.gather(yl.sleep(0))
        finally:
            os.close(r)
            os.close(w)

    lines = [" ".join(line.split()) for line in trace.text(traced(program), times=False).splitlines()]
    assert any(line.startswith("reader woken: fd") and line.endswith("is ready") for line in lines)
    assert "sleeper cancelled by main" in lines
    assert "main woken by a callback (gather())" in lines


def test_bad_yield_and_yielded_awaitable_are_described():
    async def sub():
        return 1

    def gen():
        yield sub()
        try:
            yield 42
        except TypeError:
            pass

    log = trace.text(traced(gen), times=False)
    assert "the kernel awaits it for the task" in log
    assert "yields 42: not allowed, a TypeError is thrown in" in log


def test_svg_is_well_formed_and_escapes_names():
    async def program():
        await yl.spawn(yl.sleep(0), name="<b>&'\"</b>")

    svg = trace.svg(traced(program))
    root = ET.fromstring(svg)                # raises if not well-formed
    assert root.tag.endswith("svg")
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "<b>&'\"</b>" in texts           # the name itself survives the escaping


def test_html_page_embeds_the_timeline_and_the_log():
    page = trace.html_page(traced(), title="a <title>")
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page and "Event.wait()" in page
    assert "a &lt;title&gt;" in page


def test_run_writes_the_trace_file_its_suffix_names(tmp_path):
    for suffix in ("txt", "svg", "html"):
        path = tmp_path / f"run.{suffix}"
        assert yl.run(_program, trace=str(path)) == 30.0
        assert path.stat().st_size > 100
    with pytest.raises(ValueError, match="use .txt"):
        trace.write(traced(), tmp_path / "run.doc")


def test_png_is_drawn_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "run.png"
    # In a subprocess: importing matplotlib keeps files open for good.
    subprocess.run([sys.executable, "-c",
                    "import sys, yieldloop as yl\n"
                    "async def main(): await yl.sleep(0)\n"
                    "yl.run(main, trace=sys.argv[1])", str(path)], check=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tracer_limit_drops_and_counts_the_excess():
    tracer = yl.Tracer(limit=10)
    yl.run(_program, trace=tracer, clock=MockClock(autojump_threshold=0))
    assert len(tracer) == 10 and tracer.dropped == 27
    assert "(27 more dropped)" in trace.text(tracer)
    with pytest.raises(ValueError):
        yl.Tracer(limit=0)


def test_tracer_holds_no_finished_task_and_no_more_tasks_than_its_limit():
    import weakref

    class Payload:
        pass

    payloads = []

    async def child():
        p = Payload()
        payloads.append(weakref.ref(p))
        return p

    async def main():
        for _ in range(200):
            await yl.spawn(child)
            await yl.sleep(0)

    tracer = yl.Tracer(limit=50)
    yl.run(main, trace=tracer)
    # Only tasks spawned while events were kept are named, and those that
    # finished by name only: no Task (and nothing it holds) stays alive.
    # A result stays alive only in a kept event (at most 50).
    assert 0 < len(tracer.tasks) <= 50
    assert all(isinstance(name, str) for name in tracer.tasks.values())
    assert sum(ref() is not None for ref in payloads) <= 50
    assert "Task-" in trace.text(tracer)


def test_tracer_keeps_recorded_values_alive_until_cleared():
    marker = object()

    async def program():
        return marker

    tracer = traced(program)
    assert any(e[6] is marker for e in tracer.events())
    base = sys.getrefcount(marker)
    tracer.clear()
    assert sys.getrefcount(marker) < base and len(tracer) == 0


def test_cli_traces_every_run_of_a_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import sys, yieldloop as yl
        async def main():
            await yl.sleep(0)
            print("args", sys.argv[1:])
        yl.run(main)
        yl.run(main)
    """))
    html = tmp_path / "out.html"
    out = subprocess.run(
        [sys.executable, "-m", "yieldloop", "trace", "--no-times", "--html", str(html),
         str(script), "a", "b"],
        capture_output=True, text=True, check=True)
    assert out.stdout == "args ['a', 'b']\nargs ['a', 'b']\n"
    assert out.stderr.count("yieldloop trace:") == 2
    assert "main  awaits sleep(0)" in out.stderr
    assert html.exists() and (tmp_path / "out-2.html").exists()


def test_cli_rejects_a_missing_script():
    out = subprocess.run([sys.executable, "-m", "yieldloop", "trace", "nope.py"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "no such script" in out.stderr


def test_cli_says_when_a_trace_option_comes_after_the_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("import yieldloop as yl\nyl.run(yl.sleep, 0)\n")
    out = subprocess.run(
        [sys.executable, "-m", "yieldloop", "trace", str(script), "--html", "t.html"],
        capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0
    assert "--html comes after the script" in out.stderr
    assert f"trace --html FILE {script}" in out.stderr
    assert not (tmp_path / "t.html").exists()


def test_cli_writes_the_trace_of_a_script_that_raises(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent("""
        import yieldloop as yl
        async def main():
            await yl.sleep(0)
            raise ValueError("boom")
        yl.run(main)
    """))
    html, text = tmp_path / "crash.html", tmp_path / "crash.txt"
    out = subprocess.run(
        [sys.executable, "-m", "yieldloop", "trace", "--html", str(html), "--text", str(text),
         str(script)],
        capture_output=True, text=True)
    assert out.returncode == 1
    assert "ValueError: boom" in out.stderr
    assert html.exists() and "main" in html.read_text()
    assert "main  awaits sleep(0)" in text.read_text()


def test_cli_exit_status_follows_the_script(tmp_path):
    for code, expected, message in (("sys.exit(3)", 3, ""), ("sys.exit('bye')", 1, "bye"),
                                    ("sys.exit()", 0, "")):
        script = tmp_path / "exits.py"
        script.write_text(f"import sys, yieldloop as yl\nyl.run(yl.sleep, 0)\n{code}\n")
        out = subprocess.run([sys.executable, "-m", "yieldloop", "trace", str(script)],
                             capture_output=True, text=True)
        assert out.returncode == expected, (code, out.stderr)
        assert message in out.stderr


def test_check_target_refuses_a_file_write_could_not_write(tmp_path):
    for ok in ("run.txt", "run.svg", "run.html", "RUN.HTM", tmp_path / "run.log"):
        trace.check_target(ok)
    for bad in ("run.pdf", "run", "dir.html/run"):
        with pytest.raises(ValueError, match="use .txt, .svg, .html or .png"):
            trace.check_target(bad)


def test_check_target_refuses_a_png_without_matplotlib(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(ImportError, match="needs matplotlib"):
        trace.check_target("run.png")


def test_cli_refuses_a_trace_file_it_cannot_write_before_running_the_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("open('ran', 'w').close()\n")
    out = subprocess.run(
        [sys.executable, "-m", "yieldloop", "trace", "--html", "t.pdf", str(script)],
        capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert "trace file 't.pdf': use .txt, .svg, .html or .png" in out.stderr
    assert not (tmp_path / "ran").exists()


def test_run_refuses_a_trace_file_it_cannot_write_before_running_main():
    ran = []

    async def main():
        ran.append(True)

    with pytest.raises(ValueError, match="use .txt, .svg, .html or .png"):
        yl.run(main, trace="run.pdf")
    assert ran == []
