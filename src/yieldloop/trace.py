"""Render a kernel trace: a text log, an SVG or HTML timeline, a PNG chart.

Record a run with a Tracer, then render it:

    tracer = yieldloop.Tracer()
    yieldloop.run(main, trace=tracer)
    print(yieldloop.trace.text(tracer))
    yieldloop.trace.write(tracer, "run.html")     # or .svg, .png, .txt

or let run() write the file (``yieldloop.run(main, trace="run.html")``), or
trace a whole script: ``python -m yieldloop trace --html run.html script.py``.

The timeline has one lane per task (and one for the kernel's timers and
poller). A bar is a slice of time the task ran; the thin line after it is
the wait, labelled with what the task waits for; an arrow is a wake-up,
from whoever caused it (a task, its timer, the poller) to the task it
makes ready. Time runs left to right on a compressed scale: a wait of a
second is drawn longer than one of a millisecond, but not a thousand times
longer, so that microsecond slices stay visible.
"""

import html
import importlib.util
import math
import os

from .native._tracer import WAKE_CAUSES, YIELD_AWAITABLE, YIELD_BAD, YIELD_BARE, Tracer

__all__ = ["Tracer", "check_target", "describe", "html_page", "png", "svg", "text", "write"]

# Trap kinds, as numbered in _traps.pxd.
_TRAP_YIELD, _TRAP_SLEEP, _TRAP_READ, _TRAP_WRITE, _TRAP_JOIN, _TRAP_PARK = range(1, 7)
_FINISH = {1: "returned", 2: "raised", 3: "cancelled"}
_VALUE_WIDTH = 60


def _short(value):
    try:
        r = repr(value)
    except Exception:
        r = f"<{type(value).__name__} object>"
    return r if len(r) <= _VALUE_WIDTH else r[: _VALUE_WIDTH - 3] + "..."


def _names(tracer):
    # A finished task is kept as its name only.
    return {tid: task if isinstance(task, str) else task.name
            for tid, task in tracer.tasks.items()}


def describe(event, names):
    """One event as words: ``(task name, what happened, wait label or None)``."""
    _, kind, code, task, other, number, obj = event
    who = names.get(task, f"task {task}")
    by = names.get(other, f"task {other}")
    if kind == "spawn":
        return who, "spawned" + (f" by {by}" if other else ""), None
    if kind == "resume":
        if code:
            return who, f"resumed: {_short(obj)} thrown in", None
        return who, "resumed" if obj is None else f"resumed with {_short(obj)}", None
    if kind == "yield":
        if code == YIELD_BARE:
            return who, "yields (bare yield): back of the ready queue", None
        if code == YIELD_AWAITABLE:
            return who, f"yields {_short(obj)}: the kernel awaits it for the task", "awaitable"
        if code == YIELD_BAD:
            return who, f"yields {_short(obj)}: not allowed, a TypeError is thrown in", None
        if code == _TRAP_YIELD:
            return who, "awaits sleep(0): back of the ready queue", None
        if code == _TRAP_SLEEP:
            return who, f"awaits sleep({number:g}): a timer in the heap", f"sleep({number:g})"
        if code in (_TRAP_READ, _TRAP_WRITE):
            side = "readable" if code == _TRAP_READ else "writable"
            return who, f"waits until fd {int(number)} is {side}", f"fd {int(number)} {side}"
        if code == _TRAP_JOIN:
            return who, f"joins {by}", f"join {by}"
        if code == _TRAP_PARK:
            return who, "parks" + (f" in {obj}" if obj is not None else ""), obj or "parked"
        return who, f"yields trap {code}", None
    if kind == "wake":
        cause = WAKE_CAUSES.get(code, str(code))
        if cause == "timer":
            return who, "woken by its timer", None
        if cause == "fd":
            return who, f"woken: fd {int(number)} is ready", None
        if cause == "closed":
            return who, f"woken: fd {int(number)} was closed", None
        if cause == "cancel":
            return who, "cancelled" + (f" by {by}" if other else ""), None
        why = f" ({obj})" if obj else ""
        if cause == "task":
            return who, f"woken by {by}{why}", None
        return who, f"woken by a callback{why}", None
    if kind == "finish":
        verb = _FINISH.get(code, "finished")
        return who, verb if verb == "cancelled" else f"{verb} {_short(obj)}", None
    return who, kind, None


