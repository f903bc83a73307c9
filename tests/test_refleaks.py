"""Leak checks: each core behaviour, run many times, must not make memory grow.

Method. Each check runs a behaviour's core loop for WARMUP
rounds, which fills freelists, caches and lazily imported modules, and then
for ROUNDS rounds of ``n`` iterations. At every round boundary, after a full
``gc.collect()``, the Meter samples:

- ``sys.getallocatedblocks()``: every object and every PyMem buffer comes
  from CPython's allocator as one block, so a leaked Task, trap, exception,
  coroutine or C array grows it by at least one per iteration. It reads 0
  under PYTHONMALLOC=malloc (the sanitizer and valgrind runs); the measures
  below still work there.
- tracemalloc's traced bytes: also sees growth inside a block (a list or a
  C array that keeps growing) and works with any allocator.
- glibc's ``mallinfo2()`` bytes in use, where available: C memory taken
  outside Python's allocator, such as the epoll event buffer (calloc).
- ``sys.getrefcount()`` of sentinel objects that pass through the code under
  test (results, payloads, waiters, owners): an extra reference to a
  long-lived object allocates nothing and only shows here.
- ``sys.gettotalrefcount()``, on a debug build of CPython only (Debian's
  python3.14-dbg and python3.15-dbg in CI): every reference held anywhere,
  as CPython's own ``regrtest -R`` counts them, so a leaked reference to any
  object shows, not only to the sentinels. On these builds it is steady:
  the same behaviour repeated leaves it where it was. (An extension built
  against Debian's debug headers with -isystem silently lacked Py_DEBUG and
  made it drift; CMakeLists.txt uses -I.)

A measure fails when the median of its per-round growth is above its
tolerance: 0.1 block, 0.1 reference or 4 bytes per iteration (with a floor
of 4 blocks or 1 KiB per round). A real leak is at least one block or
reference, or 8 bytes (a list slot), per iteration in every round; one-off
noise (a dict that resizes once) lands in one round, which the median
ignores. glibc's per-thread cache keeps freed chunks that mallinfo2()
counts as in use, so that measure moves by a few KiB at random: its
tolerance is 64 bytes per iteration and at least 16 KiB per round (a leaked
epoll buffer is 12 KiB per Poller).
Objects counted by type (``gc.get_objects()``) at the first and last sample
name what grew in the failure message. The Meter keeps its samples in arrays
allocated up front, so measuring adds nothing between samples; the first
tests below check that it flags a deliberate leak of each kind.
"""

import ctypes
import gc
import logging
import os
import socket
import statistics
import sys
import tracemalloc
import weakref
from array import array
from collections import Counter

import pytest

import yieldloop as yl
from yieldloop.core._poller import READ, WRITE, Poller
from yieldloop.core._readyqueue import ReadyQueue
from yieldloop.core._timerheap import TimerEntry, TimerHeap

WARMUP = 2
ROUNDS = 5


# --- the meter


def _load_mallinfo2():
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None

    class Mallinfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                         "fsmblks", "uordblks", "fordblks", "keepcost")
        ]

    fn.restype = Mallinfo2
    fn.argtypes = []
    return fn


_mallinfo2 = _load_mallinfo2()
_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]


def _c_heap_bytes():
    info = _mallinfo2()
    return info.uordblks + info.hblkhd


def _c_heap_is_measured():
    """True if mallinfo2() sees malloc (not so when a sanitizer replaces it)."""
    if _mallinfo2 is None:
        return False
    before = _c_heap_bytes()
    p = _libc.malloc(1 << 16)
    grown = _c_heap_bytes() - before
    _libc.free(p)
    return grown >= 1 << 16


C_HEAP = _c_heap_is_measured()
BLOCKS = sys.getallocatedblocks() > 0
DEBUG_BUILD = hasattr(sys, "gettotalrefcount")


def _total_refs():
    return sys.gettotalrefcount() if DEBUG_BUILD else 0


