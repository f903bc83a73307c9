"""The native API's entry points: run(), spawn(), current_task()..."""

import os
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Protocol, TypeVar

from ._kernel import Kernel, _Clock
from ._task import Task
from ._tracer import Tracer

_T = TypeVar("_T")

class _HasFileno(Protocol):
    def fileno(self) -> int: ...

def run(
    main: Callable[..., Awaitable[_T] | Generator[Any, Any, _T]] | Awaitable[_T] | Generator[Any, Any, _T],
    *args: Any,
    trace: Tracer | str | os.PathLike[str] | None = None,
    clock: _Clock | None = None,
) -> _T: ...
def spawn(coro: Any, *args: Any, name: object | None = None) -> Task[Any]: ...
def current_task() -> Task[Any] | None: ...
def current_kernel() -> Kernel: ...
def notify_closing(fileobj: int | _HasFileno) -> None: ...
def stats() -> dict[str, int]: ...
def time() -> float: ...
