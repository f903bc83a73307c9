"""The scheduler core under the native kernel and yieldloop.Loop: one ready
queue, one timer heap, one poller with its wake-up pipe, one thread inbox
and one run-once."""

from typing import final

from typing_extensions import disjoint_base

from ._poller import Poller
from ._readyqueue import ReadyQueue
from ._timerheap import TimerHeap

@disjoint_base
class FrontEnd:
    """The base of the kernel and of yieldloop.Loop: what the core calls back."""

@final
class Core:
    """The scheduler core under the kernel and yieldloop.Loop."""

    @property
    def ready(self) -> ReadyQueue: ...
    @property
    def timers(self) -> TimerHeap: ...
    @property
    def poller(self) -> Poller | None: ...
    def stats(self) -> dict[str, int]: ...
