"""``python -m yieldloop trace``: run a script with every yieldloop.run() traced."""

import argparse
import os
import runpy
import sys
import traceback

_OUTPUTS = ("--text", "--svg", "--html", "--png")


def _numbered(path, n):
    """``run.html`` for the first run, ``run-2.html`` for the second, ..."""
    if n == 1:
        return path
    root, ext = os.path.splitext(path)
    return f"{root}-{n}{ext}"


def main(argv):
    p = argparse.ArgumentParser(
        prog="python -m yieldloop trace",
        usage="%(prog)s [--html FILE] [--svg FILE] [--png FILE] [--text FILE] [--no-times] "
        "SCRIPT [ARGS ...]",
        description="Run SCRIPT with every yieldloop.run() in it traced, then print the "
        "log (or write it with --text) and write the timeline to the files asked for. "
        "Options go before SCRIPT: what follows it is the script's own command line "
        "(as with python -m cProfile). The trace is written even if the script raises.")
    p.add_argument("--text", metavar="FILE", help="write the log here instead of stderr")
    p.add_argument("--svg", metavar="FILE", help="write the timeline as SVG")
    p.add_argument("--html", metavar="FILE", help="write the timeline and log as HTML")
    p.add_argument("--png", metavar="FILE", help="draw the timeline as PNG (needs matplotlib)")
    p.add_argument("--no-times", action="store_true", help="leave the timestamps out of the log")
    p.add_argument("script", help="the Python script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    args = p.parse_args(argv)
    if not os.path.isfile(args.script):
        p.error(f"no such script: {args.script}")
    misplaced = [a for a in args.args if a.split("=")[0] in _OUTPUTS]
    if misplaced and not any(getattr(args, o[2:]) for o in _OUTPUTS):
        # Most likely meant for us: say so rather than write nothing silently.
        print(f"yieldloop trace: {' '.join(misplaced)} comes after the script, so it is "
              f"the script's own argument and no trace file is written; put it before: "
              f"python -m yieldloop trace {misplaced[0]} FILE {args.script}",
              file=sys.stderr)

    from yieldloop import trace
    from yieldloop.native import _kernel
    from yieldloop.native._tracer import Tracer

    for option in ("text", "svg", "html", "png"):
        path = getattr(args, option)
        if path and option != "text":
            try:
                trace.check_target(path)    # before the script runs, not after
            except (ValueError, ImportError) as e:
                p.error(str(e))

    tracers = []

    def new_tracer():
        tracers.append(Tracer())
        return tracers[-1]

    saved_argv = sys.argv
    sys.argv = [args.script, *args.args]
    _kernel._trace_all = new_tracer
    try:
        runpy.run_path(args.script, run_name="__main__")
    except SystemExit as e:
        status = e.code
    except BaseException:
        # A crash is when a trace is wanted most: report it as Python
        # would, then write the traces all the same.
        traceback.print_exc()
        status = 1
    else:
        status = 0
    finally:
        _kernel._trace_all = None
        sys.argv = saved_argv
    if not tracers:
        print("yieldloop trace: the script never called yieldloop.run()", file=sys.stderr)
        return 1
    log = "".join(trace.text(t, times=not args.no_times) for t in tracers)
    if args.text:
        with open(args.text, "w", encoding="utf-8") as f:
            f.write(log)
    else:
        sys.stderr.write(log)
    for n, tracer in enumerate(tracers, 1):
        for option in ("svg", "html", "png"):
            path = getattr(args, option)
            if path:
                trace.write(tracer, _numbered(path, n), title=f"yieldloop trace of {args.script}")
    if status is None:
        return 0
    if not isinstance(status, int):
        print(status, file=sys.stderr)     # sys.exit("message"), as Python prints it
        return 1
    return status
