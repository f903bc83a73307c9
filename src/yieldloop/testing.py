"""Tools for testing code that runs on yieldloop: a clock you control.

``MockClock`` replaces the monotonic clock of one run
(``yieldloop.run(main, clock=MockClock())``): timers, ``sleep()``,
``timeout()``, ``wait_for()`` and ``yieldloop.time()`` all follow it, so a
test of time-dependent code runs in virtual time and never waits for real
time to pass. It follows trio's ``MockClock``:

- time starts at 0 and moves only by ``jump()`` (``rate=0``, the default),
  or at ``rate`` virtual seconds per real second;
- with ``autojump_threshold=0``, whenever every task is blocked and nothing
  (I/O, a signal, a call from another thread) becomes ready, the clock jumps
  straight to the next timer: ``await sleep(3600)`` returns at once, with
  ``yieldloop.time()`` one hour later. A threshold of ``t`` seconds waits
  that long (real time) for something to happen before jumping.

Timers due at the same virtual instant fire in the order they were set, so
a test sees the same order on every run. The pytest plugin (module
``yieldloop.pytest_plugin``) hands a ``MockClock(autojump_threshold=0)`` to
a test as the ``yieldloop_clock`` fixture.

Autojump does not know about threads: a task waiting for ``to_thread()``
while another sleeps may see the clock jump past its deadline before the
thread answers. Give such tests a threshold above zero.
"""

from __future__ import annotations

import math
import time as _time

__all__ = ["MockClock"]


class MockClock:
    """MockClock(rate=0.0, autojump_threshold=math.inf)

    A clock for ``yieldloop.run(main, clock=...)`` that tests control (see
    the module docstring).

        clock = MockClock(autojump_threshold=0)

        async def main():
            await yieldloop.sleep(3600)       # returns at once
            return yieldloop.time()

        assert yieldloop.run(main, clock=clock) == 3600.0

    ``rate``: virtual seconds per real second (0: time stands still unless
    jumped). ``autojump_threshold``: real seconds of idleness after which
    the clock jumps to the next timer (``math.inf``: never).
    """

    def __init__(self, rate: float = 0.0, autojump_threshold: float = math.inf) -> None:
        # current_time() = _virtual_base + _rate * (real now - _real_base)
        self._real_clock = _time.perf_counter
        self._real_base = 0.0
        self._virtual_base = 0.0
        self._rate = 0.0
        self._autojump_threshold = math.inf
        self.rate = rate
        self.autojump_threshold = autojump_threshold

    def __repr__(self) -> str:
        return (
            f"<MockClock time={self.current_time():.9f} rate={self._rate!r} "
            f"autojump_threshold={self._autojump_threshold!r} at {id(self):#x}>"
        )

    @property
    def rate(self) -> float:
        """Virtual seconds per real second; 0 means time moves only by
        jump() and autojump. Settable, also while a run uses the clock."""
        return self._rate

    @rate.setter
    def rate(self, new: float) -> None:
        new = _seconds(new, "rate", finite=True)
        # Rebase, so that time does not jump when the rate changes.
        self._virtual_base = self.current_time()
        self._real_base = self._real_clock()
        self._rate = new

    @property
    def autojump_threshold(self) -> float:
        """Real seconds every task must stay blocked, with nothing becoming
        ready, before the clock jumps to the next timer (0: at once;
        ``math.inf``: never). Settable, also during a run."""
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, new: float) -> None:
        self._autojump_threshold = _seconds(new, "autojump_threshold", finite=False)

    def start_clock(self) -> None:
        """Called by the kernel when a run starts using the clock; the
        virtual time goes on from where it is (0 for a new clock)."""

    def current_time(self) -> float:
        """The virtual time, in seconds (``yieldloop.time()`` during a run)."""
        return self._virtual_base + self._rate * (self._real_clock() - self._real_base)

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Real seconds the kernel may wait for a timer due at ``deadline``
        (virtual time): 0 if it is due, a very long time if ``rate`` is 0."""
        virtual_timeout = deadline - self.current_time()
        if virtual_timeout <= 0:
            return 0.0
        if self._rate > 0:
            return virtual_timeout / self._rate
        return 999999999.0

    def jump(self, seconds: float) -> None:
        """Move the virtual time ``seconds`` forward (never back: a negative
        value is a ValueError). Timers now due fire at the kernel's next
        iteration."""
        seconds = _seconds(seconds, "jump()", finite=True)
        self._virtual_base += seconds


def _seconds(value: float, what: str, finite: bool) -> float:
    """``value`` as a float >= 0 (finite if ``finite``), or a clear error."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"MockClock {what} needs a number of seconds, got {type(value).__name__}") from None
    if math.isnan(seconds) or (finite and math.isinf(seconds)):
        raise ValueError(f"MockClock {what} needs a finite number, got {seconds!r}")
    if seconds < 0:
        if what == "jump()":
            raise ValueError(f"MockClock.jump() cannot move time backwards (got {seconds!r})")
        raise ValueError(f"MockClock {what} must be >= 0, got {seconds!r}")
    return seconds
