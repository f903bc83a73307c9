"""Kernel fuzzer: generated programs that hand the kernel good and hostile
values, run side by side with a well-behaved bystander task.

A program is a few tasks, each written in one of four styles (a plain
generator that yields values, a generator that delegates with ``yield
from``, an ``async def`` that awaits a wrapper, an ``async def`` that awaits
the object itself) and each a list of steps. A step hands the kernel one
thing: None, a yieldloop awaitable, garbage (huge ints, NaN, types,
exceptions...), an object whose ``__await__`` misbehaves, a coroutine that
raises StopIteration, an already-awaited coroutine, a fake asyncio future, a
join of another task, a child task that misbehaves, a sleep that swallows its
cancellation. Every step is wrapped in ``except Exception`` so the error it
gets is logged and the task goes on.

What must hold for every program (``check``):
- ``run`` returns; nothing crashes or hangs (the caller arms a watchdog);
- every step that ran got exactly the outcome the model below predicts
  (for a join: the outcome the joined task really had);
- a task ends normally, with the ValueError of a ``raise`` step, or
  cancelled; its steps ran in order, none skipped;
- the bystander finished all its rounds while the others misbehaved;
- afterwards the kernel holds no task, timer, fd or ready entry, and the
  kernel reported no error on its own (every task was joined).

Used by tests/test_fuzz.py (a few hundred derandomized programs) and by
``scripts/fuzz`` (100,000 random ones, with a leak check).
"""

import logging
import math

from hypothesis import strategies as st

import yieldloop as yl

MAX_TASKS = 4
STYLES = ("gen", "yield_from", "await_wrapper", "await_direct")

# Values no task may yield; each must come back as a TypeError. Made fresh
# for every use, so that no run sees what an earlier one did to them.
GARBAGE = (
    lambda: 0, lambda: -1, lambda: 2**64, lambda: 10**100, lambda: -(10**400),
    lambda: 1.5, lambda: math.nan, lambda: math.inf, lambda: 1j, lambda: True,
    lambda: "text", lambda: b"bytes", lambda: bytearray(b"x"), lambda: [],
    lambda: [None], lambda: (), lambda: {}, lambda: {1: 2}, lambda: set(),
    lambda: object(), lambda: int, lambda: type, lambda: ValueError(),
    lambda: ValueError, lambda: print, lambda: len, lambda: range(3),
    lambda: iter([1, 2]), lambda: Ellipsis, lambda: NotImplemented,
    lambda: memoryview(b"m"), lambda: slice(1),
)


# --- awaitables that misbehave, each in its own way


class AwaitsTo:
    """A well-made awaitable: two bare yields, then ``value``."""

    def __init__(self, value):
        self.value = value

    def __await__(self):
        yield
        yield
        return self.value


class AwaitRaises:
    def __await__(self):
        raise ValueError("__await__ failed")


class AwaitReturnsNonIterator:
    def __await__(self):
        return 5


class AwaitNotCallable:
    __await__ = None


class AwaitYieldsGarbage:
    """``__await__`` is a generator that yields a value nobody can wait on."""

    def __init__(self, value):
        self.value = value

    def __await__(self):
        yield None
        return (yield self.value)


class BareIterator:
    """An iterator with only ``__next__`` (no send, no throw)."""

    def __init__(self, items, result):
        self.items = list(items)
        self.result = result

    def __iter__(self):
        return self

    def __next__(self):
        if not self.items:
            raise StopIteration(self.result)
        return self.items.pop(0)


class AwaitBareIterator:
    def __init__(self, items, result=None):
        self.items = items
        self.result = result

    def __await__(self):
        return BareIterator(self.items, self.result)


class FakeAsyncioFuture:
    """Looks like an asyncio future; yieldloop's kernel must refuse it."""

    _asyncio_future_blocking = False

    def __await__(self):
        self._asyncio_future_blocking = True
        yield self
        return 1


async def raises_stop_iteration():
    raise StopIteration(3)


@yl.coroutine
def generator_raises_stop_iteration():
    yield
    raise StopIteration(4)


async def returns(value):
    return value


def awaited_coroutine():
    coro = returns(1)
    try:
        coro.send(None)
    except StopIteration:
        pass
    return coro


async def nest(depth, value):
    if depth == 0:
        await yl.sleep(0)
        return value
    return await nest(depth - 1, value)


async def child_ok(value):
    await yl.sleep(0)
    return value


def child_yields_garbage(index):
    yield
    yield garbage(index)


# --- the steps


OK = "ok"

# What each step must end with: ("ok", value) or the exception's class name.
# None: decided by the checker (a join gets what the joined task ended with).
RAISES = {
    "garbage": "TypeError", "aw_non_iterator": "TypeError", "aw_not_callable": "TypeError",
    "aw_yields_garbage": "TypeError", "bare_iter_garbage": "TypeError",
    "asyncio_future": "TypeError", "spawn_bad_child": "TypeError", "aw_raises": "ValueError",
    "stop_iteration_coro": "RuntimeError", "stop_iteration_gen": "RuntimeError",
    "reused_coro": "RuntimeError",
}
RETURNS_ARGUMENT = ("aw_value", "bare_iter_ok", "deep", "spawn_child")