def text(tracer, *, times=True):
    """The trace as a readable log, one event per line (``times=False``
    leaves the timestamps out, for a log that is the same on every run)."""
    names = _names(tracer)
    events = tracer.events()
    width = max((len(n) for n in names.values()), default=4)
    lines = [f"yieldloop trace: {len(events)} events, {len(names)} tasks"
             + (f" ({tracer.dropped} more dropped)" if tracer.dropped else "")]
    for event in events:
        who, what, _ = describe(event, names)
        stamp = f"{event[0] * 1000:10.3f} ms  " if times else ""
        lines.append(f"{stamp}{who:<{width}}  {what}")
    return "\n".join(lines) + "\n"


# --- the timeline geometry, shared by the SVG and the PNG

_COLORS = {"timer": "#d08c00", "fd": "#2a7fd4", "task": "#3a9a3a", "cancel": "#c0392b",
           "closed": "#8e44ad", "callback": "#7f8c8d", "spawn": "#95a5a6"}


def _legend(cause):
    return "spawned" if cause == "spawn" else f"woken: {cause}"


class _Timeline:
    """Lanes, slices, waits and arrows, on a compressed time axis."""

    def __init__(self, tracer):
        self.names = _names(tracer)
        self.events = tracer.events()
        self.lanes = ["kernel"] + list(self.names)     # task ids in spawn order
        self.x = self._positions()
        self.slices, self.waits, self.arrows, self.finishes = [], [], [], []
        running, waiting = {}, {}
        for i, ev in enumerate(self.events):
            t, kind, code, task, other, number, obj = ev
            if kind == "resume":
                if task in waiting:
                    start, label = waiting.pop(task)
                    self.waits.append((task, start, self.x[i], label))
                running[task] = (i, ev)
            elif kind in ("yield", "finish"):
                if task in running:
                    start, first = running.pop(task)
                    self.slices.append((task, self.x[start], self.x[i], first, ev))
                if kind == "yield":
                    label = describe(ev, self.names)[2]
                    waiting[task] = (self.x[i], label)
                else:
                    self.finishes.append((task, self.x[i], ev))
            elif kind == "wake":
                cause = WAKE_CAUSES.get(code, "callback")
                source = other if cause in ("task", "cancel") and other in self.names else "kernel"
                self.arrows.append((source, task, self.x[i], cause, ev))
            elif kind == "spawn":
                self.arrows.append((other if other in self.names else "kernel", task,
                                    self.x[i], "spawn", ev))
        end = self.x[-1] if self.x else 0
        for task, (start, label) in waiting.items():
            self.waits.append((task, start, end, label))

    def _positions(self):
        xs, x, prev = [], 0.0, None
        for ev in self.events:
            if prev is not None:
                gap = max(0.0, ev[0] - prev)
                x += 6 + 30 * math.log10(1 + gap / 1e-5)
            xs.append(x)
            prev = ev[0]
        return xs

    def ticks(self, spacing=70):
        """Event indexes to label on the time axis, at least ``spacing`` apart."""
        out, last = [], None
        for i, x in enumerate(self.x):
            if last is None or x - last >= spacing:
                out.append(i)
                last = x
        return out

    def lane(self, task):
        return self.lanes.index(task)

    def label(self, lane):
        return "kernel (timers, poller)" if lane == "kernel" else self.names[lane]


