"""The ready queue: a FIFO C ring buffer of owned references."""

import sys

import pytest

from yieldloop.core._readyqueue import ReadyQueue


def test_items_come_out_in_the_order_they_went_in():
    q = ReadyQueue()
    for i in range(10):
        q.append(i)
    assert [q.popleft() for _ in range(10)] == list(range(10))
    assert len(q) == 0


def test_grows_past_its_initial_capacity_keeping_order_across_the_wrap():
    q = ReadyQueue()
    start = q.capacity
    # Move the head forward so that growth has to unroll a wrapped ring.
    for i in range(start // 2):
        q.append(-1)
    for i in range(start // 2):
        q.popleft()
    for i in range(start * 3 + 5):
        q.append(i)
    assert q.capacity >= start * 4
    assert [q.popleft() for _ in range(start * 3 + 5)] == list(range(start * 3 + 5))


def test_pop_from_empty_queue_raises_index_error():
    with pytest.raises(IndexError):
        ReadyQueue().popleft()


def test_holds_a_reference_to_each_item_until_it_leaves():
    q = ReadyQueue()
    item = object()
    base = sys.getrefcount(item)
    q.append(item)
    assert sys.getrefcount(item) == base + 1
    q.popleft()
    assert sys.getrefcount(item) == base


def test_dropping_the_queue_releases_its_items():
    q = ReadyQueue()
    item = object()
    base = sys.getrefcount(item)
    for _ in range(100):
        q.append(item)
    del q
    assert sys.getrefcount(item) == base
