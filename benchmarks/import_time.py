"""Import time: how long ``import <runtime>`` takes in a fresh interpreter.

The figure is the median over several fresh interpreters of the import's
wall time, minus that of an interpreter that imports nothing. For
yieldloop it is the native API alone (``import yieldloop`` does not import
asyncio); for uvloop and trio it is their own import.
"""

import statistics
import subprocess
import sys
import time

TITLE = "import time"
UNIT = "ms"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
PARAMS = {"quick": {"runs": 5}, "full": {"runs": 15}}
WARMUP = False


def _time(code, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _import_ms(module, runs):
    _time("pass", 1)      # warm the file cache
    return max(0.0, (_time(f"import {module}", runs) - _time("pass", runs)) * 1000)


def yieldloop(runs):
    return _import_ms("yieldloop", runs)


def asyncio(runs):
    return _import_ms("asyncio", runs)


def uvloop(runs):
    return _import_ms("uvloop", runs)


def yieldloop_loop(runs):
    return _import_ms("yieldloop.loop", runs)


def trio(runs):
    return _import_ms("trio", runs)
