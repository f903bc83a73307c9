"""The kernel's traps, callbacks and timers: the base of Scheduler and Kernel."""

from collections.abc import Callable
from contextvars import Context
from typing import Any

from typing_extensions import disjoint_base

from ..core._core import FrontEnd
from ..core._handles import Handle

@disjoint_base
class TrapHost(FrontEnd):
    """The base of Kernel that performs traps; not made on its own."""

    def time(self) -> float: ...
    def call_soon(self, fn: Callable[..., object], *args: Any, context: Context | None = None) -> Handle: ...
    def call_later(
        self, delay: float, fn: Callable[..., object], *args: Any, context: Context | None = None
    ) -> Handle: ...
    def call_at(self, when: float, fn: Callable[..., object], *args: Any, context: Context | None = None) -> Handle: ...
