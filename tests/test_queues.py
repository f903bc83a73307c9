"""Queue, LifoQueue, PriorityQueue: order, bounds, join, shutdown, cancellation."""

import pytest

import yieldloop as yl


async def settle(n=5):
    for _ in range(n):
        await yl.sleep(0)


def test_fifo_lifo_and_priority_order():
    async def main():
        out = {}
        for cls in (yl.Queue, yl.LifoQueue, yl.PriorityQueue):
            q = cls()
            for x in (3, 1, 2):
                await q.put(x)
            out[cls.__name__] = [await q.get() for _ in range(3)]
        return out

    assert yl.run(main) == {"Queue": [3, 1, 2], "LifoQueue": [2, 1, 3], "PriorityQueue": [1, 2, 3]}


def test_nowait_variants_raise_when_they_cannot_proceed():
    async def main():
        q = yl.Queue(maxsize=1)
        with pytest.raises(yl.QueueEmpty):
            q.get_nowait()
        q.put_nowait("a")
        assert q.full() and q.qsize() == 1 and q.maxsize == 1
        with pytest.raises(yl.QueueFull):
            q.put_nowait("b")
        assert q.get_nowait() == "a"
        assert q.empty()

    yl.run(main)


def test_put_waits_while_full_and_get_waits_while_empty():
    log = []

    async def producer(q):
        for i in range(4):
            await q.put(i)
            log.append(("put", i))

    async def consumer(q):
        for _ in range(4):
            item = await q.get()
            log.append(("got", item))
            await yl.sleep(0)

    async def main():
        q = yl.Queue(maxsize=1)
        await yl.gather(producer(q), consumer(q))

    yl.run(main)
    assert [e for e in log if e[0] == "got"] == [("got", i) for i in range(4)]
    # With one slot, at most one item waits between a put and its get.
    ahead = peak = 0
    for kind, _ in log:
        ahead += 1 if kind == "put" else -1
        peak = max(peak, ahead)
    assert peak == 1


def test_getters_are_served_in_fifo_order():
    got = []

    async def getter(i, q):
        got.append((i, await q.get()))

    async def main():
        q = yl.Queue()
        tasks = [yl.spawn(getter, i, q) for i in range(4)]
        await settle()
        for x in "abcd":
            q.put_nowait(x)
        for t in tasks:
            await t

    yl.run(main)
    assert got == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]


def test_join_waits_for_task_done_of_every_item():
    done = []

    async def worker(q):
        while True:
            item = await q.get()
            await yl.sleep(0)
            done.append(item)
            q.task_done()

    async def main():
        q = yl.Queue()
        workers = [yl.spawn(worker, q) for _ in range(2)]
        for i in range(5):
            q.put_nowait(i)
        await q.join()
        assert sorted(done) == list(range(5))
        for w in workers:
            w.cancel()
        with pytest.raises(ValueError, match="too many"):
            q.task_done()

    yl.run(main)


def test_cancelled_getter_never_loses_an_item():
    async def main():
        q = yl.Queue()
        first = yl.spawn(q.get())
        second = yl.spawn(q.get())
        await settle()
        q.put_nowait("item")         # first is woken for it...
        first.cancel()               # ...and cancelled before it runs
        with pytest.raises(yl.CancelledError):
            await first
        assert await second == "item"

    yl.run(main)


def test_cancelled_putter_never_loses_a_free_slot():
    async def main():
        q = yl.Queue(maxsize=1)
        q.put_nowait("x")
        first = yl.spawn(q.put("a"))
        second = yl.spawn(q.put("b"))
        await settle()
        assert q.get_nowait() == "x"   # first is woken for the slot...
        first.cancel()                 # ...and leaves
        with pytest.raises(yl.CancelledError):
            await first
        await second
        assert q.get_nowait() == "b"
        assert q.empty()

    yl.run(main)


def test_cancel_while_waiting_to_get_leaves_no_getter():
    async def main():
        q = yl.Queue()
        t = yl.spawn(q.get())
        await settle()
        assert "_getters[1]" in repr(q)
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t
        assert "_getters" not in repr(q)
        q.put_nowait(1)
        assert q.get_nowait() == 1

    yl.run(main)


def test_shutdown_wakes_waiters_and_refuses_new_puts():
    async def main():
        q = yl.Queue()
        getter = yl.spawn(q.get())
        await settle()
        q.shutdown()
        with pytest.raises(yl.QueueShutDown):
            await getter
        with pytest.raises(yl.QueueShutDown):
            q.put_nowait(1)
        with pytest.raises(yl.QueueShutDown):
            await q.put(1)

    yl.run(main)


def test_shutdown_lets_getters_drain_unless_immediate():
    async def main():
        q = yl.Queue()
        q.put_nowait(1)
        q.put_nowait(2)
        q.shutdown()
        assert await q.get() == 1
        q2 = yl.Queue()
        q2.put_nowait(1)
        q2.shutdown(immediate=True)
        assert q2.empty()
        with pytest.raises(yl.QueueShutDown):
            await q2.get()
        await q2.join()               # dropped items count as done

    yl.run(main)


def test_subclass_can_change_the_container():
    class SetQueue(yl.Queue):
        def _init(self, maxsize):
            self._items = []

        def qsize(self):
            return len(self._items)

        def empty(self):
            return not self._items

        def _put(self, item):
            if item not in self._items:
                self._items.append(item)

        def _get(self):
            return self._items.pop(0)

    async def main():
        q = SetQueue()
        for x in (1, 1, 2):
            q.put_nowait(x)
        return [await q.get(), await q.get()], q.empty()

    assert yl.run(main) == ([1, 2], True)


def test_queue_is_generic_for_type_hints():
    assert yl.Queue[int].__origin__ is yl.Queue


def test_queue_methods_work_from_generators():
    def producer(q):
        yield from q.put(1)
        yield q.put(2)

    def consumer(q):
        a = yield from q.get()
        b = yield q.get()
        return a + b

    async def main():
        q = yl.Queue(maxsize=1)
        p = yl.spawn(producer, q)
        total = await yl.spawn(consumer, q)
        await p
        return total

    assert yl.run(main) == 3
