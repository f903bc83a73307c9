"""Misuse gets a clear Python exception; nothing crashes, hangs or leaks."""

import math
import os
import socket
import sys
import tempfile

import pytest

import yieldloop as yl


def test_nan_sleep_is_a_value_error():
    with pytest.raises(ValueError, match="NaN"):
        yl.sleep(math.nan)


def test_non_number_sleep_is_a_type_error():
    with pytest.raises(TypeError, match="number of seconds, got str"):
        yl.sleep("1")
    with pytest.raises(TypeError):
        yl.sleep(None)


def test_negative_sleep_counts_as_zero_like_asyncio():
    order = []

    async def a():
        await yl.sleep(-5)
        order.append("a")

    async def main():
        t = yl.spawn(a)
        order.append("main")
        await t

    yl.run(main)
    assert order == ["main", "a"]


def test_infinite_sleep_lasts_until_cancelled():
    async def main():
        t = yl.spawn(yl.sleep(math.inf))
        await yl.sleep(0.01)
        assert not t.done()
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t

    yl.run(main)


def test_wait_on_negative_fd_is_a_value_error():
    with pytest.raises(ValueError, match="invalid file descriptor"):
        yl.wait_readable(-3)


def test_wait_on_object_without_fileno_is_a_type_error():
    with pytest.raises(TypeError, match="fileno"):
        yl.wait_writable("not a file")


def test_wait_on_closed_socket_is_a_value_error():
    s = socket.socket()
    s.close()
    with pytest.raises(ValueError, match="is closed"):
        yl.wait_readable(s)


def test_wait_on_fd_that_is_not_open_raises_oserror_in_the_task():
    r, w = os.pipe()
    os.close(r)
    os.close(w)

    async def main():
        with pytest.raises(OSError):
            await yl.wait_readable(r)
        assert yl.stats()["fds"] == 0

    yl.run(main)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="epoll refuses regular files")
def test_wait_on_regular_file_raises_oserror_in_the_task():
    with tempfile.TemporaryFile() as f:
        async def main():
            with pytest.raises(OSError):
                await yl.wait_readable(f)

        yl.run(main)


def test_second_reader_of_one_fd_gets_busy_resource_error():
    a, b = socket.socketpair()
    try:
        async def reader():
            await yl.wait_readable(a)
            return a.recv(10)

        async def main():
            first = yl.spawn(reader, name="first")
            second = yl.spawn(reader, name="second")
            with pytest.raises(yl.BusyResourceError, match="'first' is already waiting"):
                await second
            b.send(b"data")
            return await first

        assert yl.run(main) == b"data"
    finally:
        a.close()
        b.close()


def test_coroutine_decorator_refuses_non_callables_and_async_functions():
    with pytest.raises(TypeError, match="generator function"):
        yl.coroutine(5)

    async def native():
        pass

    with pytest.raises(TypeError, match="already an async function"):
        yl.coroutine(native)


def test_spawning_a_task_object_is_a_type_error():
    async def main():
        t = yl.spawn(yl.sleep(0))
        with pytest.raises(TypeError, match="already running"):
            yl.spawn(t)
        await t

    yl.run(main)


def test_spawning_a_non_coroutine_is_a_type_error():
    async def main():
        with pytest.raises(TypeError, match="needs a coroutine"):
            yl.spawn(123)

    yl.run(main)


def test_import_does_not_import_asyncio():
    import subprocess

    code = "import sys, yieldloop; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_sleep_never_awaited_warns_like_a_coroutine_never_awaited():
    import warnings

    async def main():
        yl.sleep(0.5)          # the mistake: no await
        yl.sleep(0)
        await yl.sleep(0)      # used properly: no warning for these
        yield_from = yl.sleep(0)
        await yield_from
        return "done"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert yl.run(main) == "done"
    messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert messages == [
        "yieldloop sleep(0.5) was never awaited: it does nothing until a task awaits it "
        "(or yields it)",
        "yieldloop sleep(0) was never awaited: it does nothing until a task awaits it "
        "(or yields it)",
    ]
    assert all(w.filename == __file__ for w in caught)


def test_a_wait_readable_never_awaited_warns():
    import warnings

    r, w = os.pipe()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yl.wait_readable(r)
        assert [str(x.message) for x in caught] == [
            f"yieldloop wait_readable({r}) was never awaited: it does nothing until a task "
            "awaits it (or yields it)"]
    finally:
        os.close(r)
        os.close(w)


def test_a_refused_wait_leaves_no_trap_to_warn_about():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError):
            yl.wait_readable(-3)
        with pytest.raises(TypeError):
            yl.wait_writable(object())


def test_a_task_cancelled_before_its_first_step_finishes_its_trap_quietly():
    import warnings

    async def main():
        t = yl.spawn(yl.sleep(1))
        t.cancel()
        await yl.sleep(0)
        return t.cancelled()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert yl.run(main) is True
