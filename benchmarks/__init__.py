"""yieldloop's benchmark suite: workloads run side by side on several runtimes.

Each workload is one module here, written once per runtime it supports;
``driver`` runs them, each (workload, runtime) pair in its own subprocess,
interleaving runtimes so that machine drift hits all alike, and reports
medians, min-max and the ratio to asyncio.

Run it as ``python -m yieldloop bench`` from an installed wheel (this
directory ships in the package as ``yieldloop.benchmarks``) or as
``python -m benchmarks`` from a source checkout.
"""

#: Workload modules, in report order.
WORKLOADS = (
    "switch",
    "spawn",
    "await_chain",
    "timers",
    "timer_cancel",
    "timer_lateness",
    "async_tree",
    "queue_pingpong",
    "lock_contention",
    "echo_streams",
    "echo_sock",
    "echo_protocols",
    "echo_tls",
    "bulk_streams",
    "processes",
    "memory",
    "import_time",
)
