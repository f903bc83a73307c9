"""Native and asyncio code mixed.

On yieldloop.Loop, and in yieldloop.run() when asyncio is imported before it
starts, both front ends share one scheduler core: an asyncio Task may await
native awaitables and a native task asyncio futures (tests/test_mixing_*.py
prove that). Elsewhere (asyncio's own loop; yieldloop.run() before asyncio
is imported), an awaitable of one awaited in a task of the other fails with
an error that names the mistake and the fix, not with the other library's
internals.
"""

import asyncio
import subprocess
import sys
import textwrap

import pytest

import yieldloop as yl

LOOPS = [pytest.param(None, id="asyncio-loop")]


def _run_asyncio(main, loop_factory):
    if loop_factory is None:
        return asyncio.run(main())
    loop = loop_factory()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.parametrize("loop_factory", LOOPS)
def test_a_native_sleep_in_an_asyncio_task_says_to_use_asyncio_sleep(loop_factory):
    async def main():
        await yl.sleep(0.01)

    with pytest.raises(RuntimeError) as e:
        _run_asyncio(main, loop_factory)
    message = str(e.value)
    assert "yieldloop sleep(0.01) was awaited in a task that yieldloop's kernel does not run" in message
    assert "use asyncio.sleep() instead" in message
    # asyncio's own complaint stays visible as the cause.
    assert "bad yield" in str(e.value.__cause__)


def test_a_native_queue_in_an_asyncio_task_says_to_use_asyncio_primitives():
    async def main():
        await yl.Queue().get()

    with pytest.raises(RuntimeError, match="use asyncio's own queues, locks and events instead"):
        asyncio.run(main())


def test_a_native_wait_readable_in_an_asyncio_task_names_add_reader():
    import socket

    a, b = socket.socketpair()
    try:
        async def main():
            await yl.wait_readable(a)

        with pytest.raises(RuntimeError, match=r"wait_readable\(\d+\).*loop.add_reader\(\)"):
            asyncio.run(main())
    finally:
        a.close()
        b.close()


def test_the_task_after_a_refused_native_await_goes_on_normally():
    async def main():
        try:
            await yl.sleep(0)
        except RuntimeError:
            pass
        await asyncio.sleep(0)
        return "went on"

    assert asyncio.run(main()) == "went on"


def test_asyncio_sleep_in_a_native_task_says_what_to_use_instead():
    # asyncio imported only once the run has started: the run has no
    # asyncio loop, and the error says how to get one.
    code = textwrap.dedent("""
        import yieldloop as yl

        async def main():
            import asyncio
            await asyncio.sleep(0.01)

        try:
            yl.run(main)
        except RuntimeError as e:
            print(str(e))
            print("\\n".join(getattr(e, "__notes__", ())))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("no running event loop")
    assert "import asyncio first" in out
    assert "yieldloop.sleep()" in out and "yieldloop.run_asyncio(main())" in out


def test_the_note_is_added_once_and_only_to_asyncios_error():
    from yieldloop._errors import explain_foreign_error

    err = RuntimeError("no running event loop")
    assert explain_foreign_error(explain_foreign_error(err)) is err
    assert len(err.__notes__) == 1
    other = RuntimeError("something else")
    explain_foreign_error(other)
    assert not hasattr(other, "__notes__")


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="the fallback for 3.10, which has no add_note()")
def test_on_310_the_note_is_printed_with_the_traceback():
    import traceback

    from yieldloop._errors import explain_foreign_error

    err = explain_foreign_error(RuntimeError("no running event loop"))
    text = "".join(traceback.format_exception(type(err), err, None))
    assert "import asyncio first" in text
