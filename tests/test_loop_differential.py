"""yieldloop.Loop against asyncio's own loop on generated programs with a
fault injected into every kind of callback (tests/diff_loop.py): a few
hundred derandomized programs, the same every run; ``scripts/fuzz loop``
runs thousands of random ones."""

import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings

import diff_loop
from loop_child import make_certificate

DIFF = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def differ(tmp_path_factory):
    env = dict(os.environ, **make_certificate(str(tmp_path_factory.mktemp("tls"))))
    d = diff_loop.Differ(env)
    yield d
    d.close()


@DIFF
@given(program=diff_loop.programs)
def test_loop_ends_every_fault_as_asyncios_loop_does(differ, program):
    differ.check(program)


STREAM = {"kind": "stream", "family": "tcp", "client_buffered": False,
          "server_buffered": False, "bufsize": 100, "request": 5000, "reply": 3000,
          "server_end": "wait", "client_end": "close", "eof_keep_open": False, "fault": None}


@pytest.mark.parametrize("family", ["tcp", "unix", "tls"])
@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("callback", ["data_received", "get_buffer", "buffer_updated",
                                      "get_buffer_empty", "eof_received"])
def test_every_stream_callback_fault_ends_as_on_asyncio(differ, family, side, callback):
    buffered = callback != "data_received"
    sc = dict(STREAM, family=family, client_buffered=buffered, server_buffered=buffered,
              client_end="write_eof" if family != "tls" else "close",
              fault=[side, callback, "ZeroDivisionError"])
    got = differ.check([sc])
    handler = got["yieldloop"]["scenarios"][0]["handler"]
    events = got["yieldloop"]["scenarios"][0]["events"]
    if callback == "get_buffer" and side == "client":
        return      # the client ends by closing: it reads nothing more to fail on
    if callback == "get_buffer_empty" and family == "tls":
        return      # asyncio's TLS layer takes an empty buffer without a word
    if family == "tls" and sys.version_info < (3, 11):
        return      # 3.10's TLS layer lets some of these pass unreported
    assert handler, events          # the fault fired and was reported
    assert any(e[0] == "lost" and e[1] in ("ZeroDivisionError", "RuntimeError")
               for e in events[side]), events


def test_the_checker_notices_a_difference(differ, monkeypatch):
    program = [{"kind": "timers", "timers": [["soon", 0, "raise", "RuntimeError"]]}]
    differ.check(program)
    real = differ.workers["yieldloop"].answer

    def tampered(program, timeout=60):
        result = real(program, timeout)
        result["scenarios"][0]["handler"][0][1] = "ZeroDivisionError"
        return result

    monkeypatch.setattr(differ.workers["yieldloop"], "answer", tampered)
    with pytest.raises(AssertionError, match="scenario 0 differs"):
        differ.check(program)


def test_the_checker_notices_a_crash(differ):
    worker = diff_loop.Worker("yieldloop")
    try:
        with pytest.raises(AssertionError, match="died"):
            worker.run([{"kind": "crash"}])
    finally:
        worker.close()
    assert json.dumps(differ.check([{"kind": "executor", "variant": 2, "exc": "RuntimeError"}]))
