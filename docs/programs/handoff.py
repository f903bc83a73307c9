"""A producer hands items to a consumer through a Queue of one slot."""

import yieldloop as yl


async def producer(q):
    for item in ("a", "b"):
        await q.put(item)  # waits while the queue is full
    await q.put(None)


async def consumer(q):
    got = []
    while (item := await q.get()) is not None:  # waits while it is empty
        got.append(item)
    return got


async def main():
    q = yl.Queue(maxsize=1)
    c = yl.spawn(consumer, q, name="consumer")
    yl.spawn(producer, q, name="producer")
    return await c


print(yl.run(main))
