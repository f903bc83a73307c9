"""scripts/run-pyperformance: its table, its refusal of bad arguments, the
loop its generated sitecustomize.py selects and checks, and a real run.

The benchmarks themselves take most of an hour; the real run here is one
benchmark with one value per loop, and needs pyperf and pyperformance
installed (the heavy test, skipped otherwise). Timings are never asserted.
"""

import importlib.machinery
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import textwrap

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "run-pyperformance")

pytestmark = pytest.mark.skipif(not os.path.exists(SCRIPT),
                                reason="scripts/ is not next to this copy of the tests")


@pytest.fixture
def rp():
    """The script, imported as a module."""
    loader = importlib.machinery.SourceFileLoader("run_pyperformance", SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def script(*args, cwd, timeout=60):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def test_help_names_every_benchmark(tmp_path, rp):
    run = script("--help", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    for name in rp.BENCHMARKS:
        assert name in run.stdout


@pytest.mark.parametrize("args, message", [
    (["--benchmarks", "async_tree,nope"], "--benchmarks: unknown nope"),
    (["--loops", "asyncio,,uvloop"], "an empty name"),
    (["--loops", "trio"], "--loops: unknown trio"),
    (["--rounds", "0"], "--rounds must be at least 1"),
    (["--warmups", "-1"], "--warmups must not be negative"),
    (["--python", "/nonexistent/python"], "--python /nonexistent/python: cannot run it"),
    (["--from-json", "missing.json"], "--from-json missing.json: not a saved run"),
])
def test_bad_arguments_are_refused_with_a_clear_message(tmp_path, args, message):
    run = script(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr


def test_an_interpreter_without_pyperf_is_refused_naming_what_it_lacks(tmp_path, rp):
    fake = tmp_path / "python"
    # An interpreter that has none of the packages: python -S -E -I sees no site-packages.
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -S -I \"$@\"\n")
    fake.chmod(0o755)
    run = script("--python", str(fake), "--loops", "asyncio", cwd=tmp_path)
    assert run.returncode == 2
    assert "lacks pyperformance, pyperf" in run.stderr


def rounds(*medians):
    """Three values around each median: one round."""
    return [[m * 0.99, m, m * 1.01] for m in medians]


def test_ratios_are_asyncios_median_over_the_loops_with_the_per_round_range(rp):
    raw = {"async_tree": {"asyncio": rounds(2.0, 2.2), "yieldloop": rounds(1.0, 1.0),
                          "uvloop": rounds(4.0, 4.4)}}
    s = rp.summarize(raw)["async_tree"]
    assert s["asyncio"]["ratio"] == 1.0
    assert s["yieldloop"]["median"] == 1.0
    assert s["yieldloop"]["round_ratios"] == pytest.approx([2.0, 2.2])
    assert s["yieldloop"]["ratio"] == pytest.approx(2.1)    # their median
    assert s["yieldloop"]["pooled_ratio"] == pytest.approx(statistics.median([
        v for r in rounds(2.0, 2.2) for v in r]) / 1.0)
    assert s["uvloop"]["round_ratios"] == pytest.approx([0.5, 0.5])
    assert s["yieldloop"]["rounds"] == rounds(1.0, 1.0)


def test_without_asyncio_there_are_no_ratios(rp):
    s = rp.summarize({"asyncio_tcp": {"yieldloop": rounds(1.0)}})["asyncio_tcp"]
    assert s["yieldloop"]["ratio"] is None and s["yieldloop"]["round_ratios"] is None


def saved_report(rp):
    return {
        "python": "3.13.0", "machine": {"cpu": "CPU", "cores": 2, "os": "Linux",
                                        "loadavg": [3.0, 2.0, 1.0]},
        "versions": {"pyperformance": "1.14.0", "pyperf": "2.11.0", "uvloop": "0.23.0",
                     "yieldloop": "0.1.0", "websockets": "11.0.3"},
        "rounds": 2, "processes": 1, "values": 3, "warmups": 1,
        "conditions": {"first_run": "2026-01-02 03:04:05.6", "last_run": "2026-01-02 04:05:06.7",
                       "load_avg_1min": {"median": 3.0, "min": 1.5, "max": 4.25}},
        "summary": rp.summarize({
            "async_tree": {"asyncio": rounds(0.5, 0.5), "yieldloop": rounds(0.25, 0.25)},
            "asyncio_tcp": {"asyncio": rounds(1.0, 1.0), "uvloop": rounds(2.0, 2.0)},
        }),
    }


def test_a_benchmark_that_fails_on_a_loop_shows_its_exception_line_there(rp):
    output = ("Traceback (most recent call last):\n  File \"x.py\", line 1\n"
              "TypeError: factory() got an unexpected keyword argument 'eager_start'\n"
              "Traceback (most recent call last):\n"
              "RuntimeError: /venv/bin/python failed with exit code 1\n")
    reason = rp.failure_reason(output)
    assert reason == "TypeError: factory() got an unexpected keyword argument 'eager_start'"
    report = saved_report(rp)
    report["summary"] = rp.summarize(
        {"async_tree_eager": {"asyncio": rounds(1.0), "uvloop": []}},
        {"async_tree_eager": {"uvloop": reason}})
    assert report["summary"]["async_tree_eager"]["uvloop"] == {"error": reason}
    row = rp.markdown(report).splitlines()[-1]
    assert row.split(" | ")[2] == f"fails: `{reason}` |"


def test_the_table_has_a_row_per_benchmark_and_a_column_per_loop(rp):
    text = rp.markdown(saved_report(rp))
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows[0] == "| benchmark | asyncio | uvloop | yieldloop.Loop |"
    assert rows[2].startswith("| async_tree | 500 ms ±")
    assert "**2.00x** (2.00-2.00)" in rows[2] and rows[2].split(" | ")[2] == ""
    assert "**0.50x** (0.50-0.50); 2 s ±" in rows[3]
    assert "pyperformance 1.14.0" in text and "2 interleaved round(s)" in text
    assert ("measured from 2026-01-02 03:04 to 2026-01-02 04:05, the 1-minute load average "
            "during the runs 3.0 (median; 1.5 to 4.2)") in text


def test_from_json_prints_and_writes_the_table_of_a_saved_run(tmp_path, rp):
    report = saved_report(rp)
    (tmp_path / "run.json").write_text(json.dumps(report))
    run = script("--from-json", "run.json", "--out", "again", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == rp.markdown(report)
    assert (tmp_path / "again.md").read_text() == run.stdout
    assert json.loads((tmp_path / "again.json").read_text()) == report


def test_from_json_computes_the_figures_again_from_the_saved_values(tmp_path, rp):
    report = saved_report(rp)
    stale = json.loads(json.dumps(report))
    for by_loop in stale["summary"].values():
        for row in by_loop.values():
            row["ratio"] = 99.0       # as an older version might have computed it
            del row["pooled_ratio"]
    (tmp_path / "run.json").write_text(json.dumps(stale))
    run = script("--from-json", "run.json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == rp.markdown(report) and "99.00x" not in run.stdout


def test_pyperf_passes_on_the_variables_an_asan_build_needs(rp):
    assert rp.inherit_environ({"PATH": "/bin"}) == []
    assert rp.inherit_environ({"LD_PRELOAD": "libasan.so", "PYTHONMALLOC": "malloc",
                               "HOME": "/root"}) == [
        "--inherit-environ", "LD_PRELOAD,PYTHONMALLOC"]


def test_loops_take_turns_in_a_rotating_order(rp):
    assert [rp.rotation(rp.LOOPS, r) for r in range(3)] == [
        ["asyncio", "uvloop", "yieldloop"], ["uvloop", "yieldloop", "asyncio"],
        ["yieldloop", "asyncio", "uvloop"]]


def test_read_pyperf_takes_the_values_of_every_worker_and_not_the_calibration(tmp_path, rp):
    (tmp_path / "b.json").write_text(json.dumps({
        "version": "1.0", "metadata": {"event_loop": "yieldloop.loop.Loop"},
        "benchmarks": [{"metadata": {"name": "x"}, "runs": [
            {"metadata": {"calibrate_loops": 4}, "warmups": [[1, 0.5]]},
            {"metadata": {"load_avg_1min": 2.5, "date": "2026-01-02 03:04:05"},
             "warmups": [[4, 0.9]], "values": [0.1, 0.2]},
            {"metadata": {"load_avg_1min": 3.5, "date": "2026-01-02 03:04:09"}, "values": [0.3]},
        ]}]}))
    values, metadata = rp.read_pyperf(str(tmp_path / "b.json"))
    assert values == [0.1, 0.2, 0.3]
    assert metadata["event_loop"] == "yieldloop.loop.Loop" and metadata["name"] == "x"
    assert metadata["run_loads"] == [2.5, 3.5]
    assert metadata["run_dates"] == ["2026-01-02 03:04:05", "2026-01-02 03:04:09"]


# The generated sitecustomize.py, in a child interpreter that uses pyperf's
# Runner as the benchmarks do.
BENCH = textwrap.dedent("""
    import asyncio
    import pyperf

    async def work():
        await asyncio.sleep(0)

    runner = pyperf.Runner()
    runner.bench_async_func("work", work, **KWARGS)
""")


def run_bench(rp, tmp_path, loop, kwargs="{}"):
    pytest.importorskip("pyperf")
    site = rp.write_sitecustomize(str(tmp_path / f"site-{loop}"), loop)
    (tmp_path / "bench.py").write_text(BENCH.replace("KWARGS", kwargs))
    out = tmp_path / f"{loop}.json"
    # pyperf's own options for the smallest run: one worker, one value.
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "bench.py"), "--processes", "1", "--values", "1",
         "--warmups", "0", "--loops", "1", "--output", str(out),
         *rp.inherit_environ(os.environ)],
        env=rp.child_env(site), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return proc, out


@pytest.mark.parametrize("loop", ["asyncio", "yieldloop", "uvloop"])
def test_the_workers_run_on_the_loop_of_the_sitecustomize(rp, tmp_path, loop):
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    proc, out = run_bench(rp, tmp_path, loop)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    values, metadata = rp.read_pyperf(str(out))
    module, qualname = rp.LOOP_CLASSES[loop]
    cls = getattr(importlib.import_module(module), qualname)
    assert metadata["event_loop"] == f"{cls.__module__}.{cls.__qualname__}"
    assert len(values) == 1


def test_a_worker_on_another_loop_than_intended_fails_saying_which(rp, tmp_path):
    # A benchmark that brings its own loop, asyncio's.
    proc, out = run_bench(rp, tmp_path, "yieldloop", "{'loop_factory': asyncio.SelectorEventLoop}")
    assert proc.returncode != 0
    assert ("the loop is asyncio.unix_events._UnixSelectorEventLoop, "
            "not yieldloop.loop.Loop as intended") in proc.stdout + proc.stderr
    assert not out.exists()


@pytest.mark.heavy
def test_a_real_run_of_one_benchmark_writes_the_table_and_every_value(rp, tmp_path):
    for name in ("pyperf", "pyperformance"):
        pytest.importorskip(name)
    loops = ["asyncio", "yieldloop"]
    if importlib.util.find_spec("uvloop"):
        loops.append("uvloop")
    run = script("--benchmarks", "async_tree", "--loops", ",".join(loops), "--rounds", "1",
                 "--processes", "1", "--values", "1", "--warmups", "0", "--out", "pp",
                 cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "pp.json").read_text())
    rows = report["summary"]["async_tree"]
    assert set(rows) == set(loops)
    assert all(len(rows[loop]["rounds"]) == 1 and rows[loop]["median"] > 0 for loop in loops)
    assert set(report["classes"]) == set(loops)
    assert (tmp_path / "pp.md").read_text() == run.stdout


def test_a_worker_that_never_made_a_checked_loop_fails(rp, tmp_path):
    pytest.importorskip("pyperf")
    site = rp.write_sitecustomize(str(tmp_path / "site"), "yieldloop")
    # A benchmark that measures without bench_async_func: its loop, if any,
    # was never checked.
    (tmp_path / "bench.py").write_text(
        "import pyperf\npyperf.Runner().bench_func('sync', lambda: None)\n")
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "bench.py"), "--processes", "1", "--values", "1",
         "--warmups", "0", "--loops", "1", "--output", str(tmp_path / "out.json"),
         *rp.inherit_environ(os.environ)],
        env=rp.child_env(site), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    assert "ended without running its benchmark on a checked loop" in proc.stdout + proc.stderr


