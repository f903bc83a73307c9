"""The tutorial's last program: a generator task and coroutines on one kernel."""

import yieldloop as yl


def ticker(n):
    """A plain generator task, Tornado style: it yields an awaitable."""
    for i in range(1, n + 1):
        print("tick", i)
        yield yl.sleep(0.01)  # the kernel sleeps for it and resumes it


async def fetch(name, delay):
    """A native coroutine: it awaits a sleep, as if waiting for a server."""
    await yl.sleep(delay)
    return f"<{name}>"


async def main():
    tick = yl.spawn(ticker, 3, name="ticker")
    async with yl.TaskGroup() as tg:  # waits for both fetches at the end of the block
        a = tg.spawn(fetch, "a", 0.02, name="fetch-a")
        b = tg.spawn(fetch, "b", 0.01, name="fetch-b")
    await tick  # join the ticker
    return a.result(), b.result()


print(yl.run(main))
