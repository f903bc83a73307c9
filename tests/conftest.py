"""Shared fixtures: every test must leave the process's open fds as it found them."""

import gc
import os
import signal
import sys

import pytest

_FD_DIR = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def open_fds():
    """Number of fds open in this process."""
    return len(os.listdir(_FD_DIR))


def pytest_configure(config):
    # A shell starts background jobs with SIGINT ignored, and child processes
    # inherit that: the Ctrl-C tests (and the children they start) need
    # Python's own handler, as an interactive run has.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def no_fd_leak():
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    after = open_fds()
    assert after == before, f"test leaked {after - before} fd(s)"


@pytest.fixture
def kernel():
    """A fresh Kernel, so the test can look at its stats() after run()."""
    import yieldloop

    return yieldloop.Kernel()


def pytest_report_header(config):
    import yieldloop

    return (
        f"yieldloop {yieldloop.__version__} ({yieldloop.POLL_BACKEND}) "
        f"from {os.path.dirname(yieldloop.__file__)}; Python {sys.version.split()[0]}"
    )