def test_a_run_takes_the_pyperf_files_an_earlier_run_left_in_its_workdir(rp, tmp_path):
    # Each loop's file of round 1 is there already: nothing is measured (the
    # interpreter could not measure anything), and the report reads them.
    work = tmp_path / "work"
    work.mkdir()
    loops = {"asyncio": "asyncio.unix_events._UnixSelectorEventLoop",
             "yieldloop": "yieldloop.loop.Loop"}
    for loop, cls in loops.items():
        (work / f"async_tree-{loop}-round1.json").write_text(json.dumps({
            "metadata": {"event_loop": cls},
            "benchmarks": [{"runs": [{"values": [1.0 if loop == "asyncio" else 0.5]}]}]}))
    args = type("Args", (), {"loops": list(loops), "benchmarks": ["async_tree"], "rounds": 1})
    info = {"classes": loops, "benchmarks_dir": "/nonexistent"}
    with open(tmp_path / "log", "w") as log:
        raw, failures, conditions = rp.measure(args, info, str(work), log)
    assert raw == {"async_tree": {"asyncio": [[1.0]], "yieldloop": [[0.5]]}} and failures == {}
    assert conditions == {"first_run": None, "last_run": None, "load_avg_1min": None}
    assert rp.summarize(raw)["async_tree"]["yieldloop"]["ratio"] == 2.0


def test_a_file_of_another_loop_in_the_workdir_stops_the_run(rp, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "async_tree-yieldloop-round1.json").write_text(json.dumps({
        "metadata": {"event_loop": "asyncio.unix_events._UnixSelectorEventLoop"},
        "benchmarks": [{"runs": [{"values": [1.0]}]}]}))
    args = type("Args", (), {"loops": ["yieldloop"], "benchmarks": ["async_tree"], "rounds": 1})
    info = {"classes": {"yieldloop": "yieldloop.loop.Loop"}, "benchmarks_dir": "/nonexistent"}
    with open(tmp_path / "log", "w") as log, pytest.raises(rp.HarnessError, match="ran on"):
        rp.measure(args, info, str(work), log)
