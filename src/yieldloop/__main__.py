"""Command line: ``python -m yieldloop bench``, ``examples [NAME]`` and ``trace SCRIPT``."""

import sys


def main(argv=None):
    """Dispatch ``argv`` (default: the command line) to a command; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    commands = {
        "bench": "run the benchmarks against asyncio (and uvloop, trio when installed)",
        "examples": "list the examples, or run one: examples NAME",
        "trace": "run a script with its yieldloop runs traced: trace [--html F] SCRIPT",
    }
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: python -m yieldloop COMMAND [args]\n\ncommands:")
        for name, what in commands.items():
            print(f"  {name:10s} {what}")
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    if argv[0] == "bench":
        from yieldloop.benchmarks.driver import main as bench

        return bench(argv[1:])
    if argv[0] == "examples":
        from yieldloop.examples import main as examples

        return examples(argv[1:])
    if argv[0] == "trace":
        from yieldloop._tracecli import main as trace

        return trace(argv[1:])
    return 2


if __name__ == "__main__":
    sys.exit(main())
