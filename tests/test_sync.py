"""Event, Lock, Semaphore, BoundedSemaphore, Condition: behaviour, fairness, cancellation."""

import pytest

import yieldloop as yl


async def settle(n=5):
    """Let every ready task run a few steps."""
    for _ in range(n):
        await yl.sleep(0)


# --- Event


def test_event_wakes_every_waiter_in_order_and_stays_set():
    order = []

    async def waiter(i, ev):
        assert await ev.wait() is True
        order.append(i)

    async def main():
        ev = yl.Event()
        tasks = [yl.spawn(waiter, i, ev) for i in range(4)]
        await settle()
        assert order == [] and not ev.is_set()
        ev.set()
        for t in tasks:
            await t
        assert await ev.wait() is True         # already set: no wait
        ev.clear()
        assert not ev.is_set()

    yl.run(main)
    assert order == [0, 1, 2, 3]


def test_event_wait_cancelled_leaves_no_waiter():
    async def main():
        ev = yl.Event()
        t = yl.spawn(ev.wait())
        await settle()
        assert "waiters:1" in repr(ev)
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t
        assert "waiters" not in repr(ev)

    yl.run(main)


# --- Lock


def test_lock_is_fifo_fair():
    order = []

    async def worker(i, lock):
        async with lock:
            order.append(i)
            await yl.sleep(0)

    async def main():
        lock = yl.Lock()
        await yl.gather(*[worker(i, lock) for i in range(6)])
        assert not lock.locked()

    yl.run(main)
    assert order == list(range(6))


def test_newcomer_queues_behind_a_woken_waiter():
    order = []

    async def main():
        lock = yl.Lock()
        await lock.acquire()

        async def waiter(name):
            async with lock:
                order.append(name)

        first = yl.spawn(waiter, "first")
        await settle()
        lock.release()               # first is woken but has not run yet
        late = yl.spawn(waiter, "late")
        await first
        await late

    yl.run(main)
    assert order == ["first", "late"]


def test_release_of_unlocked_lock_raises():
    async def main():
        with pytest.raises(RuntimeError, match="not acquired"):
            yl.Lock().release()

    yl.run(main)


def test_cancelled_lock_waiter_never_leaves_the_lock_held():
    async def main():
        lock = yl.Lock()
        await lock.acquire()
        waiter = yl.spawn(lock.acquire())
        other = yl.spawn(lock.acquire())
        await settle()
        lock.release()               # waiter is woken...
        waiter.cancel()              # ...and cancelled before it runs
        with pytest.raises(yl.CancelledError):
            await waiter
        assert await other is True   # the turn passed on
        assert lock.locked()
        lock.release()
        assert not lock.locked()

    yl.run(main)


def test_lock_body_cancelled_releases_the_lock():
    async def holder(lock):
        async with lock:
            await yl.sleep(10)

    async def main():
        lock = yl.Lock()
        t = yl.spawn(holder, lock)
        await settle()
        assert lock.locked()
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t
        assert not lock.locked()

    yl.run(main)


def test_lock_works_from_generators_with_yield_from_and_yield():
    async def main():
        lock = yl.Lock()

        def by_yield_from():
            assert (yield from lock.acquire()) is True
            lock.release()
            return "yield from"

        def by_yield():
            assert (yield lock.acquire()) is True
            lock.release()
            return "yield"

        assert await yl.spawn(by_yield_from) == "yield from"
        assert await yl.spawn(by_yield) == "yield"

    yl.run(main)


# --- Semaphore


def test_semaphore_limits_concurrency_and_is_fifo():
    active = []
    peak = []
    order = []

    async def worker(i, sem):
        async with sem:
            order.append(i)
            active.append(i)
            peak.append(len(active))
            await settle(2)
            active.remove(i)

    async def main():
        sem = yl.Semaphore(2)
        await yl.gather(*[worker(i, sem) for i in range(7)])

    yl.run(main)
    assert max(peak) == 2
    assert order == list(range(7))


def test_semaphore_rejects_negative_value():
    with pytest.raises(ValueError):
        yl.Semaphore(-1)


def test_cancelled_semaphore_waiter_gives_its_slot_back():
    async def main():
        sem = yl.Semaphore(1)
        await sem.acquire()
        waiter = yl.spawn(sem.acquire())
        other = yl.spawn(sem.acquire())
        await settle()
        sem.release()                # the slot is handed to waiter...
        waiter.cancel()              # ...which leaves before using it
        with pytest.raises(yl.CancelledError):
            await waiter
        assert await other is True   # other got it
        assert sem.locked()

    yl.run(main)


