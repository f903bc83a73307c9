"""References the core holds in C (arrays, intrusive links) are visible to
the garbage collector, so that a cycle through one can be collected.

``gc.get_referents(x)`` calls x's tp_traverse: what it lists is exactly
what the collector sees.
"""

import gc
import os
import weakref

import yieldloop as yl
from yieldloop.core._poller import Poller
from yieldloop.core._readyqueue import ReadyQueue
from yieldloop.core._timerheap import TimerEntry, TimerHeap


class Marker:
    """Something to look for among the referents."""


def test_wait_list_shows_its_parked_traps_to_the_collector():
    ev = yl.Event()
    waiting = ev.wait()
    trap = waiting.send(None)               # parked in the Event's wait list
    [wait_list] = [r for r in gc.get_referents(trap) if type(r).__name__ == "WaitList"]
    assert trap in gc.get_referents(wait_list)
    waiting.close()
    assert trap not in gc.get_referents(wait_list)


def test_ready_queue_shows_its_items_to_the_collector():
    q = ReadyQueue()
    items = [Marker() for _ in range(100)]   # enough to wrap and grow the ring
    for x in items:
        q.append(x)
    for _ in range(50):
        q.popleft()
    for x in items[:50]:
        q.append(x)
    referents = gc.get_referents(q)
    assert all(any(x is r for r in referents) for x in items)


def test_timer_heap_shows_its_entries_to_the_collector():
    h = TimerHeap()
    entries = [TimerEntry(i) for i in range(10)]
    for i, e in enumerate(entries):
        h.schedule(e, float(i))
    referents = gc.get_referents(h)
    assert all(any(e is r for r in referents) for e in entries)


def test_poller_shows_its_waiters_to_the_collector():
    r, w = os.pipe()
    p = Poller()
    try:
        reader, writer = Marker(), Marker()
        p.add_reader(r, reader)
        p.add_writer(w, writer)
        referents = gc.get_referents(p)
        assert any(reader is x for x in referents) and any(writer is x for x in referents)
    finally:
        p.close_poller()
        os.close(r)
        os.close(w)


def test_kernel_shows_its_live_tasks_to_the_collector():
    seen = []

    async def main():
        child = yl.spawn(yl.sleep(0))
        referents = gc.get_referents(yl.current_kernel())
        seen.append(any(child is x for x in referents))
        seen.append(any(yl.current_task() is x for x in referents))
        await child

    yl.run(main)
    assert seen == [True, True]


def test_tracer_shows_the_values_it_keeps_to_the_collector():
    result = Marker()

    async def main():
        return result

    tracer = yl.Tracer()
    yl.run(main, trace=tracer)
    assert any(result is x for x in gc.get_referents(tracer))


def test_unclosed_event_loop_with_a_reader_is_collected():
    # The loop's own self-pipe reader and this one refer back to the loop
    # through the poller's C array: before the poller showed its waiters
    # to the collector, such a loop was never freed.
    import warnings

    r, w = os.pipe()
    try:
        loop = yl.new_event_loop()
        loop.add_reader(r, loop.stop)
        ref = weakref.ref(loop)
        del loop
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)   # "unclosed event loop"
            gc.collect()
        assert ref() is None
    finally:
        os.close(r)
        os.close(w)
