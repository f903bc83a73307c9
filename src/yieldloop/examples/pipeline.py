"""A pipeline: a producer, a bounded queue and a pool of workers in three styles.

The producer puts jobs into a Queue(maxsize=2). When the queue is full,
put() parks the producer in the queue's wait list until a worker takes a
job. Three workers, each written in a different coroutine style, take jobs
with get() (which parks a worker while the queue is empty) and mark them
done with task_done(); queue.join() returns once every job is done. Then
shutdown() wakes the idle workers with QueueShutDown and they stop.

The same Queue is used three ways: ``await queue.get()``,
``yield from queue.get()`` and ``job = yield queue.get()``.
"""

import yieldloop as yl

JOBS = 6


def steps(n):
    """Simulated work: give way to the other tasks ``n`` times."""
    for _ in range(n):
        yield  # a bare yield: back of the ready queue


async def producer(queue):
    """async def: put the jobs in, waiting whenever the queue is full."""
    for job in range(1, JOBS + 1):
        if queue.full():
            print(f"  producer: queue full, waits to put job {job}")
        await queue.put(job)  # parks in the queue's wait list while full
        print(f"  producer: put job {job}")


@yl.coroutine
def legacy_worker(name, queue, done):
    """asyncio-3.4 style: yield from the queue's awaitables."""
    while True:
        try:
            job = yield from queue.get()
        except yl.QueueShutDown:
            return f"{name} stopped"
        print(f"  {name}: took job {job}")
        yield from steps(job % 3 + 1)
        done.append((job, name))
        queue.task_done()


def tornado_worker(name, queue, done):
    """Tornado style: yield the awaitable, the kernel sends the result back."""
    while True:
        try:
            job = yield queue.get()
        except yl.QueueShutDown:
            return f"{name} stopped"
        print(f"  {name}: took job {job}")
        yield from steps(job % 3 + 1)
        done.append((job, name))
        queue.task_done()


async def native_worker(name, queue, done):
    """async def / await."""
    while True:
        try:
            job = await queue.get()
        except yl.QueueShutDown:
            return f"{name} stopped"
        print(f"  {name}: took job {job}")
        for _ in range(job % 3 + 1):
            await yl.sleep(0)
        done.append((job, name))
        queue.task_done()


async def pipeline():
    queue = yl.Queue(maxsize=2)
    done = []
    workers = [
        yl.spawn(legacy_worker, "legacy", queue, done),
        yl.spawn(tornado_worker, "tornado", queue, done),
        yl.spawn(native_worker, "native", queue, done),
    ]
    await producer(queue)
    await queue.join()  # parks until task_done() was called for every job
    print(f"  queue.join() returned: {len(done)} jobs done, queue empty: {queue.empty()}")
    queue.shutdown()  # wakes the workers parked in get()
    stopped = await yl.gather(*workers)
    print(f"  {', '.join(stopped)}")
    return sorted(done)


def main():
    """Run the example."""
    print(f"A producer, a Queue(maxsize=2) and three workers; {JOBS} jobs:")
    done = yl.run(pipeline)
    print("  who did what: " + ", ".join(f"{job}:{name}" for job, name in done))


if __name__ == "__main__":
    main()
