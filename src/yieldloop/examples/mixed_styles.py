"""One program mixing every style, each calling the others, on one kernel.

A small restaurant. Each part is written in a different generation of
Python coroutine, and they await, delegate to and join each other freely.
To the kernel it all comes down to tasks handing it None (a bare
``yield``), traps (what ``sleep()`` and joining a Task yield) or other
awaitables to run for them.
"""

import yieldloop as yl

COOKING = {"soup": 0.05, "pasta": 0.1, "salad": 0.02}


def dishwasher(plates):
    """1. Plain generator: a bare yield lets the others run after each plate."""
    for n in range(1, plates + 1):
        print(f"  dishwasher: plate {n} clean")
        yield  # None: back of the ready queue


async def cook(dish):
    """4. async def: wait for the dish to cook."""
    await yl.sleep(COOKING[dish])  # a sleep trap, parked in the timer heap
    return f"hot {dish}"


def waiter(table, dish):
    """2. Tornado style: yield an awaitable, get its result back."""
    plate = yield cook(dish)  # the kernel runs cook() for us and sends its result in
    print(f"  waiter: {plate} served to table {table}")
    return table, plate


@yl.coroutine
def kitchen(orders):
    """3. asyncio-3.4 style: run a waiter per order, gathered with yield from."""
    served = yield from yl.gather(*[waiter(table, dish) for table, dish in orders])
    return served


async def incoming_orders():
    """5. Async generator: orders arrive one by one."""
    for table, dish in ((1, "pasta"), (2, "soup"), (3, "salad")):
        await yl.sleep(0)  # to the kernel: let the others run (like a bare yield)
        print(f"  order: table {table} wants {dish}")
        yield table, dish  # to the async for below


async def restaurant():
    """The main task: async def, awaiting and joining all the others."""
    washer = yl.spawn(dishwasher, 3)
    orders = [order async for order in incoming_orders()]
    served = await kitchen(orders)  # async def awaits a @coroutine generator...
    await washer  # ...and joins a plain generator task
    return served


def main():
    """Run the example."""
    print("A restaurant in five styles, on one kernel:")
    served = yl.run(restaurant)
    print(f"  served, by table: {served}")


if __name__ == "__main__":
    main()