def svg(tracer, *, title="yieldloop trace"):
    """The timeline as a standalone SVG document (a string)."""
    tl = _Timeline(tracer)
    left, top, lane_h, right = 190, 50, 34, 40
    legend = [("run slice", "#4a6fa5")] + [(_legend(k), c) for k, c in _COLORS.items()]
    legend_width = sum(26 + 7 * len(name) for name, _ in legend)
    width = int(left + max(tl.x[-1] if tl.x else 0, legend_width) + right)
    height = top + lane_h * len(tl.lanes) + 70
    esc = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{esc(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="context-stroke"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{esc(title)}</text>',
    ]

    def y(task):
        return top + lane_h * tl.lane(task) + lane_h / 2

    for i, lane in enumerate(tl.lanes):
        yy = top + lane_h * i
        fill = "#f4f6f8" if i % 2 == 0 else "white"
        out.append(f'<rect x="0" y="{yy}" width="{width}" height="{lane_h}" fill="{fill}"/>')
        out.append(f'<text x="10" y="{yy + lane_h / 2 + 4}">{esc(tl.label(lane))}</text>')
    for task, x0, x1, label in tl.waits:
        yy = y(task)
        out.append(f'<line x1="{left + x0:.1f}" y1="{yy}" x2="{left + x1:.1f}" y2="{yy}" '
                   'stroke="#999" stroke-dasharray="3,3"/>')
        if label and x1 - x0 > 40:
            out.append(f'<text x="{left + x0 + 4:.1f}" y="{yy - 5}" font-size="10" '
                       f'fill="#555">{esc(label)}</text>')
    for task, x0, x1, first, last in tl.slices:
        what = describe(last, tl.names)[1]
        out.append(f'<rect x="{left + x0:.1f}" y="{y(task) - 7}" width="{max(x1 - x0, 3):.1f}" '
                   f'height="14" rx="2" fill="#4a6fa5"><title>{esc(tl.names[task])}: ran '
                   f'{(last[0] - first[0]) * 1e6:.1f} us, then {esc(what)}</title></rect>')
    for source, target, x, cause, ev in tl.arrows:
        y0, y1 = y(source), y(target)
        if y0 == y1:
            y0 -= 12
        color = _COLORS[cause]
        dash = ' stroke-dasharray="2,2"' if cause == "spawn" else ""
        out.append(f'<line x1="{left + x:.1f}" y1="{y0:.1f}" x2="{left + x:.1f}" y2="{y1:.1f}" '
                   f'stroke="{color}" stroke-width="1.5" marker-end="url(#arrow)"{dash}>'
                   f'<title>{esc(" ".join(describe(ev, tl.names)[:2]))}</title></line>')
    for task, x, ev in tl.finishes:
        out.append(f'<circle cx="{left + x:.1f}" cy="{y(task)}" r="4" fill="#333">'
                   f'<title>{esc(" ".join(describe(ev, tl.names)[:2]))}</title></circle>')
    base = top + lane_h * len(tl.lanes)
    out.append(f'<line x1="{left}" y1="{base + 5}" x2="{width - right}" y2="{base + 5}" '
               'stroke="#333"/>')
    for i in tl.ticks():
        out.append(f'<text x="{left + tl.x[i]:.1f}" y="{base + 20}" font-size="10" '
                   f'text-anchor="middle">{tl.events[i][0] * 1000:.2f}</text>')
    out.append(f'<text x="{left}" y="{base + 38}" font-size="11">time (ms since the start; '
               'compressed scale: long waits are drawn shorter)</text>')
    lx = left
    for name, color in legend:
        out.append(f'<rect x="{lx}" y="{base + 48}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{lx + 14}" y="{base + 57}" font-size="10">{esc(name)}</text>')
        lx += 14 + 7 * len(name) + 12
    out.append("</svg>")
    return "\n".join(out) + "\n"


def html_page(tracer, *, title="yieldloop trace"):
    """An HTML page with the SVG timeline and the text log (no server needed)."""
    esc = html.escape
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title>\n<style>body{{font-family:sans-serif;margin:1.5em}}"
        "pre{background:#f4f6f8;padding:1em;overflow-x:auto}</style></head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n<p>One lane per task. Bars: the task runs. Dashed lines: it "
        "waits (for what is written above). Arrows: wake-ups, from the task or the kernel part "
        "that caused them. Hover for details.</p>\n"
        f"{svg(tracer, title=title)}\n<h2>Log</h2>\n<pre>{esc(text(tracer))}</pre>\n"
        "</body>\n</html>\n"
    )


