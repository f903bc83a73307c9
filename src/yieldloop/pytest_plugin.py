"""pytest plugin: run ``async def`` and generator test functions on a yieldloop kernel.

Installed with yieldloop (entry point ``pytest11``), so pytest loads it by
itself. Which tests it runs:

- every test function marked ``@pytest.mark.yieldloop`` (on the function,
  its class, or the module's ``pytestmark``) that is an ``async def`` or a
  generator function; ordinary (``def``) tests under the mark run as usual;
- with ``yieldloop_mode = auto`` (ini option; ``-o yieldloop_mode=auto`` on
  the command line), also every unmarked ``async def`` test that carries no
  mark of another async plugin (asyncio, anyio, trio, curio, tornado).
  The default mode is ``strict``: unmarked tests are left to other plugins.

Generator tests always need the mark (pytest itself refuses generator test
functions). Each test runs in its own ``yieldloop.run()``, so it ends as a
run ends: tasks it left behind are cancelled and waited for.

Fixtures:

- ``yieldloop_clock``: a ``yieldloop.testing.MockClock(autojump_threshold=0)``;
  a test that asks for it runs in virtual time (``await yieldloop.sleep(3600)``
  returns at once, an hour later on ``yieldloop.time()``);
- ``yieldloop_kernel``: the ``yieldloop.Kernel`` the test runs on (look at
  its ``stats()``, hand it to threads).

Fixtures are ordinary (synchronous) pytest fixtures: async fixtures are not
supported; do async set-up in the test, or in a helper it awaits.

    import pytest, yieldloop

    @pytest.mark.yieldloop
    async def test_retry_waits_a_minute(yieldloop_clock):
        await yieldloop.sleep(60)
        assert yieldloop.time() == 60.0
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

#: Marks of other plugins that run async tests: auto mode leaves those tests alone.
OTHER_ASYNC_MARKS = ("asyncio", "anyio", "trio", "curio", "gen_test", "tornado")

_MODES = ("strict", "auto")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "yieldloop_mode",
        "strict (default): yieldloop runs only tests marked @pytest.mark.yieldloop; "
        "auto: also every unmarked async def test without another async plugin's mark",
        default="strict",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "yieldloop: run this async def or generator test function on a yieldloop kernel",
    )
    mode = _mode(config)
    if mode not in _MODES:
        raise pytest.UsageError(f"yieldloop_mode must be one of {', '.join(_MODES)}; got {mode!r}")


def _mode(config: pytest.Config) -> str:
    return str(config.getini("yieldloop_mode")).strip().lower()


def _marked(obj: object) -> bool:
    return any(getattr(m, "name", None) == "yieldloop" for m in getattr(obj, "pytestmark", ()))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name, obj):
    # pytest refuses generator test functions ("yield tests"); collect
    # the marked ones as ordinary tests, parametrization included.
    if not (inspect.isgeneratorfunction(obj) and collector.istestfunction(obj, name)):
        return None
    if _marked(obj) or collector.get_closest_marker("yieldloop") is not None:
        return list(collector._genfunctions(name, obj))
    return None


def _runs_on_yieldloop(item: pytest.Function) -> bool:
    func = item.obj
    if inspect.isgeneratorfunction(func):
        return item.get_closest_marker("yieldloop") is not None
    if not inspect.iscoroutinefunction(func):
        return False
    if item.get_closest_marker("yieldloop") is not None:
        return True
    if _mode(item.config) != "auto":
        return False
    return not any(item.get_closest_marker(m) is not None for m in OTHER_ASYNC_MARKS)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _runs_on_yieldloop(pyfuncitem):
        return None
    import yieldloop

    funcargs = pyfuncitem.funcargs
    kwargs = {arg: funcargs[arg] for arg in pyfuncitem._fixtureinfo.argnames}
    kernel = funcargs.get("yieldloop_kernel")
    if not isinstance(kernel, yieldloop.Kernel):
        kernel = yieldloop.Kernel()
    clock: Any = funcargs.get("yieldloop_clock")  # a MockClock, or another clock a test's fixture gives
    kernel.run(pyfuncitem.obj(**kwargs), clock=clock)
    return True


@pytest.fixture
def yieldloop_clock():
    """A MockClock(autojump_threshold=0): the test runs in virtual time."""
    from yieldloop.testing import MockClock

    return MockClock(autojump_threshold=0)


@pytest.fixture
def yieldloop_kernel():
    """The yieldloop.Kernel the test runs on."""
    import yieldloop

    return yieldloop.Kernel()
