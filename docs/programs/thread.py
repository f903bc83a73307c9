"""A blocking call runs in a worker thread; the thread's answer wakes the task."""

import time

import yieldloop as yl


def blocking(n):
    time.sleep(0.01)  # stands for a blocking library call
    return n * 2


async def main():
    ticker = yl.spawn(yl.sleep, 0.005, name="sleeper")
    result = await yl.to_thread(blocking, 21)
    await ticker
    return result


print(yl.run(main))
