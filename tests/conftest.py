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


# --- TLS certificates (tests/test_tls*.py): real ones, made by trustme (a
# test dependency; the tests using them are skipped without it).


@pytest.fixture(scope="session")
def tls_ca():
    """A certificate authority of trustme's."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_server_ctx(tls_ca):
    """A server SSLContext with a certificate tls_ca issued for localhost and 127.0.0.1."""
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="session")
def tls_client_ctx(tls_ca):
    """A client SSLContext that trusts tls_ca (and verifies, as by default)."""
    import ssl

    ctx = ssl.create_default_context()
    tls_ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def tls_cert_files(tmp_path, tls_ca):
    """{"ca", "cert", "key"}: PEM files of tls_ca and of a certificate it issued."""
    cert = tls_ca.issue_cert("localhost", "127.0.0.1")
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem"}
    tls_ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    return {k: str(v) for k, v in paths.items()}