class Meter:
    """Samples memory measures at round boundaries and judges their growth."""

    # name, tolerance per iteration, least tolerance per round
    MEASURES = (
        ("blocks", 0.1, 4),
        ("traced bytes", 4, 1024),
        ("C heap bytes", 64, 16384),
        ("refs", 0.1, 0),
        ("total refs", 0.1, 2),
    )

    def __init__(self, rounds, refs=()):
        self.rounds = rounds
        self.refs = tuple(refs)
        self.samples = [array("q", bytes(8 * (rounds + 1))) for _ in self.MEASURES]
        self.types_before = self.types_after = None
        # The first call of each may set up caches (Counter: ABC caches).
        Counter(map(type, ()))
        self._take(0)

    def _take(self, i):
        gc.collect()
        blocks, traced, c_heap, refs, total_refs = self.samples
        blocks[i] = sys.getallocatedblocks()
        traced[i] = tracemalloc.get_traced_memory()[0]
        c_heap[i] = _c_heap_bytes() if C_HEAP else 0
        refs[i] = sum(map(sys.getrefcount, self.refs))
        total_refs[i] = _total_refs()

    def start(self):
        gc.collect()
        # What exists now is not what we look for: frozen, the collector
        # skips it, which makes each full collection below a cheap one.
        gc.freeze()
        self.types_before = Counter(map(type, gc.get_objects()))
        self._take(0)

    def sample(self, i):
        self._take(i)

    def stop(self):
        if self.types_before is not None and self.types_after is None:
            self.types_after = Counter(map(type, gc.get_objects()))
        gc.unfreeze()

    def problems(self, n):
        """What grew by more than its tolerance, as readable lines."""
        lines = []
        for (name, per_iteration, least), series in zip(self.MEASURES, self.samples):
            deltas = [series[i + 1] - series[i] for i in range(self.rounds)]
            limit = max(per_iteration * n, least)
            if statistics.median(deltas) > limit:
                lines.append(f"{name} grew by {deltas} in rounds of {n} iterations "
                             f"(tolerance {limit:g} per round)")
        return lines

    def report(self, n):
        lines = []
        for (name, _, _), series in zip(self.MEASURES, self.samples):
            deltas = [series[i + 1] - series[i] for i in range(self.rounds)]
            lines.append(f"{name}: {deltas}")
        grown = (self.types_after - self.types_before).most_common(8)
        lines.append("objects grown by type: "
                     + (", ".join(f"{t.__qualname__} +{k}" for t, k in grown) or "none"))
        return f"rounds of {n} iterations; " + "; ".join(lines)

    def check(self, n, what):
        problems = self.problems(n)
        print(f"{what}: {self.report(n)}")
        assert not problems, f"{what} leaks: " + "; ".join(problems) + f" ({self.report(n)})"


@pytest.fixture(scope="module", autouse=True)
def traced():
    if tracemalloc.is_tracing():
        yield
        return
    tracemalloc.start(1)
    try:
        yield
    finally:
        tracemalloc.stop()


def measure(step, n, *, refs=(), rounds=ROUNDS, warmup=WARMUP):
    """Run ``step()`` ``warmup * n`` times, then ``rounds`` metered rounds of ``n``."""
    meter = Meter(rounds, refs)
    for _ in range(warmup * n):
        step()
    try:
        meter.start()
        for r in range(rounds):
            for _ in range(n):
                step()
            meter.sample(r + 1)
    finally:
        meter.stop()
    return meter


def check(step, n, what, **kw):
    measure(step, n, **kw).check(n, what)


async def metered(astep, n, meter, warmup):
    """``await astep()`` ``warmup * n`` times, then ``n`` times per round of
    ``meter``, sampling after each round: the body of an in-loop check."""
    for _ in range(warmup * n):
        await astep()
    try:
        meter.start()
        for r in range(meter.rounds):
            for _ in range(n):
                await astep()
            meter.sample(r + 1)
    finally:
        meter.stop()


async def _nap():
    await yl.sleep(0)


