"""The kernel's scheduler: spawns, steps and finishes native tasks."""

from typing_extensions import disjoint_base

from ._traphost import TrapHost

@disjoint_base
class Scheduler(TrapHost):
    """The base of Kernel that runs its tasks; not made on its own."""

    @property
    def live_tasks(self) -> int: ...
    @property
    def switches(self) -> int: ...
    @property
    def spawned(self) -> int: ...
