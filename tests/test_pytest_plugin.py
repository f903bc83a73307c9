"""The pytest plugin (yieldloop.pytest_plugin), run on test files made by pytester."""

import pathlib
import re
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]


def _run(pytester, source, *args):
    pytester.makepyfile(test_it=source)
    # In-process runs: yieldloop is imported already, so pytest warns that
    # it cannot rewrite the asserts of the plugin's package; that is moot.
    return pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", *args)


def test_marked_async_test_runs_on_a_kernel(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        @pytest.mark.yieldloop
        async def test_it():
            await yl.sleep(0)
            assert yl.current_task() is not None
    """)
    result.assert_outcomes(passed=1)


def test_marked_generator_test_runs_with_yield_from_and_yield(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        @pytest.mark.yieldloop
        def test_it():
            yield from yl.sleep(0)
            value = yield yl.sleep(0)
            assert value is None
            assert (yield yl.spawn(yl.sleep, 0)) is None
    """)
    result.assert_outcomes(passed=1)


def test_failing_async_test_fails_with_its_assertion(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        @pytest.mark.yieldloop
        async def test_it():
            await yl.sleep(0)
            x = 41
            assert x == 42
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 41 == 42*"])


def test_failing_generator_test_fails(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        @pytest.mark.yieldloop
        def test_it():
            yield
            raise KeyError("from the generator")
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*KeyError*from the generator*"])


def test_clock_fixture_runs_the_test_in_virtual_time(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        @pytest.mark.yieldloop
        async def test_it(yieldloop_clock):
            order = []
            async def sleeper(d):
                await yl.sleep(d)
                order.append(d)
            async with yl.TaskGroup() as tg:
                tg.spawn(sleeper, 3600)
                tg.spawn(sleeper, 60)
            assert order == [60, 3600]
            assert yl.time() == 3600.0
            assert yieldloop_clock.current_time() == 3600.0
            with pytest.raises(TimeoutError):
                async with yl.timeout(5):
                    await yl.sleep(10)
            assert yl.time() == 3605.0
    """)
    result.assert_outcomes(passed=1)


def test_without_the_clock_fixture_the_test_runs_on_the_real_clock(pytester):
    result = _run(pytester, """
        import time, pytest, yieldloop as yl

        @pytest.mark.yieldloop
        async def test_it():
            t = yl.time()
            assert t >= time.monotonic() - 60
    """)
    result.assert_outcomes(passed=1)


def test_kernel_fixture_is_the_kernel_the_test_runs_on(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        @pytest.mark.yieldloop
        async def test_it(yieldloop_kernel):
            assert yl.current_kernel() is yieldloop_kernel
            assert yieldloop_kernel.running
    """)
    result.assert_outcomes(passed=1)


def test_parametrize_and_sync_fixtures_reach_async_and_generator_tests(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        @pytest.fixture
        def base():
            return 10

        @pytest.mark.yieldloop
        @pytest.mark.parametrize("n", [1, 2])
        async def test_async(base, n):
            await yl.sleep(0)
            assert base + n in (11, 12)

        @pytest.mark.yieldloop
        @pytest.mark.parametrize("n", [3, 4])
        def test_gen(base, n):
            yield
            assert base + n in (13, 14)
    """)
    result.assert_outcomes(passed=4)


def test_module_mark_covers_async_tests_and_leaves_plain_tests_alone(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        pytestmark = pytest.mark.yieldloop

        async def test_async():
            assert yl.current_task() is not None

        def test_plain():
            with pytest.raises(RuntimeError):
                yl.current_task()

        class TestInClass:
            async def test_method(self):
                await yl.sleep(0)
    """)
    result.assert_outcomes(passed=3)


def test_unmarked_async_test_is_left_to_pytest_in_strict_mode(pytester):
    result = _run(pytester, """
        import yieldloop as yl

        async def test_it():
            yl.current_task()
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


def test_unmarked_generator_test_is_left_to_pytest(pytester):
    result = _run(pytester, """
        def test_it():
            yield
    """)
    assert result.parseoutcomes().get("passed", 0) == 0


def test_auto_mode_runs_unmarked_async_tests(pytester):
    pytester.makeini("[pytest]\nyieldloop_mode = auto\n")
    result = _run(pytester, """
        import yieldloop as yl

        async def test_it():
            await yl.sleep(0)
            assert yl.current_task() is not None
    """)
    result.assert_outcomes(passed=1)


def test_auto_mode_leaves_tests_marked_for_another_async_plugin(pytester):
    pytester.makeini("[pytest]\nyieldloop_mode = auto\nmarkers = asyncio\n")
    result = _run(pytester, """
        import pytest

        @pytest.mark.asyncio
        async def test_it():
            pass
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


def test_unknown_mode_is_a_usage_error(pytester):
    result = _run(pytester, "def test_it(): pass\n", "-o", "yieldloop_mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*yieldloop_mode must be one of strict, auto*sometimes*"])


def test_tasks_a_test_leaves_behind_are_cancelled_when_it_ends(pytester):
    result = _run(pytester, """
        import pytest, yieldloop as yl

        cancelled = []

        async def forever():
            try:
                await yl.sleep(3600)
            except BaseException as e:
                # (by name: pytester's inline runs may import asyncio anew)
                cancelled.append(type(e).__name__)
                raise

        @pytest.mark.yieldloop
        async def test_leaves_a_task(yieldloop_kernel):
            yl.spawn(forever)
            await yl.sleep(0)

        def test_it_was_cancelled():
            assert cancelled == ["CancelledError"]
    """)
    result.assert_outcomes(passed=2)


def test_plugin_is_registered_by_its_entry_point():
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins.get("yieldloop") == "yieldloop.pytest_plugin"


def test_plugin_loads_by_itself_in_a_new_pytest_process(pytester):
    pytester.makepyfile(test_it="""
        import pytest, yieldloop as yl

        @pytest.mark.yieldloop
        async def test_it(yieldloop_clock):
            await yl.sleep(10)
            assert yl.time() == 10.0
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_plugin_can_be_turned_off_with_no_yieldloop(pytester):
    pytester.makepyfile(test_it="""
        import pytest

        @pytest.mark.yieldloop
        async def test_it():
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:yieldloop", "--strict-markers")
    assert result.ret != 0
    # Without the plugin its mark is unknown.
    result.stdout.fnmatch_lines(["*'yieldloop' not found in `markers` configuration option*"])


TESTING_GUIDE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "howto" / "testing.md"


@pytest.mark.skipif(not TESTING_GUIDE.exists(), reason="needs the source tree's docs/")
def test_the_testing_guide_example_passes(pytester):
    text = TESTING_GUIDE.read_text()
    code = re.search(r"## The pytest plugin\n.*?```python\n(.*?)```", text, re.DOTALL).group(1)
    result = _run(pytester, code)
    result.assert_outcomes(passed=3)