def predicted(step, i, outcomes):
    """The outcome of ``step`` in task ``i``; ``outcomes``: how each task ended."""
    kind = step[0]
    if kind in RAISES:
        return RAISES[kind]
    if kind in RETURNS_ARGUMENT:
        return (OK, step[1])
    if kind == "join" and step[1] < len(outcomes):
        return "RuntimeError" if step[1] == i else outcomes[step[1]]
    return (OK, None)


def garbage(index):
    return GARBAGE[index]()


def make_awaitable(step, program):
    """The object a step hands the kernel."""
    kind = step[0]
    if kind == "none":
        return None
    if kind == "sleep":
        return yl.sleep(step[1] / 1000)
    if kind == "sleep_long":
        return yl.sleep(1000)
    if kind == "huge_sleep":
        return yl.sleep(10**100)
    if kind == "garbage":
        return garbage(step[1])
    if kind == "aw_value":
        return AwaitsTo(step[1])
    if kind == "aw_raises":
        return AwaitRaises()
    if kind == "aw_non_iterator":
        return AwaitReturnsNonIterator()
    if kind == "aw_not_callable":
        return AwaitNotCallable()
    if kind == "aw_yields_garbage":
        return AwaitYieldsGarbage(garbage(step[1]))
    if kind == "bare_iter_ok":
        return AwaitBareIterator([None, yl.sleep(0), None], step[1])
    if kind == "bare_iter_garbage":
        return AwaitBareIterator([None, garbage(step[1])])
    if kind == "asyncio_future":
        return FakeAsyncioFuture()
    if kind == "stop_iteration_coro":
        return raises_stop_iteration()
    if kind == "stop_iteration_gen":
        return generator_raises_stop_iteration()
    if kind == "reused_coro":
        return awaited_coroutine()
    if kind == "deep":
        return nest(step[1], step[1])
    if kind == "spawn_child":
        return program.child(child_ok(step[1]))
    if kind == "spawn_bad_child":
        return program.child(child_yields_garbage(step[1]))
    if kind == "join":
        return program.tasks[step[1]] if step[1] < len(program.tasks) else yl.sleep(0)
    raise AssertionError(kind)


step = st.one_of(
    st.just(("none",)),
    st.tuples(st.just("sleep"), st.sampled_from([0, 0, 1, 2])),
    st.tuples(st.just("garbage"), st.integers(0, len(GARBAGE) - 1)),
    st.tuples(st.just("aw_value"), st.integers(-3, 3)),
    st.just(("aw_raises",)),
    st.just(("aw_non_iterator",)),
    st.just(("aw_not_callable",)),
    st.tuples(st.just("aw_yields_garbage"), st.integers(0, len(GARBAGE) - 1)),
    st.tuples(st.just("bare_iter_ok"), st.integers(0, 9)),
    st.tuples(st.just("bare_iter_garbage"), st.integers(0, len(GARBAGE) - 1)),
    st.just(("asyncio_future",)),
    st.just(("stop_iteration_coro",)),
    st.just(("stop_iteration_gen",)),
    st.just(("reused_coro",)),
    st.tuples(st.just("deep"), st.integers(1, 40)),
    st.tuples(st.just("spawn_child"), st.integers(0, 9)),
    st.tuples(st.just("spawn_bad_child"), st.integers(0, len(GARBAGE) - 1)),
    st.tuples(st.just("join"), st.integers(0, MAX_TASKS - 1)),
    st.tuples(st.just("cancel"), st.integers(0, MAX_TASKS - 1)),
    st.just(("catch_cancel",)),
    st.just(("sleep_long",)),
    st.just(("huge_sleep",)),
    st.just(("raise",)),
)

programs = st.fixed_dictionaries({
    "tasks": st.lists(
        st.tuples(st.sampled_from(STYLES), st.lists(step, max_size=8)),
        min_size=1, max_size=MAX_TASKS),
    "bystander": st.integers(1, 60),
    "settle": st.integers(0, 10),
})


# --- running a program


