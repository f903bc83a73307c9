"""The base of yieldloop.Loop that its Future and Task schedule on: the
scheduler core (its ready queue) and the flags its fast paths read."""

from typing_extensions import disjoint_base

from ..core._core import Core, FrontEnd

@disjoint_base
class LoopBase(FrontEnd):
    """The scheduler core and scheduling flags of yieldloop.Loop."""

def _make_on_core(cls: type[LoopBase], core: Core) -> LoopBase: ...
