"""The kernel: a run of native tasks (yieldloop.Kernel)."""

import concurrent.futures
import os
from collections.abc import Callable
from contextvars import Context
from typing import Any, Protocol, final

from ..core._core import Core
from ..core._handles import Handle
from ..core._poller import Poller
from ._scheduler import Scheduler
from ._tracer import Tracer

class _Clock(Protocol):
    # What run(clock=...) needs (yieldloop.testing.MockClock is one); an
    # optional start_clock() is called when the run starts, and a clock with
    # autojump_threshold and jump(seconds) is jumped to the next timer when
    # everything is idle.
    def current_time(self) -> float: ...
    def deadline_to_sleep_time(self, deadline: float) -> float: ...

@final
class Kernel(Scheduler):
    """The native front end on a scheduler core: a ready queue, a timer
    heap and a poller. Its callbacks and time() come from TrapHost, its
    counts of tasks from Scheduler."""

    @property
    def running(self) -> bool: ...
    @property
    def core(self) -> Core: ...
    @property
    def poller(self) -> Poller | None: ...
    def run(
        self,
        main: Any,
        *args: Any,
        trace: Tracer | str | os.PathLike[str] | None = None,
        clock: _Clock | None = None,
    ) -> Any: ...
    def stats(self) -> dict[str, int]: ...
    def call_soon_threadsafe(
        self, fn: Callable[..., object], *args: Any, context: Context | None = None
    ) -> Handle: ...
    def run_coroutine_threadsafe(self, coro: Any) -> concurrent.futures.Future[Any]: ...
