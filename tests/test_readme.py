"""The README's example runs and prints what the README says it prints."""

import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.skipif(not README.exists(), reason="needs the source tree's README.md")
def test_four_styles_example_prints_what_it_promises():
    text = README.read_text()
    code = re.search(r"## Four coroutine styles, one kernel\n\n```python\n(.*?)```", text, re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "README.md", "exec"), {"__name__": "readme"})
    assert out.getvalue().split("\n") == ["tick 3", "tick 2", "tick 1", "<HTML>/INDEX</HTML>", ""]


@pytest.mark.skipif(not README.exists(), reason="needs the source tree's README.md")
def test_readme_counts_the_examples_the_package_ships():
    from yieldloop import examples

    said = re.search(r"The package ships (\d+) short examples", README.read_text())
    assert said and int(said.group(1)) == len(examples.EXAMPLES)


ROOT = README.parent
DOCS = ROOT / "docs"


def _pages():
    return [README, *sorted(DOCS.rglob("*.md"))] if DOCS.is_dir() else [README]


@pytest.mark.skipif(not DOCS.is_dir(), reason="needs the source tree's docs/")
def test_readme_links_lead_to_pages_that_exist():
    text = README.read_text()
    links = [t for t in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in t]
    assert any(link.startswith("docs/") for link in links), "README no longer links to the site"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


@pytest.mark.skipif(not (ROOT / "CHANGELOG.md").exists(),
                    reason="needs the source tree's CHANGELOG.md")
def test_readme_installs_from_a_clone_while_nothing_is_released():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = re.search(r"^## \d+\.\d+\.\d+\b(?! — unreleased)", changelog, re.M)
    if released:
        pytest.skip("a version is released: pip install yieldloop works")
    commands = "\n".join(re.findall(r"```sh\n(.*?)```", README.read_text(), re.S))
    assert "python -m pip install ." in commands
    assert "pip install yieldloop" not in commands


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_trace_commands_in_the_docs_put_the_options_before_the_script(page):
    # Options after SCRIPT belong to the script: such a command writes no trace.
    for command in re.findall(r"yieldloop trace ([^\n`]*)", page.read_text()):
        words = command.split()
        script = next((i for i, w in enumerate(words) if w.endswith(".py")), None)
        if script is None:
            continue
        after = [w for w in words[script + 1:] if w.split("=")[0] in
                 ("--html", "--svg", "--png", "--text", "--no-times")]
        assert not after, f"{page.name}: `yieldloop trace {command}` puts {after} after the script"


@pytest.mark.skipif(not README.exists(), reason="needs the source tree's README.md")
def test_beyond_streams_example_prints_what_it_promises(tmp_path):
    # In a child: it sends itself a signal and runs under a mock clock.
    import subprocess
    import sys

    code = re.search(r"## TLS, UDP, child processes.*?```python\n(.*?)```", README.read_text(), re.S)
    script = tmp_path / "example.py"
    script.write_text(code.group(1))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "0 b'hi\\n'"
    assert lines[1].startswith("(b'ping', ('127.0.0.1', ")
    assert lines[2:] == ["SIGUSR1", "3600.0"]
