"""Examples that retell how Python's coroutines evolved, each on yieldloop's kernel.

    python -m yieldloop examples           # list them, one line each
    python -m yieldloop examples NAME      # run one

Each example is a module of this package with a docstring whose first line
describes it and a ``main()`` that runs it and prints what it shows.
``EXAMPLES`` gives their order, which follows the history: generators, then
``send()``, generator schedulers, ``yield from``, ``@coroutine``,
``async def``, running tasks concurrently, async generators, the Tornado
style, all of them mixed in one program, a traced run that shows what
happens under await, a producer/consumer pipeline
built on the kernel's Queue, and networking: an echo server (in async def
and in plain generators), a chat server and a UDP echo.
"""

import importlib
import os
import sys

EXAMPLES = (
    "countdown",
    "send_chatbot",
    "round_robin",
    "yield_from",
    "generator_coroutine",
    "async_def",
    "gather_tasks",
    "async_for",
    "tornado_handler",
    "mixed_styles",
    "under_await",
    "pipeline",
    "echo_server",
    "echo_generators",
    "chat_server",
    "udp_echo",
)


def load(name):
    """Import and return the example module ``name``; LookupError if there is none."""
    if name not in EXAMPLES:
        raise LookupError(f"unknown example {name!r}; the examples are: {', '.join(EXAMPLES)}")
    return importlib.import_module(f"{__name__}.{name}")


def summary(name):
    """The one-line description of example ``name`` (its docstring's first line)."""
    doc = load(name).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def listing():
    """The text ``python -m yieldloop examples`` prints: every example, one line each."""
    width = max(map(len, EXAMPLES))
    lines = ["examples (run one with: python -m yieldloop examples NAME):", ""]
    lines += [f"  {name:{width}s}  {summary(name)}" for name in EXAMPLES]
    return "\n".join(lines)


def main(argv=()):
    """``python -m yieldloop examples [NAME]``: list the examples or run one.

    Returns the exit status: 0; 1 if the reader of stdout went away; 2 for
    an unknown name or extra arguments.
    """
    try:
        return _main(list(argv))
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly, as the Python
        # docs advise, pointing stdout at devnull so the exit flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


def _main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(listing())
        sys.stdout.flush()
        return 0
    if len(argv) > 1:
        print(
            f"usage: python -m yieldloop examples [NAME]; got {len(argv)} arguments",
            file=sys.stderr,
        )
        return 2
    try:
        module = load(argv[0])
    except LookupError as e:
        print(f"python -m yieldloop examples: {e.args[0]}", file=sys.stderr)
        return 2
    module.main()
    sys.stdout.flush()
    return 0