async def metered_with_full_freelists(astep, n, meter, warmup):
    """metered(), after filling the native Task freelist (256 freed tasks
    kept for reuse) with tasks allocated while tracemalloc traces. Tasks in a
    cycle are freed by a collection, in batches that pass the freelist's
    size: the rest are freed, and malloc'd again later. Were the freelist
    to hold tasks made before tracing began (by an earlier test), each such
    turn would free an untraced block and trace a new one: "traced bytes"
    would grow by a few tasks per round, with no block more."""
    tasks = [yl.spawn(_nap) for _ in range(600)]   # past the freelist: new blocks
    for t in tasks:
        await t
    del t
    del tasks      # frees the last first: the freelist keeps the newest 256
    await metered(astep, n, meter, warmup)


def check_in_kernel(astep, n, what, *, refs=(), rounds=ROUNDS, warmup=WARMUP):
    """Like check(), with ``await astep()`` as the step, all rounds in one run()."""
    meter = Meter(rounds, refs)
    kernel = yl.Kernel()
    kernel.run(metered_with_full_freelists, astep, n, meter, warmup)
    assert kernel.stats()["tasks"] == 0
    meter.check(n, what)


# --- the meter flags each kind of leak


def _flagged(step, n, **kw):
    return " ".join(measure(step, n, **kw).problems(n))


@pytest.mark.skipif(not BLOCKS, reason="no pymalloc block count (PYTHONMALLOC=malloc)")
def test_meter_flags_leaked_objects_as_blocks():
    kept = []
    assert "blocks" in _flagged(lambda: kept.append(object()), 100)


def test_meter_flags_leaked_objects_as_traced_bytes():
    kept = []
    assert "traced bytes" in _flagged(lambda: kept.append(object()), 100)


def test_meter_flags_a_list_that_keeps_growing():
    kept = []
    assert "traced bytes" in _flagged(lambda: kept.append(None), 200)


def test_meter_flags_a_leaked_reference_that_allocates_nothing():
    sentinel = object()
    incref, decref = ctypes.pythonapi.Py_IncRef, ctypes.pythonapi.Py_DecRef
    incref.argtypes = decref.argtypes = [ctypes.py_object]
    count = 0

    def leak():
        nonlocal count
        incref(sentinel)
        count += 1

    try:
        flagged = _flagged(leak, 100, refs=[sentinel])
    finally:
        for _ in range(count):
            decref(sentinel)
    assert flagged.startswith("refs grew"), flagged


@pytest.mark.skipif(not DEBUG_BUILD, reason="sys.gettotalrefcount() needs a debug CPython")
def test_meter_flags_a_leaked_reference_to_any_object_on_a_debug_build():
    unwatched = object()  # not among the sentinels: only the total sees it
    incref, decref = ctypes.pythonapi.Py_IncRef, ctypes.pythonapi.Py_DecRef
    incref.argtypes = decref.argtypes = [ctypes.py_object]
    count = 0

    def leak():
        nonlocal count
        incref(unwatched)
        count += 1

    try:
        flagged = _flagged(leak, 100)
    finally:
        for _ in range(count):
            decref(unwatched)
    assert flagged.startswith("total refs grew"), flagged


@pytest.mark.skipif(not C_HEAP, reason="mallinfo2() does not see malloc here")
def test_meter_flags_c_memory_taken_outside_python():
    pointers = array("Q", bytes(8 * 1000))
    count = 0

    def leak():
        nonlocal count
        pointers[count] = _libc.malloc(1024)
        count += 1

    try:
        flagged = _flagged(leak, 100, rounds=5, warmup=2)
    finally:
        for i in range(count):
            _libc.free(pointers[i])
    assert flagged.startswith("C heap bytes grew"), flagged


def test_meter_passes_steady_state_and_one_off_growth():
    kept = []
    calls = 0

    def step():
        nonlocal calls
        calls += 1
        [object() for _ in range(50)]  # made and dropped
        if calls == 350:  # once, in the second metered round
            kept.extend(object() for _ in range(1000))

    assert _flagged(step, 100) == ""


# --- tasks


async def _return(value):
    return value


async def _raise(exc):
    raise exc


def test_spawn_and_join_do_not_leak():
    payload = object()

    async def step():
        t = yl.spawn(_return, payload, name="child")
        assert t.name == "child"
        assert await t is payload
        u = yl.spawn(_return(payload))
        assert u.get_name().startswith("Task-")
        assert (await u) is payload

    check_in_kernel(step, 200, "spawn + join", refs=[payload])


