"""The timer heap: (deadline, sequence) order, O(1) cancel, compaction."""

import math
import random
import sys

import pytest

from yieldloop.core._timerheap import TimerEntry, TimerHeap


def drain(h, now=math.inf):
    out = []
    while (e := h.pop(now)) is not None:
        out.append(e.payload)
    return out


def test_entries_fire_in_deadline_order():
    h = TimerHeap()
    rng = random.Random(1)
    deadlines = [rng.random() * 100 for _ in range(1000)]
    for i, d in enumerate(deadlines):
        h.schedule(TimerEntry(i), d)
    assert drain(h) == sorted(range(1000), key=lambda i: deadlines[i])


def test_equal_deadlines_fire_in_push_order():
    h = TimerHeap()
    for i in range(50):
        h.schedule(TimerEntry(i), 5.0)
    assert drain(h) == list(range(50))


def test_only_entries_due_at_now_are_popped():
    h = TimerHeap()
    for i, d in enumerate([1.0, 2.0, 3.0]):
        h.schedule(TimerEntry(i), d)
    assert drain(h, 2.0) == [0, 1]
    assert len(h) == 1
    assert h.deadline == 3.0


def test_cancelled_entries_never_fire_and_do_not_count():
    h = TimerHeap()
    entries = [TimerEntry(i) for i in range(10)]
    for i, e in enumerate(entries):
        h.schedule(e, float(i))
    for e in entries[::2]:
        h.unschedule(e)
    assert len(h) == 5
    assert not entries[0].scheduled
    assert drain(h) == [1, 3, 5, 7, 9]


def test_deadline_skips_a_cancelled_top():
    h = TimerHeap()
    first, second = TimerEntry(0), TimerEntry(1)
    h.schedule(first, 1.0)
    h.schedule(second, 2.0)
    h.unschedule(first)
    assert h.deadline == 2.0
    assert math.isinf(TimerHeap().deadline)


def test_compaction_removes_cancelled_entries_when_they_pile_up():
    h = TimerHeap()
    entries = [TimerEntry(i) for i in range(2000)]
    for i, e in enumerate(entries):
        h.schedule(e, float(i))
    for e in entries[:1500]:
        h.unschedule(e)
    # Compaction ran: the array no longer carries most of the garbage.
    assert h.slots < 1000
    assert drain(h) == list(range(1500, 2000))


def test_cancel_twice_and_cancel_after_firing_are_harmless():
    h = TimerHeap()
    e = TimerEntry("x")
    h.schedule(e, 1.0)
    h.unschedule(e)
    h.unschedule(e)
    assert len(h) == 0
    e2 = TimerEntry("y")
    h.schedule(e2, 1.0)
    assert h.pop(2.0) is e2
    h.unschedule(e2)
    assert len(h) == 0


def test_an_entry_cannot_be_scheduled_twice():
    h = TimerHeap()
    e = TimerEntry()
    h.schedule(e, 1.0)
    with pytest.raises(RuntimeError, match="already scheduled"):
        h.schedule(e, 2.0)


def test_nan_deadline_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        TimerHeap().schedule(TimerEntry(), math.nan)


def test_the_heap_owns_one_reference_per_entry_and_releases_it():
    h = TimerHeap()
    e = TimerEntry()
    base = sys.getrefcount(e)
    h.schedule(e, 1.0)
    assert sys.getrefcount(e) == base + 1
    h.unschedule(e)
    h.pop(0.0)              # drops the cancelled top
    assert sys.getrefcount(e) == base
    h.schedule(e, 1.0)
    del h
    assert sys.getrefcount(e) == base


def test_random_schedule_and_cancel_matches_a_sorted_model():
    rng = random.Random(7)
    h = TimerHeap()
    live = {}
    seq = 0
    for _ in range(5000):
        op = rng.random()
        if op < 0.6:
            e = TimerEntry(seq)
            d = float(rng.randint(0, 50))
            h.schedule(e, d)
            live[seq] = (d, seq, e)
            seq += 1
        elif op < 0.85 and live:
            key = rng.choice(list(live))
            h.unschedule(live.pop(key)[2])
        else:
            now = float(rng.randint(0, 50))
            popped = drain(h, now)
            expected = [s for d, s, _ in sorted(live.values()) if d <= now]
            assert popped == expected
            for s in popped:
                del live[s]
        assert len(h) == len(live)
