"""CPython's own tests of asyncio's Task and Future, run on yieldloop's.

test.test_asyncio.test_tasks and test_futures are written once for asyncio's
C and Python implementations (base classes that take the Task and Future
classes as attributes); here yieldloop.Loop's Task and Future are plugged in
as a third implementation. These tests run on the test suite's own loop
(test_utils.TestLoop, with its fake clock), where our classes schedule
through the loop's call_soon() as asyncio's do; the same classes on
yieldloop.Loop are checked against asyncio's by test_loop_tasks.py and by
CPython's suite run on yieldloop.Loop (scripts/run-asyncio-tests).

Left out: the subclass variants and the one test that subclasses Task (our
Task is a final cdef class), and the tests that name asyncio's C or Python
implementation itself.
"""

import asyncio
import sys

import pytest

test_tasks = pytest.importorskip("test.test_asyncio.test_tasks")
test_futures = pytest.importorskip("test.test_asyncio.test_futures")
from test.test_asyncio import utils as test_utils  # noqa: E402

from yieldloop.aio._aiofuture import Future  # noqa: E402
from yieldloop.aio._aiotask import Task  # noqa: E402


class YieldloopTaskTests(test_tasks.BaseTaskTests, test_tasks.SetMethodsTest,
                         test_utils.TestCase):
    Task = Task
    Future = Future
    # The functions the tests call (3.14+ takes them from the class): asyncio's,
    # which see our tasks as they see any task registered with asyncio.
    all_tasks = staticmethod(asyncio.all_tasks)
    current_task = staticmethod(asyncio.current_task)
    # It subclasses Task, which ours does not allow (a final cdef class).
    test_task_not_crash_without_finalization = None

    def test_del__log_destroy_pending_segfault(self):
        # CTask_CFuture_Tests' own: deleting the attribute is refused.
        async def coro():
            pass
        task = self.new_task(self.loop, coro())
        self.loop.run_until_complete(task)
        with self.assertRaises(AttributeError):
            del task._log_destroy_pending


class YieldloopFutureTests(test_futures.BaseFutureTests, test_utils.TestCase):
    cls = Future

    def test_future_del_segfault(self):
        # CFutureTests' own: deleting these attributes is refused.
        fut = self._new_future(loop=self.loop)
        with self.assertRaises(AttributeError):
            del fut._asyncio_future_blocking
        with self.assertRaises(AttributeError):
            del fut._log_traceback


class YieldloopFutureDoneCallbackTests(test_futures.BaseFutureDoneCallbackTests,
                                       test_utils.TestCase):
    def _new_future(self):
        return Future(loop=self.loop)


class YieldloopFutureInheritanceTests(test_futures.BaseFutureInheritanceTests,
                                      test_utils.TestCase):
    def _get_future_cls(self):
        return Future


def test_the_suites_ran_our_classes():
    # A guard against a change in CPython's test layout that would leave the
    # classes above running asyncio's own implementation.
    assert YieldloopTaskTests.Task is Task and YieldloopFutureTests.cls is Future
    assert sys.modules[Task.__module__].__name__ == "yieldloop.aio._aiotask"