def test_joining_finished_tasks_and_several_joiners_do_not_leak(sockets):
    # A finished task joined in each style (no trap: the task is its own
    # iterator), a failed one, and three joiners of one pending task, the
    # middle one cancelled (the joiners' list); weak references to each.
    # (The target waits on a socket, not an Event: any Cython async def,
    # such as Event.wait, moves a debug build's total by 2 per await.)
    a, b = sockets
    payload = object()

    def generator_joins(t):
        first = yield from t
        second = yield t
        return first, second

    async def target():
        await yl.wait_readable(a)
        a.recv(1)
        return payload

    async def step():
        t = yl.spawn(_return, payload)
        f = yl.spawn(_raise, ValueError(payload))
        refs = [weakref.ref(t), weakref.ref(f)]
        await yl.sleep(0)
        assert await t is payload and await t is payload
        assert await yl.spawn(generator_joins, t) == (payload, payload)
        try:
            await f
        except ValueError:
            pass
        g = yl.spawn(target)
        joiners = [yl.spawn(_join, g) for _ in range(3)]
        await yl.sleep(0)
        joiners[1].cancel()
        b.send(b"x")
        for j in joiners:
            try:
                assert await j is payload
            except yl.CancelledError:
                pass
        assert all(r() is not None for r in refs)

    check_in_kernel(step, 200, "finished joins and several joiners", refs=[payload, a])


def _four_styles(payload):
    """One task in each style of DESIGN.md, awaiting each other's results."""

    def plain():  # 1. bare yield
        yield
        yield

    def tornado():  # 2. x = yield awaitable
        x = yield _return(payload)
        y = yield yl.sleep(0)
        assert y is None
        return x

    @yl.coroutine
    def legacy():  # 3. yield from
        yield from yl.sleep(0)
        return (yield from yl.spawn(tornado()))

    async def native():  # 4. async def
        t = yl.spawn(plain)
        r = await legacy()
        await t
        return r

    return native()


def test_the_four_coroutine_styles_do_not_leak():
    payload = object()

    async def step():
        assert await yl.spawn(_four_styles(payload)) is payload

    check_in_kernel(step, 100, "four styles", refs=[payload])


def test_wrong_yield_thrown_back_as_type_error_does_not_leak():
    bad = object()

    def gen():
        try:
            yield bad
        except TypeError:
            return "refused"

    async def step():
        assert await yl.spawn(gen) == "refused"

    check_in_kernel(step, 200, "TypeError for a wrong yield", refs=[bad])


def test_sleeping_on_timers_does_not_leak():
    payload = object()

    async def sleeper():
        await yl.sleep(0.001)
        return payload

    def bare_sleeper():
        yield yl.sleep(0.001)  # the Tornado style: the kernel sends the answer
        return payload

    async def step():
        tasks = [yl.spawn(sleeper if i % 2 else bare_sleeper) for i in range(20)]
        for t in tasks:
            assert await t is payload

    check_in_kernel(step, 20, "sleep on timers", refs=[payload])


def test_switching_with_sleep0_and_bare_yield_does_not_leak():
    async def yielder():
        for _ in range(10):
            await yl.sleep(0)

    def bare():
        for _ in range(10):
            yield

    async def step():
        a = yl.spawn(yielder)
        b = yl.spawn(bare)
        await a
        await b

    check_in_kernel(step, 100, "sleep(0) and bare yield")


def test_task_errors_joined_do_not_leak():
    payload = object()

    async def step():
        t = yl.spawn(_raise, ValueError(payload))
        try:
            await t
        except ValueError as e:
            assert e.args[0] is payload
        else:
            raise AssertionError("the error was lost")
        assert t.exception().args[0] is payload

    check_in_kernel(step, 200, "joined task errors", refs=[payload])


