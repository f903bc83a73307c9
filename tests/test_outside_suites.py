"""scripts/run-outside-suites: one crash or hang costs one test, and the
report lists exactly the tests that fail on yieldloop.Loop only.

The outside suites themselves are not run here (they take most of an hour
and need their sdists); a tiny suite made by the test stands in for them.
"""

import importlib.machinery
import importlib.util
import json
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "run-outside-suites")

pytestmark = pytest.mark.skipif(not os.path.exists(SCRIPT),
                                reason="scripts/ is not next to this copy of the tests")


@pytest.fixture
def ros():
    """The script, imported as a module."""
    loader = importlib.machinery.SourceFileLoader("run_outside_suites", SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def make_suite(tmp_path, body):
    """A directory holding tests/test_it.py with `body`, as fetch() would."""
    root = tmp_path / "suite"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_it.py").write_text(body)
    (root / "pytest.ini").write_text("[pytest]\n")
    return str(root)


def run(ros, tmp_path, monkeypatch, body, timeout=30):
    root = make_suite(tmp_path, body)
    monkeypatch.setattr(ros, "fetch", lambda suite, workdir: root)
    work = tmp_path / "work"
    work.mkdir()
    # "aiohttp" on asyncio's loop: the plugin changes nothing in the tests.
    return ros.run_suite("aiohttp", "asyncio", str(work), timeout, str(work / "log"))


def test_a_test_that_kills_the_interpreter_costs_only_that_test(ros, tmp_path, monkeypatch):
    r = run(ros, tmp_path, monkeypatch, (
        "import os\n"
        "def test_a(): pass\n"
        "def test_b_dies(): os._exit(3)\n"
        "def test_c(): pass\n"))
    assert r["counts"]["passed"] == 2 and r["counts"]["crashed"] == 1
    assert r["problems"]["crashed"] == {
        "tests/test_it.py::test_b_dies": "the interpreter died (exit 3)"}
    assert r["pytest_runs"] == 2 and r["session_problem"] is None


def test_a_test_that_hangs_is_killed_and_the_run_goes_on(ros, tmp_path, monkeypatch):
    monkeypatch.setattr(ros, "GRACE", 1)
    r = run(ros, tmp_path, monkeypatch, (
        "import signal, time\n"
        "def test_a_hangs():\n"
        "    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # past pytest-timeout\n"
        "    time.sleep(600)\n"
        "def test_b(): pass\n"), timeout=1)
    assert r["counts"]["passed"] == 1 and r["counts"]["crashed"] == 1
    assert "killed" in r["problems"]["crashed"]["tests/test_it.py::test_a_hangs"]


def test_a_failure_in_call_and_teardown_counts_once_as_failed(ros, tmp_path, monkeypatch):
    r = run(ros, tmp_path, monkeypatch, (
        "import pytest\n"
        "@pytest.fixture\n"
        "def broken_teardown():\n"
        "    yield\n"
        "    raise RuntimeError('teardown')\n"
        "def test_x(broken_teardown): raise KeyError('call')\n"
        "@pytest.mark.skip(reason='why not')\n"
        "def test_skipped(): pass\n"))
    assert r["counts"] | {"run": 2, "failed": 1, "error": 0, "skipped": 1} == r["counts"]
    assert r["problems"]["failed"] == {"tests/test_it.py::test_x": "KeyError: 'call'"}
    assert r["skipped"] == {"why not": ["tests/test_it.py::test_skipped"]}


def saved(ros, tmp_path, loop, outcomes, commit=None):
    """A run's JSON as the script saves it, from {test: (outcome, message)}."""
    lines = [{"id": t, "when": "call", "outcome": o, "message": m}
             for t, (o, m) in outcomes.items()]
    r = ros.summarize("anyio", loop, lines, {}, 1.0, 1, ["python", "-m", "pytest"], 20)
    if commit is not None:
        r["yieldloop_commit"] = commit
    with open(tmp_path / f"outside-anyio-{loop}.json", "w") as f:
        json.dump(r, f)


def test_report_lists_the_tests_failing_on_yieldloop_only(ros, tmp_path):
    racy = "tests/test_from_thread.py::TestRunAsyncFromThread::test_run_sync_from_thread_pooling"
    saved(ros, tmp_path, "asyncio", {
        "tests/t.py::test_ok": ("passed", ""),
        racy: ("passed", ""),
        "tests/t.py::test_both": ("failed", "OSError: no IPv6"),
    })
    saved(ros, tmp_path, "yieldloop", {
        "tests/t.py::test_ok": ("passed", ""),
        racy: ("failed", "assert 2 == (2 + 1)"),
        "tests/t.py::test_both": ("failed", "OSError: no IPv6"),
    })
    text = ros.report(str(tmp_path))
    only = text.split("## Failing on yieldloop.Loop, passing on asyncio's loop")[1].split(
        "## Failing on yieldloop.Loop and on asyncio's loop alike")[0]
    assert "### anyio 4.14.2: 1" in only
    assert f"`{racy}` (failed)" in only
    assert "a race in the test's thread count" in only     # its known cause names the group
    assert "test_both" not in only
    assert "| anyio 4.14.2 | yieldloop.Loop | 3 | 1 | 2 | 0 | 0 | 0 |" in text


def test_report_header_names_the_commit_of_the_yieldloop_runs(ros, tmp_path):
    saved(ros, tmp_path, "asyncio", {"tests/t.py::test_ok": ("passed", "")},
          commit="1111111")
    saved(ros, tmp_path, "yieldloop", {"tests/t.py::test_ok": ("passed", "")},
          commit="2222222")
    text = ros.report(str(tmp_path))
    assert "(commit 2222222), uvloop" in text
    assert "(commit 1111111)" not in text
    # The other loops' runs, made with another commit installed, are said to be older.
    assert "with yieldloop at commit 1111111 installed" in text
