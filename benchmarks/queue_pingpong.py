"""Queue ping-pong: two tasks bounce a token through two queues.

The figure is the time per round trip (two puts, two gets, two wake-ups):
the cost of the primitives' wait lists and of waking a task through them.
"""

import time

TITLE = "queue ping-pong"
UNIT = "ns/round trip"
RUNTIMES = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio")
PARAMS = {"quick": {"rounds": 20000}, "full": {"rounds": 100000}}


def ops(rounds):
    return rounds


def yieldloop(rounds):
    import yieldloop as yl

    async def pong(inbox, outbox):
        get, put = inbox.get, outbox.put
        for _ in range(rounds):
            await put(await get())

    async def main():
        ping, back = yl.Queue(1), yl.Queue(1)
        t = yl.spawn(pong, ping, back)
        get, put = back.get, ping.put
        t0 = time.perf_counter()
        for i in range(rounds):
            await put(i)
            await get()
        elapsed = time.perf_counter() - t0
        await t
        return elapsed

    return yl.run(main)


def _asyncio(runtime, rounds):
    import asyncio

    from .runtimes import run_asyncio

    async def pong(inbox, outbox):
        get, put = inbox.get, outbox.put
        for _ in range(rounds):
            await put(await get())

    async def main():
        ping, back = asyncio.Queue(1), asyncio.Queue(1)
        t = asyncio.ensure_future(pong(ping, back))
        get, put = back.get, ping.put
        t0 = time.perf_counter()
        for i in range(rounds):
            await put(i)
            await get()
        elapsed = time.perf_counter() - t0
        await t
        return elapsed

    return run_asyncio(runtime, main)


def asyncio(rounds):
    return _asyncio("asyncio", rounds)


def uvloop(rounds):
    return _asyncio("uvloop", rounds)


def yieldloop_loop(rounds):
    return _asyncio("yieldloop-loop", rounds)


def trio(rounds):
    import trio as _trio

    async def pong(receive, send):
        for _ in range(rounds):
            await send.send(await receive.receive())

    async def main():
        ping_send, ping_recv = _trio.open_memory_channel(1)
        back_send, back_recv = _trio.open_memory_channel(1)
        async with _trio.open_nursery() as nursery:
            nursery.start_soon(pong, ping_recv, back_send)
            t0 = time.perf_counter()
            for i in range(rounds):
                await ping_send.send(i)
                await back_recv.receive()
            return time.perf_counter() - t0

    return _trio.run(main)
