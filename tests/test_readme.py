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
