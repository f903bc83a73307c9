"""The base of yieldloop.Loop's core that its Future and Task schedule on:
the ready queue and the flags its fast paths read."""

from typing_extensions import disjoint_base

@disjoint_base
class LoopBase:
    """The ready queue and scheduling flags of yieldloop.Loop's core."""
