"""What the site shows from real runs, made at build time, and its checks.

When the build starts, this extension runs, with the Python that runs
Sphinx (and so the installed yieldloop):

- every example of the package (``python -m yieldloop examples NAME``),
  keeping what it prints in ``_generated/examples/NAME.txt``;
- every program of ``programs/`` under the trace CLI
  (``python -m yieldloop trace --svg --html --text ... PROGRAM``), keeping
  its output, its log and its timeline in ``_generated/traces/``;
- every program of the how-to guides (``howto/code/``), keeping what it
  prints in ``_generated/howto/``;
- ``python -m yieldloop`` and each command's ``--help``, for the
  command-line reference (``_generated/cli/``).

The pages include those files, so what the site shows is what yieldloop
did while the site was built.

yieldloop's docstrings are written for ``help()``: plain text whose
examples are indented blocks. ``plain_to_rest`` turns them into
reStructuredText for autodoc (an indented block becomes a literal block, a
list gets the blank line reST wants before it), leaving the docstrings
themselves as they are. A run that fails, or prints nothing, is a
warning (an error under ``-W``), as is a public name of ``yieldloop`` that
no page documents.
"""

import os
import re
import subprocess
import sys

from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.dirname(HERE)
GENERATED = os.path.join(DOCS, "_generated")
PROGRAMS = os.path.join(DOCS, "programs")
HOWTO_CODE = os.path.join(DOCS, "howto", "code")
TIMEOUT = 120


def _run(cmd, cwd):
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="88")
    env.pop("PYTHONPATH", None)  # the installed package, never the source tree
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=env)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def run_examples():
    from yieldloop import examples

    for name in examples.EXAMPLES:
        out = _run([sys.executable, "-m", "yieldloop", "examples", name], cwd=GENERATED)
        if out.returncode != 0 or not out.stdout.strip():
            logger.warning("example %s failed (exit %s): %s", name, out.returncode,
                           out.stderr.strip()[-500:])
        _write(os.path.join(GENERATED, "examples", name + ".txt"), out.stdout)


def run_traced_programs():
    traces = os.path.join(GENERATED, "traces")
    os.makedirs(traces, exist_ok=True)
    for entry in sorted(os.listdir(PROGRAMS)):
        if not entry.endswith(".py"):
            continue
        name = entry[:-3]
        base = os.path.join(traces, name)
        cmd = [sys.executable, "-m", "yieldloop", "trace", "--no-times", "--text", base + ".log",
               "--svg", base + ".svg", "--html", base + ".html", entry]
        out = _run(cmd, cwd=PROGRAMS)  # the timeline's title names the script as given
        if out.returncode != 0 or not os.path.exists(base + ".svg"):
            logger.warning("traced program %s failed (exit %s): %s", entry, out.returncode,
                           out.stderr.strip()[-500:])
        _write(base + ".out", out.stdout)


def run_howto_programs():
    for entry in sorted(os.listdir(HOWTO_CODE)):
        if not entry.endswith(".py"):
            continue
        out = _run([sys.executable, os.path.join(HOWTO_CODE, entry)], cwd=GENERATED)
        if out.returncode != 0 or not out.stdout.strip():
            logger.warning("how-to program %s failed (exit %s): %s", entry, out.returncode,
                           out.stderr.strip()[-500:])
        _write(os.path.join(GENERATED, "howto", entry[:-3] + ".out"), out.stdout)


CLI = {"yieldloop": ["--help"], "examples": ["examples"], "trace": ["trace", "--help"],
       "bench": ["bench", "--help"]}


def run_cli_help():
    for name, args in CLI.items():
        out = _run([sys.executable, "-m", "yieldloop", *args], cwd=GENERATED)
        if out.returncode != 0 or not out.stdout.strip():
            logger.warning("python -m yieldloop %s failed (exit %s): %s", " ".join(args),
                           out.returncode, out.stderr.strip()[-500:])
        _write(os.path.join(GENERATED, "cli", name + ".txt"), out.stdout)


def check_no_local_paths():
    """What the runs printed must not show where this checkout lives."""
    root = os.path.dirname(DOCS)
    for folder, _, files in os.walk(GENERATED):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                if root in f.read():
                    logger.warning("%s shows the path of the checkout (%s)",
                                   os.path.relpath(path, DOCS), root)


def generate(app):
    os.makedirs(GENERATED, exist_ok=True)
    run_examples()
    run_traced_programs()
    run_howto_programs()
    run_cli_help()
    check_no_local_paths()


def check_public_names(app, env):
    """Every name of yieldloop.__all__ has an entry in the API reference."""
    import yieldloop

    documented = set(env.domains["py"].objects)
    for name in yieldloop.__all__:
        if name == "__version__":
            continue
        if f"yieldloop.{name}" not in documented:
            logger.warning("yieldloop.%s is public but no page documents it", name)


_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)]) ")


def plain_to_rest(lines):
    """The lines of a plain-text docstring as reStructuredText (see above)."""
    out = []
    base = None          # indentation of the text we are in (a list item: its content)
    in_list = False
    block = None         # while in a literal block: the indentation of the text around it
    for line in lines:
        text = line.strip()
        ind = len(line) - len(line.lstrip())
        if block is not None:
            if not text or ind > block:
                out.append(line)
                continue
            block = None
            if out and out[-1].strip():
                out.append("")
        if not text:
            out.append(line)
            continue
        prev = out[-1] if out else ""
        item = _ITEM.match(line)
        if item:
            if prev.strip() and not in_list:
                out.append("")
            in_list = True
            base = len(item.group(0))
            out.append(line)
            continue
        if base is None:
            base = ind
        if ind > base:
            # An indented block under text: an example, shown as code.
            if prev.rstrip().endswith("::"):
                pass
            elif prev.strip() and prev.rstrip().endswith(":"):
                out[-1] = prev.rstrip() + ":"
            else:
                if prev.strip():
                    out.append("")
                out.append(" " * base + "::")
            if out[-1].strip():
                out.append("")
            block = base
            out.append(line)
            continue
        if ind < base:
            if in_list and prev.strip():
                out.append("")
            in_list = False
            base = ind
        out.append(line)
    return out


def convert_docstring(app, what, name, obj, options, lines):
    if name.startswith("yieldloop"):
        lines[:] = plain_to_rest(lines)


def setup(app):
    app.connect("autodoc-process-docstring", convert_docstring)
    app.connect("builder-inited", generate)
    app.connect("env-check-consistency", check_public_names)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