class _Counting(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.format(record)  # renders the traceback, as a real handler would
        self.count += 1


def test_unretrieved_task_error_report_does_not_leak():
    payload = object()
    logger = logging.getLogger("yieldloop")
    handler = _Counting()
    saved_propagate, saved_level = logger.propagate, logger.level
    # Nothing above us may keep the records (pytest's log capture would).
    logger.propagate = False
    logger.setLevel(logging.ERROR)
    logger.addHandler(handler)

    # Rounds of 1000: a report's transient objects (the record being
    # formatted, the traceback's lines) are ~2 KB whenever a sample falls.
    n = 1000

    async def step():
        yl.spawn(_raise, ValueError(payload))  # nobody joins it
        await yl.sleep(0)
        await yl.sleep(0)

    try:
        check_in_kernel(step, n, "unretrieved error reports", refs=[payload])
    finally:
        logger.removeHandler(handler)
        logger.propagate = saved_propagate
        logger.setLevel(saved_level)
    gc.collect()
    assert handler.count == (WARMUP + ROUNDS) * n  # every error was reported


# --- cancellation at each kind of wait


def _cancel_blocked(make_waiter):
    """A step: spawn a task, let it block, cancel it and join it."""

    async def step():
        t = yl.spawn(make_waiter())
        await yl.sleep(0)
        assert t.cancel("stop")
        try:
            await t
        except yl.CancelledError:
            pass
        else:
            raise AssertionError("the task was not cancelled")
        assert yl.stats()["fds"] == 0

    return step


def test_cancel_during_sleep_does_not_leak():
    async def sleeper():
        await yl.sleep(60)

    # Cancelled timers stay in the heap until 256 of them are compacted away
    # at once: rounds of 256 end at the same point of that cycle.
    check_in_kernel(_cancel_blocked(sleeper), 256, "cancel during sleep")


@pytest.fixture
def sockets():
    a, b = socket.socketpair()
    a.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_cancel_during_wait_readable_does_not_leak(sockets):
    a, _ = sockets

    async def reader():
        await yl.wait_readable(a)

    check_in_kernel(_cancel_blocked(reader), 200, "cancel during wait_readable", refs=[a])


def test_cancel_during_wait_writable_does_not_leak(sockets):
    a, _ = sockets
    while True:  # fill the buffer so that writing would block
        try:
            a.send(b"x" * 65536)
        except BlockingIOError:
            break

    async def writer():
        await yl.wait_writable(a.fileno())

    check_in_kernel(_cancel_blocked(writer), 200, "cancel during wait_writable")


def test_cancel_during_join_does_not_leak(sockets):
    a, _ = sockets

    async def blocked():
        await yl.wait_readable(a)  # until cancelled

    async def step():
        target = yl.spawn(blocked)
        joiner = yl.spawn(_join, target)
        await yl.sleep(0)
        await yl.sleep(0)
        assert joiner.cancel()
        try:
            await joiner
        except yl.CancelledError:
            pass
        assert not target.done()  # cancelling a joiner leaves the target alone
        target.cancel()
        try:
            await target
        except yl.CancelledError:
            pass

    check_in_kernel(step, 200, "cancel during join", refs=[a])


async def _join(task):
    return await task


def test_cancel_before_start_and_while_ready_does_not_leak():
    payload = object()

    def two_steps():
        yield
        return payload

    async def step():
        t = yl.spawn(_return, payload)
        t.cancel()  # before its first step
        u = yl.spawn(two_steps)
        await yl.sleep(0)
        u.cancel()  # ready again after its bare yield
        for task in (t, u):
            try:
                await task
            except yl.CancelledError:
                pass
            assert task.cancelled()

    check_in_kernel(step, 200, "cancel before start / while ready", refs=[payload])


def test_data_arriving_for_a_reader_does_not_leak(sockets):
    a, b = sockets

    async def reader():
        await yl.wait_readable(a)
        return a.recv(1)

    async def step():
        t = yl.spawn(reader)
        await yl.sleep(0)
        b.send(b"x")
        assert await t == b"x"

    check_in_kernel(step, 200, "fd readiness wake-up", refs=[a])


# --- run() and Kernel objects


def test_run_repeated_does_not_leak():
    payload = object()

    async def forever():
        await yl.sleep(60)

    async def main():
        yl.spawn(forever)  # left alive: run() cancels it on exit
        await yl.spawn(_return, payload)
        await yl.sleep(0)
        return payload

    def step():
        assert yl.run(main) is payload

    check(step, 100, "run() repeated", refs=[payload])


def test_run_raising_repeated_does_not_leak():
    payload = object()

    def step():
        try:
            yl.run(_raise, KeyError(payload))
        except KeyError as e:
            assert e.args[0] is payload

    check(step, 100, "run() raising", refs=[payload])


def test_kernel_objects_created_and_dropped_do_not_leak():
    async def main():
        await yl.sleep(0)

    def step():
        yl.Kernel()  # never run
        k = yl.Kernel()
        k.run(main)
        k.run(main)  # a kernel runs again with a new poller
        assert k.stats()["tasks"] == 0

    check(step, 100, "Kernel objects")


# --- the three C structures, through their Python surface


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    yield r, w
    os.close(r)
    os.close(w)


class _Owner:
    """A weak-referenceable owner of an fd, as a socket is."""


def test_poller_add_remove_wait_does_not_leak(pipe, sockets):
    r, w = pipe
    a, _ = sockets
    os.write(w, b"x")  # r stays readable: nobody reads it
    waiter = object()
    p = Poller()
    q = Poller(oneshot=True)

    def step():
        p.add_reader(r, waiter)  # persistent: registered, kept across events
        assert p.wait(0) == [(r, READ)]
        assert p.wait(0) == [(r, READ)]
        assert p.remove_reader(r) is waiter  # removed with its waiter
        p.add_writer(a.fileno(), waiter, a)
        p.add_reader(a.fileno(), waiter, a)
        assert (a.fileno(), WRITE) in p.wait(0)
        p.remove_writer(a.fileno())
        p.remove_reader(a.fileno())
        q.add_reader(r, waiter, _Owner())  # one-shot: the event disarms it
        assert q.wait(0) == [(r, READ)]
        assert q.remove_reader(r) is waiter
        q.add_writer(w, waiter)  # one side re-armed after the other reported
        q.add_reader(r, waiter)
        q.wait(0)
        q.remove_writer(w)
        q.wait(0)
        q.remove_reader(r)
        q.forget_fd(r)
        assert p.nwaiters == q.nwaiters == 0

    try:
        check(step, 200, "Poller add/remove/wait", refs=[waiter, a])
    finally:
        p.close_poller()
        q.close_poller()


@pytest.mark.skipif(os.sysconf("SC_OPEN_MAX") <= 900, reason="fd 900 is not allowed")
def test_poller_created_grown_and_closed_does_not_leak(pipe):
    r, w = pipe
    high = os.dup2(w, 900)  # beyond the initial fd table: the tables grow
    waiter = object()

    def step():
        p = Poller()
        p.add_reader(r, waiter)
        p.add_writer(high, waiter, _Owner())
        p.close_poller()
        q = Poller()  # dropped without close(): the destructor closes it
        q.add_reader(r, waiter)

    try:
        check(step, 100, "Poller lifecycle", refs=[waiter])
    finally:
        os.close(high)


def test_timer_heap_schedule_cancel_compaction_does_not_leak():
    payload = object()
    h = TimerHeap()

    def step():
        entries = [TimerEntry(payload) for _ in range(300)]
        for i, e in enumerate(entries):
            h.schedule(e, float(i % 17))
        for e in entries[:260]:
            h.unschedule(e)
        assert h.slots < 300  # the 256th cancel compacted the array
        while h.pop(100.0) is not None:
            pass
        assert h.slots == 0
        dropped = TimerHeap()  # dropped with live and cancelled entries
        for e in entries[:3]:
            dropped.schedule(e, 1.0)
        dropped.unschedule(entries[0])

    check(step, 20, "TimerHeap", refs=[payload])


def test_ready_queue_does_not_leak():
    item = object()
    q = ReadyQueue()

    def step():
        for _ in range(10):
            q.append(item)
        for _ in range(10):
            assert q.popleft() is item
        big = ReadyQueue()  # grows past its first 64 slots ...
        for _ in range(100):
            big.append(item)
        for _ in range(50):
            big.popleft()
        # ... and is dropped holding 50 items

    check(step, 200, "ReadyQueue", refs=[item])