class Program:
    """One run of a generated program and everything it logged."""

    def __init__(self, prog):
        self.prog = prog
        self.tasks = []
        self.logs = []            # per task: [(step index, outcome)]
        self.outcomes = []        # per task: ("ok", value) or exception class name
        self.children = []
        self.bystander = None
        self.reports = []

    # What a task does for one step, in each style. ``aw`` is what the
    # kernel must see; the style decides how it reaches the kernel.

    def gen_step(self, aw):
        return (yield aw)

    def yield_from_step(self, aw):
        def deeper():
            return (yield aw)
        return (yield from deeper())

    async def await_wrapper_step(self, aw):
        return await AwaitsValue(aw)

    async def await_direct_step(self, aw):
        if aw is None:
            return await yl.sleep(0)
        return await aw

    def child(self, coro):
        """Spawn a child task; main joins it at the end, so that the failure of
        a child whose parent was cancelled while joining is not reported."""
        t = yl.spawn(coro)
        self.children.append(t)
        return t

    def task_body(self, i, style, steps):
        log = self.logs[i]
        if style in ("gen", "yield_from"):
            return self._generator_task(i, style, steps, log)
        return self._async_task(i, style, steps, log)

    def _generator_task(self, i, style, steps, log):
        run_step = self.gen_step if style == "gen" else self.yield_from_step
        for k, s in enumerate(steps):
            if s[0] == "raise":
                raise ValueError("step %d of task %d" % (k, i))
            if s[0] == "cancel":
                self._cancel(s[1])
                log.append((k, (OK, None)))
                continue
            if s[0] == "catch_cancel":
                try:
                    yield yl.sleep(10)
                except yl.CancelledError:
                    log.append((k, "caught"))
                continue
            aw = make_awaitable(s, self)
            try:
                value = yield from run_step(aw)
            except Exception as e:
                log.append((k, type(e).__name__, str(e)))
            else:
                log.append((k, (OK, value)))
        return i

    async def _async_task(self, i, style, steps, log):
        run_step = self.await_wrapper_step if style == "await_wrapper" else self.await_direct_step
        for k, s in enumerate(steps):
            if s[0] == "raise":
                raise ValueError("step %d of task %d" % (k, i))
            if s[0] == "cancel":
                self._cancel(s[1])
                log.append((k, (OK, None)))
                continue
            if s[0] == "catch_cancel":
                try:
                    await yl.sleep(10)
                except yl.CancelledError:
                    log.append((k, "caught"))
                continue
            aw = make_awaitable(s, self)
            try:
                value = await run_step(aw)
            except Exception as e:
                log.append((k, type(e).__name__, str(e)))
            else:
                log.append((k, (OK, value)))
        return i

    def _cancel(self, j):
        if j < len(self.tasks):
            self.tasks[j].cancel()

    async def bystander_body(self, rounds):
        for n in range(rounds):
            await yl.sleep(0.0005 if n % 10 == 9 else 0)
        return rounds

    async def main(self):
        prog = self.prog
        self.logs = [[] for _ in prog["tasks"]]
        bystander = yl.spawn(self.bystander_body(prog["bystander"]))
        for i, (style, steps) in enumerate(prog["tasks"]):
            self.tasks.append(yl.spawn(self.task_body(i, style, steps)))
        self.bystander = await bystander
        for _ in range(prog["settle"]):
            await yl.sleep(0)
        # Cancel until every task is done: a task that swallows a
        # cancellation goes on with its next step and needs another one.
        for _ in range(200):
            pending = [t for t in self.tasks if not t.done()]
            if not pending:
                break
            for t in pending:
                t.cancel()
            await yl.sleep(0)
        for t in self.tasks:
            try:
                self.outcomes.append((OK, await t))
            except BaseException as e:
                self.outcomes.append(type(e).__name__)
        for t in self.children:
            try:
                await t
            except Exception:
                pass


class AwaitsValue:
    """``await AwaitsValue(x)`` makes the kernel see ``x`` yielded from inside
    an ``async def`` (the way yieldloop's own awaitables reach it)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __await__(self):
        return (yield self.value)


class _Reports(logging.Handler):
    def __init__(self, sink):
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record):
        self.sink.append(record.getMessage())


def execute(prog):
    """Run ``prog`` on a fresh kernel and check it (AssertionError if not)."""
    p = Program(prog)
    kernel = yl.Kernel()
    handler = _Reports(p.reports)
    log = logging.getLogger("yieldloop")
    log.addHandler(handler)
    try:
        kernel.run(p.main)
    finally:
        log.removeHandler(handler)
    check(p, kernel.stats())
    return p


def check(p, stats):
    prog = p.prog
    assert p.bystander == prog["bystander"], "the bystander did not finish its rounds"
    assert len(p.outcomes) == len(prog["tasks"])
    for i, (style, steps) in enumerate(prog["tasks"]):
        log = p.logs[i]
        assert [entry[0] for entry in log] == list(range(len(log))), \
            "task %d: steps logged out of order: %r" % (i, log)
        for entry in log:
            k = entry[0]
            s = steps[k]
            got = entry[1]
            want = "caught" if s[0] == "catch_cancel" else predicted(s, i, p.outcomes)
            assert got == want, "task %d step %d %r: got %r, want %r" % (i, k, s, entry, want)
            if want == "TypeError" and s[0] == "garbage":
                # The message names what was yielded.
                assert type(garbage(s[1])).__name__ in entry[2], entry
        outcome = p.outcomes[i]
        if outcome == (OK, i):
            assert len(log) == len(steps), "task %d finished early: %r" % (i, log)
        elif outcome == "ValueError":
            assert len(log) < len(steps) and steps[len(log)][0] == "raise", (i, log, steps)
        else:
            assert outcome == "CancelledError", "task %d ended with %r" % (i, outcome)
            assert len(log) <= len(steps)
    assert p.reports == [], "the kernel reported errors: %r" % p.reports
    assert stats["tasks"] == stats["timers"] == stats["fds"] == stats["ready"] == 0, stats
