"""Time-dependent code run in virtual time: retries with backoff and a timeout."""

import yieldloop as yl
from yieldloop.testing import MockClock


async def fetch_with_retries(fetch, attempts=5, delay=1.0):
    """Call fetch(), at most 10 s per try; wait 1 s, 2 s, 4 s... between tries."""
    for attempt in range(1, attempts + 1):
        try:
            async with yl.timeout(10):
                return await fetch()
        except (ConnectionError, TimeoutError) as e:
            print(f"t={yl.time():5.1f}  try {attempt} failed: {type(e).__name__}")
            await yl.sleep(delay)
            delay *= 2
    raise ConnectionError(f"gave up after {attempts} tries")


async def main():
    calls = 0

    async def flaky():
        nonlocal calls
        calls += 1
        if calls == 2:
            await yl.sleep(3600)  # hangs: the 10 s timeout cuts it short
        if calls < 4:
            raise ConnectionError("refused")
        return "payload"

    result = await fetch_with_retries(flaky)
    print(f"t={yl.time():5.1f}  got {result!r} after {calls} tries")


# A minute of backoff and timeouts, run in virtual time: it returns at once.
yl.run(main, clock=MockClock(autojump_threshold=0))
