"""The benchmark driver: plan, run (interleaved, in subprocesses), report.

    python -m yieldloop bench [--quick] [--repeat N] [--workloads a,b]
                              [--runtimes a,b] [--json FILE] [--chart FILE]
                              [--markdown FILE]

Each measurement runs in a fresh interpreter. The runtimes of a workload
take turns (A B C A B C ...) for every repeat, so that drift in machine
speed hits them alike. The report gives, per workload and runtime, the
median, min and max over the repeats and the ratio to asyncio's median
(how many times faster; above 1 is better).
"""

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from . import WORKLOADS, runtimes

PACKAGE = __package__


def _module(workload):
    return importlib.import_module(f"{PACKAGE}.{workload}")


def _subprocess_env():
    env = dict(os.environ)
    if PACKAGE == "benchmarks":
        # Running from a source checkout: let the workers import this package.
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def run_one(workload, runtime, params, timeout=600):
    """One measurement in a fresh interpreter; returns the figure."""
    cmd = [sys.executable, "-m", f"{PACKAGE}.worker", workload, runtime, json.dumps(params)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=_subprocess_env()
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{workload} on {runtime} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["value"]


def cases(mod):
    """{case name: {mode: params}}: one unnamed case for a plain PARAMS."""
    return getattr(mod, "CASES", None) or {"": mod.PARAMS}


def plan(workloads, wanted_runtimes):
    """[((workload, case), [runtimes...])] for what exists and is installed."""
    out = []
    for name in workloads:
        mod = _module(name)
        rts = [r for r in mod.RUNTIMES if r in wanted_runtimes and runtimes.available(r)]
        if rts:
            out.extend(((name, case), rts) for case in cases(mod))
    return out


class _Progress:
    """A progress bar with rich when installed, plain lines on stderr otherwise."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        try:
            from rich.progress import Progress
        except ImportError:
            self._rich = None
        else:
            self._rich = Progress(transient=True)

    def __enter__(self):
        if self._rich:
            self._rich.__enter__()
            self._task = self._rich.add_task("benchmarks", total=self.total)
        return self

    def step(self, label):
        self.done += 1
        if self._rich:
            self._rich.update(self._task, advance=1, description=label)
        else:
            print(f"[{self.done}/{self.total}] {label}", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self._rich:
            self._rich.__exit__(*exc)


def run_suite(the_plan, mode, repeat):
    """Measure everything; returns {(workload, case): {runtime: [figures]}}."""
    values = {key: {r: [] for r in rts} for key, rts in the_plan}
    total = repeat * sum(len(rts) for _, rts in the_plan)
    with _Progress(total) as progress:
        for i in range(repeat):
            for (workload, case), rts in the_plan:
                params = cases(_module(workload))[case][mode]
                label = f"{workload} {case}".strip()
                for rt in rts:
                    progress.step(f"{label} / {rt} ({i + 1}/{repeat})")
                    values[workload, case][rt].append(run_one(workload, rt, params))
    return values


def summarize(values, mode):
    """Medians, ranges and ratios to the baseline, ready for JSON."""
    out = {}
    for (workload, case), by_rt in values.items():
        mod = _module(workload)
        lower_is_better = getattr(mod, "LOWER_IS_BETTER", True)
        base = by_rt.get(runtimes.BASELINE)
        base_median = statistics.median(base) if base else None
        rows = {}
        for rt, vals in by_rt.items():
            med = statistics.median(vals)
            ratio = None
            if base_median:
                ratio = base_median / med if lower_is_better else med / base_median
            rows[rt] = {"values": vals, "median": med, "min": min(vals), "max": max(vals),
                        "ratio": ratio}
        key = f"{workload}:{case}" if case else workload
        title = f"{mod.TITLE}, {case}" if case else mod.TITLE
        out[key] = {"title": title, "unit": mod.UNIT, "params": cases(mod)[case][mode],
                    "lower_is_better": lower_is_better, "runtimes": rows}
    return out


def machine():
    """What the figures were taken on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for name in ("yieldloop", "uvloop", "trio"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "versions": versions,
    }


def _fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.3g}"


def table_rows(summary):
    """Rows of the report: workload, runtime, median, min-max, ratio."""
    rows = []
    for workload, s in summary.items():
        first = True
        for rt, r in sorted(s["runtimes"].items(), key=lambda kv: kv[1]["median"],
                            reverse=not s["lower_is_better"]):
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
            rows.append((s["title"] if first else "", rt, f"{_fmt(r['median'])} {s['unit']}",
                         f"{_fmt(r['min'])}-{_fmt(r['max'])}", ratio))
            first = False
    return rows


HEADERS = ("workload", "runtime", "median", "min-max", f"vs {runtimes.BASELINE}")

# What the ratio column means, for every kind of figure (times, memory and
# lateness are lower-is-better, rates higher-is-better).
RATIO_MEANS = (f"vs {runtimes.BASELINE} = how many times faster (or leaner) than "
               f"{runtimes.BASELINE}, higher is better: {runtimes.BASELINE}'s median over "
               f"the runtime's for times and bytes, the runtime's median over "
               f"{runtimes.BASELINE}'s for rates (req/s)")


def print_table(summary, info):
    rows = table_rows(summary)
    title = (f"yieldloop benchmarks - Python {info['python']}, {info['cpu']}, "
             f"{info['cores']} cores\n{RATIO_MEANS}")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(x)) for x in col) for col in zip(HEADERS, *rows)]
        print(title)
        for row in (HEADERS, *rows):
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
        return
    t = Table(title=title)
    for h in HEADERS:
        t.add_column(h, justify="right" if h != "workload" and h != "runtime" else "left")
    for row in rows:
        t.add_row(*row)
    Console().print(t)