def png(tracer, path, *, title="yieldloop trace"):
    """Draw the timeline to a PNG file with matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = _Timeline(tracer)
    n = len(tl.lanes)
    fig, ax = plt.subplots(figsize=(max(8, (tl.x[-1] if tl.x else 0) / 90 + 3), 1 + 0.5 * n))

    def y(task):
        return n - 1 - tl.lane(task)

    for task, x0, x1, label in tl.waits:
        ax.plot([x0, x1], [y(task)] * 2, color="#999", linestyle=":", linewidth=1)
        if label and x1 - x0 > 40:
            ax.text(x0 + 3, y(task) + 0.18, label, fontsize=7, color="#555")
    for task, x0, x1, first, last in tl.slices:
        ax.broken_barh([(x0, max(x1 - x0, 2))], (y(task) - 0.18, 0.36), color="#4a6fa5")
    for source, target, x, cause, ev in tl.arrows:
        y0, y1 = y(source), y(target)
        ax.annotate("", xy=(x, y1), xytext=(x, y0 if y0 != y1 else y0 + 0.35),
                    arrowprops={"arrowstyle": "->", "color": _COLORS[cause],
                                "linestyle": "--" if cause == "spawn" else "-"})
    for task, x, ev in tl.finishes:
        ax.plot([x], [y(task)], "o", color="#333", markersize=4)
    ax.set_yticks(range(n), [tl.label(lane) for lane in reversed(tl.lanes)])
    ticks = tl.ticks()
    ax.set_xticks([tl.x[i] for i in ticks], [f"{tl.events[i][0] * 1000:.2f}" for i in ticks])
    ax.set_xlabel("time (ms since the start; compressed scale)")
    ax.set_ylabel("task")
    ax.set_title(title)
    handles = [plt.Line2D([], [], color="#4a6fa5", linewidth=6, label="run slice")]
    handles += [plt.Line2D([], [], color=c, label=_legend(k)) for k, c in _COLORS.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


_RENDERERS = {"txt": "text", "log": "text", "svg": "svg", "html": "html_page",
              "htm": "html_page", "png": "png"}


def _suffix(path):
    path = str(path)
    return path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""


def check_target(path):
    """Refuse, before anything runs, a trace file write() could not write:
    a suffix it does not know (ValueError), or .png without matplotlib
    (ImportError). ``yieldloop.run(main, trace=path)`` and
    ``python -m yieldloop trace`` call it first, so that a long run is not
    lost to a typo in the file name."""
    suffix = _suffix(path)
    if suffix not in _RENDERERS:
        raise ValueError(f"trace file {str(path)!r}: use .txt, .svg, .html or .png")
    if suffix == "png" and importlib.util.find_spec("matplotlib") is None:
        raise ImportError(f"trace file {str(path)!r}: a .png needs matplotlib "
                          "(pip install matplotlib); .svg and .html need nothing")


def write(tracer, path, *, title="yieldloop trace"):
    """Write the trace to ``path``; its suffix picks the format: .txt (the
    log), .svg (the timeline), .html (both), .png (the chart)."""
    check_target(path)
    path = str(path)
    renderer = _RENDERERS[_suffix(path)]
    if renderer == "png":
        png(tracer, path, title=title)
        return
    content = text(tracer) if renderer == "text" else globals()[renderer](tracer, title=title)
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)
