"""`python -m yieldloop bench`: a real (tiny) run, its saved results
reported again with --from-json, and its refusal of bad arguments.

Timings are never asserted here; benchmarks/ measures speed."""

import json
import subprocess
import sys

import pytest


def bench(*args, cwd):
    return subprocess.run([sys.executable, "-m", "yieldloop", "bench", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_a_run_saves_results_that_from_json_reports_again(tmp_path):
    run = bench("--quick", "--repeat", "1", "--workloads", "switch",
                "--runtimes", "yieldloop,asyncio", "--json", "run.json",
                "--markdown", "run.md", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    saved = json.loads((tmp_path / "run.json").read_text())
    switch = saved["results"]["switch"]["runtimes"]
    assert set(switch) == {"yieldloop", "asyncio"}
    assert switch["asyncio"]["ratio"] == 1.0
    assert switch["yieldloop"]["median"] > 0 and len(switch["yieldloop"]["values"]) == 1
    assert saved["mode"] == "quick" and saved["repeat"] == 1
    assert "context switch" in run.stdout

    again = bench("--from-json", "run.json", "--markdown", "again.md", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.md").read_text() == (tmp_path / "run.md").read_text()
    assert "context switch" in again.stdout


def test_from_json_draws_the_chart(tmp_path):
    pytest.importorskip("matplotlib")
    run = bench("--quick", "--repeat", "1", "--workloads", "switch",
                "--runtimes", "yieldloop,asyncio", "--json", "run.json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    drawn = bench("--from-json", "run.json", "--chart", "chart.png", cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--repeat", "0"], "--repeat must be at least 1"),
    (["--workloads", "switch,nope"], "unknown workload(s): nope"),
    (["--runtimes", "asyncio,nope"], "unknown runtime(s): nope"),
    (["--from-json", "missing.json"], "--from-json missing.json: not a saved run"),
    (["--from-json", "bad.json"], "--from-json bad.json: not a saved run"),
    (["--runtimes", ""], "--runtimes: empty selection"),
    (["--workloads", ""], "--workloads: empty selection"),
    (["--runtimes", "asyncio,,yieldloop"], "an empty name between commas"),
])
def test_bad_arguments_are_refused_with_a_clear_message(tmp_path, args, message):
    (tmp_path / "bad.json").write_text('{"results": {}}')
    run = bench(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr


def test_a_runtime_that_is_not_installed_is_said_to_be_skipped(monkeypatch, capsys, tmp_path):
    from yieldloop.benchmarks import driver, runtimes

    real = runtimes.available
    monkeypatch.setattr(runtimes, "available", lambda name: name != "trio" and real(name))
    monkeypatch.chdir(tmp_path)
    assert driver.main(["--quick", "--repeat", "1", "--workloads", "switch",
                        "--runtimes", "asyncio,trio"]) == 0
    out = capsys.readouterr()
    assert "skipped (not installed): trio" in out.err
    assert "context switch" in out.out


def test_a_selection_with_nothing_to_run_is_refused(monkeypatch, capsys):
    from yieldloop.benchmarks import driver, runtimes

    monkeypatch.setattr(runtimes, "available", lambda name: name != "trio")
    with pytest.raises(SystemExit) as e:
        driver.main(["--quick", "--workloads", "switch", "--runtimes", "trio"])
    assert e.value.code == 2
    assert "nothing to run" in capsys.readouterr().err


def test_the_ratio_column_says_which_way_it_divides(tmp_path):
    run = bench("--quick", "--repeat", "1", "--workloads", "switch",
                "--runtimes", "asyncio", "--markdown", "run.md", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    head = (tmp_path / "run.md").read_text().splitlines()[0]
    assert "median over the runtime's for times" in head
    assert "runtime's median over asyncio's for rates" in head


def test_timer_cancel_runs_on_every_loop_with_call_later_and_reports_ns_per_timer(tmp_path):
    from yieldloop.benchmarks import runtimes, timer_cancel

    loops = [r for r in ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
             if runtimes.available(r)]
    run = bench("--quick", "--repeat", "1", "--workloads", "timer_cancel",
                "--runtimes", ",".join(loops), "--json", "run.json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "run.json").read_text())["results"]["timer_cancel"]
    # trio has no callback timers: it is left out even when installed.
    assert set(result["runtimes"]) == set(loops) - {"trio"}
    assert result["unit"] == "ns/timer" and result["params"] == timer_cancel.PARAMS["quick"]
    assert all(r["median"] > 0 for r in result["runtimes"].values())
    assert "timer schedule + cancel" in run.stdout


@pytest.mark.parametrize("runtime", ["yieldloop", "yieldloop-loop", "asyncio", "floor"])
def test_the_bulk_transfer_workload_moves_every_byte(runtime):
    # Each client checks the count it received; an odd size leaves a
    # partial read at the end of every write.
    from yieldloop.benchmarks import bulk_streams

    elapsed = getattr(bulk_streams, runtime.replace("-", "_"))(
        clients=2, size=64 * 1024 + 3, writes=3)
    assert elapsed > 0


def test_the_bulk_transfer_workload_refuses_a_short_transfer():
    from yieldloop.benchmarks import bulk_streams

    with pytest.raises(RuntimeError, match="received 5 bytes, expected 6"):
        bulk_streams._check(5, 2, 3)
