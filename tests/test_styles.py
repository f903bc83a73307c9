"""The four coroutine generations, each alone and all mixed in one program."""

import yieldloop as yl


def test_plain_generators_round_robin():
    log = []

    def countdown(name, n):
        while n:
            log.append(f"{name}{n}")
            n -= 1
            yield

    def main():
        a = yl.spawn(countdown, "a", 2)
        b = yl.spawn(countdown, "b", 2)
        yield a
        yield b

    yl.run(main)
    assert log == ["a2", "b2", "a1", "b1"]


def test_generator_coroutine_with_yield_from_and_return_value():
    @yl.coroutine
    def add_later(a, b):
        yield from yl.sleep(0)
        return a + b

    @yl.coroutine
    def main():
        x = yield from add_later(1, 2)
        y = yield from add_later(x, 3)
        return y

    assert yl.run(main) == 6


def test_decorated_generator_is_awaitable_from_async_def():
    @yl.coroutine
    def legacy():
        yield from yl.sleep(0)
        return "legacy"

    async def main():
        return await legacy()

    assert yl.run(main) == "legacy"


def test_all_four_styles_in_one_program():
    log = []

    def plain(n):                          # 1. plain generator, bare yield
        for i in range(n):
            log.append(("plain", i))
            yield

    async def fetch(x):                    # 4. native coroutine
        await yl.sleep(0.005)
        return x * 10

    def tornado():                         # 2. x = yield awaitable
        a = yield fetch(1)
        b = yield yl.sleep(0)
        log.append(("tornado", a, b))
        return a

    @yl.coroutine
    def legacy():                          # 3. yield from
        r = yield from yl.spawn(tornado())
        yield from yl.sleep(0.005)
        log.append(("legacy", r))
        return r + 1

    async def main():
        p = yl.spawn(plain, 3)
        result = await legacy()
        await p
        t = yl.spawn(fetch(4))
        via_yield_from = await t
        return result, via_yield_from

    assert yl.run(main) == (11, 40)
    assert log[:3] == [("plain", 0), ("plain", 1), ("plain", 2)]
    assert ("tornado", 10, None) in log
    assert log[-1] == ("legacy", 10)


def test_task_is_joinable_by_await_yield_from_and_yield():
    async def child():
        await yl.sleep(0)
        return "r"

    def by_yield_from(t):
        return (yield from t)

    def by_yield(t):
        return (yield t)

    async def main():
        t = yl.spawn(child)
        a = await t
        b = await yl.spawn(by_yield_from, t)
        c = await yl.spawn(by_yield, t)
        return a, b, c

    assert yl.run(main) == ("r", "r", "r")


def test_every_awaitable_works_three_ways():
    import os

    r, w = os.pipe()
    try:
        async def with_await():
            await yl.sleep(0.001)
            await yl.wait_writable(w)
            return "await"

        def with_yield_from():
            yield from yl.sleep(0.001)
            yield from yl.wait_writable(w)
            return "yield from"

        def with_yield():
            yield yl.sleep(0.001)
            yield yl.wait_writable(w)
            return "yield"

        async def main():
            return [await yl.spawn(f) for f in (with_await, with_yield_from, with_yield)]

        assert yl.run(main) == ["await", "yield from", "yield"]
    finally:
        os.close(r)
        os.close(w)
