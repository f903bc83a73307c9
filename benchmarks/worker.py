"""Run one workload on one runtime in this process; print the figure as JSON.

    python -m <package>.worker WORKLOAD RUNTIME PARAMS_JSON

A warm-up run at a tenth of the size comes first (imports, caches, the
allocator), then the measured run.
"""

import gc
import importlib
import json
import sys


def measure(workload, runtime, params):
    """The workload's figure for one measured run (after a warm-up)."""
    mod = importlib.import_module(f"{__package__}.{workload}")
    fn = getattr(mod, runtime.replace("-", "_"))
    if getattr(mod, "WARMUP", True):
        fn(**{k: max(1, v // 10) if isinstance(v, int) else v for k, v in params.items()})
    gc.collect()
    result = fn(**params)
    ops = getattr(mod, "ops", None)
    if ops is None:
        return result
    if getattr(mod, "LOWER_IS_BETTER", True):
        return result * 1e9 / ops(**params)      # ns per operation
    return ops(**params) / result                 # operations per second


def main(argv):
    workload, runtime, params = argv[0], argv[1], json.loads(argv[2])
    print(json.dumps({"value": measure(workload, runtime, params)}))


if __name__ == "__main__":
    main(sys.argv[1:])