def test_cancel_during_semaphore_wait_does_not_change_the_count():
    async def main():
        sem = yl.Semaphore(0)
        t = yl.spawn(sem.acquire())
        await settle()
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t
        sem.release()
        assert not sem.locked()
        assert await sem.acquire() is True
        assert sem.locked()

    yl.run(main)


def test_bounded_semaphore_refuses_extra_release():
    async def main():
        sem = yl.BoundedSemaphore(1)
        await sem.acquire()
        sem.release()
        with pytest.raises(ValueError, match="too many"):
            sem.release()

    yl.run(main)


# --- Condition


def test_condition_notify_wakes_waiters_in_order():
    got = []

    async def consumer(i, cond, items):
        async with cond:
            await cond.wait_for(lambda: items)
            got.append((i, items.pop(0)))

    async def main():
        cond = yl.Condition()
        items = []
        tasks = [yl.spawn(consumer, i, cond, items) for i in range(3)]
        await settle()
        for n in range(3):
            async with cond:
                items.append(n)
                cond.notify()
            await settle()
        for t in tasks:
            await t

    yl.run(main)
    assert got == [(0, 0), (1, 1), (2, 2)]


def test_condition_notify_all_and_lock_is_reacquired():
    woken = []

    async def waiter(i, cond):
        async with cond:
            assert await cond.wait() is True
            assert cond.locked()
            woken.append(i)

    async def main():
        cond = yl.Condition()
        tasks = [yl.spawn(waiter, i, cond) for i in range(3)]
        await settle()
        async with cond:
            cond.notify_all()
        for t in tasks:
            await t

    yl.run(main)
    assert woken == [0, 1, 2]


def test_condition_wait_and_notify_need_the_lock():
    async def main():
        cond = yl.Condition()
        with pytest.raises(RuntimeError, match="un-acquired"):
            await cond.wait()
        with pytest.raises(RuntimeError, match="un-acquired"):
            cond.notify()

    yl.run(main)


def test_cancelled_condition_wait_reacquires_the_lock_and_passes_notification():
    log = []

    async def waiter(name, cond):
        async with cond:
            try:
                await cond.wait()
                log.append(name + " notified")
            except yl.CancelledError:
                assert cond.locked()           # re-acquired even when cancelled
                log.append(name + " cancelled")
                raise

    async def main():
        cond = yl.Condition()
        a = yl.spawn(waiter, "a", cond)
        b = yl.spawn(waiter, "b", cond)
        await settle()
        async with cond:
            cond.notify(1)                     # a is chosen...
            a.cancel()                         # ...but cancelled
        with pytest.raises(yl.CancelledError):
            await a
        await b                                # the notification went to b
        assert not cond.locked()

    yl.run(main)
    assert log == ["a cancelled", "b notified"]


def test_condition_with_a_given_lock_shares_it():
    async def main():
        lock = yl.Lock()
        cond = yl.Condition(lock)
        async with cond:
            assert lock.locked()
        assert not lock.locked()

    yl.run(main)


@pytest.mark.parametrize("form", ["yield from", "yield"])
def test_every_primitive_awaitable_works_from_generators(form):
    """Event.wait, Lock/Semaphore/Condition acquire, Condition.wait,
    Queue.put/get/join, gather, wait_for, to_thread from plain generators."""

    def use(aw):
        # One generator step per form; returns the awaitable's result.
        if form == "yield from":
            return (yield from aw)
        return (yield aw)

    async def notify(cond):
        async with cond:
            cond.notify_all()

    def program():
        ev, lock, sem, cond, q = yl.Event(), yl.Lock(), yl.Semaphore(1), yl.Condition(), yl.Queue()
        ev.set()
        results = [(yield from use(ev.wait()))]
        results.append((yield from use(lock.acquire())))
        lock.release()
        results.append((yield from use(sem.acquire())))
        sem.release()
        results.append((yield from use(cond.acquire())))
        yl.spawn(notify, cond)
        results.append((yield from use(cond.wait())))
        cond.release()
        yield from use(q.put("item"))
        results.append((yield from use(q.get())))
        q.task_done()
        yield from use(q.join())
        results.append((yield from use(yl.gather(yl.sleep(0), yl.sleep(0)))))
        results.append((yield from use(yl.wait_for(yl.sleep(0), 1))))
        results.append((yield from use(yl.to_thread(len, "abc"))))
        return results

    assert yl.run(program) == [True, True, True, True, True, "item", [None, None], None, 3]
