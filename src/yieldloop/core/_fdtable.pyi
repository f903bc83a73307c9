"""The poller's fd tables, and the OS registrations that follow them."""

from typing_extensions import disjoint_base

@disjoint_base
class FdTable:
    """The base of Poller; not made on its own."""

    ctl_calls: int
    rebuilds: int
