"""The fuzzers of tests/fuzz_kernel.py and tests/fuzz_streams.py, on a few
hundred derandomized cases (the same ones every run); ``scripts/fuzz`` runs
them on 100,000 random cases each."""

import pytest
from hypothesis import HealthCheck, given, settings

import fuzz_kernel
import fuzz_streams

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(fuzz_kernel.programs)
def test_kernel_serves_the_others_whatever_a_task_yields(prog):
    fuzz_kernel.execute(prog)


@FUZZ
@given(fuzz_streams.cases)
def test_stream_reader_parses_like_asyncio(case):
    fuzz_streams.execute(case)


EVERY_STEP = [("garbage", i) for i in range(len(fuzz_kernel.GARBAGE))] + [
    ("none",), ("sleep", 1), ("aw_value", 2), ("aw_raises",), ("aw_non_iterator",),
    ("aw_not_callable",), ("aw_yields_garbage", 3), ("bare_iter_ok", 4),
    ("bare_iter_garbage", 27), ("asyncio_future",), ("stop_iteration_coro",),
    ("stop_iteration_gen",), ("reused_coro",), ("deep", 40), ("spawn_child", 5),
    ("spawn_bad_child", 6), ("join", 0), ("join", 1), ("cancel", 0), ("catch_cancel",),
    ("raise",),
]


@pytest.mark.parametrize("style", fuzz_kernel.STYLES)
def test_every_kind_of_step_in_every_style(style):
    # One task goes through every step (it cancels itself before the
    # catch_cancel step, which therefore catches); the other finishes.
    p = fuzz_kernel.execute({"tasks": [(style, EVERY_STEP), ("gen", [("none",)])],
                             "bystander": 60, "settle": 0})
    log = p.logs[0]
    assert len(log) == len(EVERY_STEP) - 1 and log[-1] == (len(EVERY_STEP) - 2, "caught")
    assert p.outcomes == ["ValueError", ("ok", 1)]


def test_the_kernel_checker_notices_a_wrong_outcome(monkeypatch):
    prog = {"tasks": [("gen", [("garbage", 0)])], "bystander": 10, "settle": 0}
    fuzz_kernel.execute(prog)
    monkeypatch.setitem(fuzz_kernel.RAISES, "garbage", "ValueError")
    with pytest.raises(AssertionError, match="want 'ValueError'"):
        fuzz_kernel.execute(prog)


def test_the_kernel_checker_notices_a_starved_bystander(monkeypatch):
    prog = {"tasks": [("gen", [("none",)])], "bystander": 10, "settle": 0}

    async def lazy(self, rounds):
        return rounds - 1

    monkeypatch.setattr(fuzz_kernel.Program, "bystander_body", lazy)
    with pytest.raises(AssertionError, match="bystander"):
        fuzz_kernel.execute(prog)


def test_the_stream_checker_notices_a_difference(monkeypatch):
    case = {"chunks": [b"ab\n", b"cd"], "limit": 10, "ops": [("readline",)]}
    assert fuzz_streams.execute(case) == [(("readline",), b"ab\n"), ("rest", b"cd")]
    # Hand asyncio the same bytes in one chunk: where the limit is crossed
    # changes which LimitOverrunError comes, and the checker must see that.
    original = fuzz_streams.on_asyncio

    async def merged(case):
        return await original(dict(case, chunks=[b"".join(case["chunks"])]))

    monkeypatch.setattr(fuzz_streams, "on_asyncio", merged)
    case = {"chunks": [b"abcdef", b"\n"], "limit": 4, "ops": [("readuntil", 0)]}
    with pytest.raises(AssertionError, match="differ"):
        fuzz_streams.execute(case)