def markdown(summary, info, mode, repeat):
    """The report as a markdown table."""
    lines = [
        f"Python {info['python']} on {info['cpu']} ({info['cores']} cores, {info['os']}); "
        f"{mode} run, median of {repeat}; {RATIO_MEANS}.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    return "\n".join(lines) + "\n"


def chart(summary, info, path):
    """Horizontal grouped bars of the ratios to asyncio, one group per
    workload, on a log scale (the ratios run from 0.01 to over 10)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w, s in summary.items() if any(r["ratio"] for r in s["runtimes"].values())]
    rts = [rt for rt in runtimes.ALL if any(rt in summary[w]["runtimes"] for w in workloads)]
    height = 0.8 / max(1, len(rts))
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.13 * len(rts) * len(workloads)))
    for i, rt in enumerate(rts):
        ys, xs = [], []
        for j, w in enumerate(workloads):
            r = summary[w]["runtimes"].get(rt)
            if r and r["ratio"]:
                ys.append(j + (i - (len(rts) - 1) / 2) * height)
                xs.append(r["ratio"])
        bars = ax.barh(ys, xs, height, label=rt)
        ax.bar_label(bars, labels=[f"{x:.2f}" if x < 1 else f"{x:.1f}" for x in xs],
                     fontsize=6, padding=2)
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    ax.set_xlim(left=min(0.5, 0.5 * min(r["ratio"] for w in workloads
                                        for r in summary[w]["runtimes"].values() if r["ratio"])))
    ticks = [t for t in (0.01, 0.03, 0.1, 0.3, 0.5, 1, 2, 3, 5, 10, 20, 50)
             if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(range(len(workloads)), [summary[w]["title"] for w in workloads], fontsize=8)
    ax.set_ylim(len(workloads) - 0.5, -0.5)   # first workload on top, no empty margins
    ax.set_xlabel(f"speed relative to {runtimes.BASELINE} (x, log scale; higher is better)")
    ax.set_ylabel("workload")
    ax.set_title(f"yieldloop vs asyncio: Python {info['python']}, {info['cpu']}, "
                 f"{info['cores']} cores", fontsize=10, pad=24)
    ax.legend(title=None, fontsize=8, ncol=len(rts), frameon=False,   # between title and plot
              loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _selection(parser, option, value, choices):
    """The names of a comma-separated option; all of ``choices`` if it is not given.
    An empty selection (``--runtimes ""``) is refused, not taken as everything."""
    if value is None:
        return list(choices)
    names = [n.strip() for n in value.split(",")]
    if not any(names):
        parser.error(f"{option}: empty selection; choose among {','.join(choices)}")
    if not all(names):
        parser.error(f"{option} {value!r}: an empty name between commas")
    return names


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m yieldloop bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, 3 repeats (under a minute)")
    p.add_argument("--repeat", type=int, help="measurements per runtime (default 5, quick 3)")
    p.add_argument("--workloads", help=f"comma-separated subset of {','.join(WORKLOADS)}")
    p.add_argument("--runtimes", help=f"comma-separated subset of {','.join(runtimes.ALL)}")
    p.add_argument("--json", metavar="FILE", help="write raw results and machine info")
    p.add_argument("--chart", metavar="FILE", help="draw the ratios as a PNG (needs matplotlib)")
    p.add_argument("--markdown", metavar="FILE", help="write the table as markdown")
    p.add_argument("--from-json", metavar="FILE",
                   help="measure nothing: report a run saved with --json (table, chart, markdown)")
    args = p.parse_args(argv)
    if args.from_json:
        try:
            with open(args.from_json) as f:
                saved = json.load(f)
            parts = saved["results"], saved["machine"], saved["mode"], saved["repeat"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            p.error(f"--from-json {args.from_json}: not a saved run ({e!r})")
        report(*parts, args)
        return 0

    mode = "quick" if args.quick else "full"
    repeat = args.repeat if args.repeat is not None else (3 if args.quick else 5)
    if repeat < 1:
        p.error("--repeat must be at least 1")
    workloads = _selection(p, "--workloads", args.workloads, WORKLOADS)
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    wanted = _selection(p, "--runtimes", args.runtimes, runtimes.ALL)
    unknown = set(wanted) - set(runtimes.ALL)
    if unknown:
        p.error(f"unknown runtime(s): {', '.join(sorted(unknown))}")

    missing = [r for r in wanted if not runtimes.available(r)]
    if missing:
        # Said, not silently left out of the table.
        print(f"skipped (not installed): {', '.join(missing)}; "
              f"pip install {' '.join(missing)} to include them", file=sys.stderr)
    the_plan = plan(workloads, wanted)
    if not the_plan:
        p.error(f"nothing to run: no workload of {', '.join(workloads)} runs on "
                f"{', '.join(wanted)}" + (" (not installed)" if missing == wanted else ""))
    info = machine()
    started = time.time()
    values = run_suite(the_plan, mode, repeat)
    summary = summarize(values, mode)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "mode": mode, "repeat": repeat, "results": summary},
                      f, indent=2)
    report(summary, info, mode, repeat, args)
    print(f"({time.time() - started:.0f} s)")
    return 0


def report(summary, info, mode, repeat, args):
    """Print the table; write the markdown and the chart if asked."""
    print_table(summary, info)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(summary, info, mode, repeat))
    if args.chart:
        chart(summary, info, args.chart)
