"""Task groups, timeouts, gather and cancellation."""

import yieldloop as yl


async def fetch(name, delay, fail=False):
    await yl.sleep(delay)
    if fail:
        raise ConnectionError(f"{name} is down")
    return name


async def main():
    # 1. A task group waits for all its children at the end of the block.
    async with yl.TaskGroup() as tg:
        a = tg.spawn(fetch, "a", 0.02)
        b = tg.spawn(fetch, "b", 0.01)
    print("group:", a.result(), b.result())

    # 2. One child fails: its siblings are cancelled, errors come out together.
    try:
        async with yl.TaskGroup() as tg:
            slow = tg.spawn(fetch, "slow", 10)
            tg.spawn(fetch("bad", 0.01, fail=True))
    except* ConnectionError as group:
        print("failed:", [str(e) for e in group.exceptions], "| slow cancelled:", slow.cancelled())

    # 3. A deadline: timeout() turns the cancellation into TimeoutError.
    try:
        async with yl.timeout(0.01):
            await fetch("never", 10)
    except TimeoutError:
        print("timed out")

    # 4. gather() returns results in the order asked; wait_for() times one awaitable.
    print("gather:", await yl.gather(fetch("x", 0.02), fetch("y", 0.01)))
    print("wait_for:", await yl.wait_for(fetch("quick", 0.001), timeout=1))

    # 5. Cancel a task by hand; awaiting it raises CancelledError (asyncio's).
    t = yl.spawn(fetch, "long", 10)
    await yl.sleep(0)
    t.cancel()
    try:
        await t
    except yl.CancelledError:
        print("cancelled:", t.cancelled())


yl.run(main)
