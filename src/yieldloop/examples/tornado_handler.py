"""A Tornado-style handler: x = yield fetch() gets the result sent back.

In the Python 2 days, with no ``yield from``, Twisted's ``inlineCallbacks``
and Tornado's ``@gen.coroutine`` wrote asynchronous code with plain
generators: the handler yields what it waits for, the framework waits for
it and sends the result back in with ``send()``, or raises the error at the
``yield`` with ``throw()``.

yieldloop's kernel does this for any awaitable a task yields: it keeps the
handler suspended, runs the awaitable (here an ``async def`` coroutine) on
the handler's behalf, and when it returns, sends its result into the
handler; when it raises, throws the error in. No decorator is needed.
"""

import yieldloop as yl

USERS = {1: "ada", 2: "grace"}
ORDERS = {"ada": ["engine", "notes"], "grace": ["compiler"]}
REQUESTS = (("r1", 1), ("r2", 2), ("r3", 9))  # (request, user id); user 9 does not exist


async def fetch_user(user_id):
    """Pretend to query a database for a user's name."""
    await yl.sleep(0.05)
    return USERS[user_id]  # an unknown id raises KeyError


async def fetch_orders(name):
    """Pretend to query a service for a user's orders."""
    await yl.sleep(0.05)
    return ORDERS[name]


def handle(request, user_id):
    """A request handler in the Tornado style: a plain generator."""
    print(f"  request {request}: user {user_id}")
    try:
        name = yield fetch_user(user_id)  # yields a coroutine; name is what it returns
    except KeyError:  # the coroutine's error, thrown in at the yield
        print(f"  request {request}: no user {user_id}")
        return f"{request}: 404 Not Found"
    orders = yield fetch_orders(name)
    print(f"  request {request}: {name} ordered {', '.join(orders)}")
    return f"{request}: 200 OK, {len(orders)} order(s) for {name}"


def server():
    """Handle three requests at once, then print the responses in order."""
    requests = [yl.spawn(handle, request, user_id) for request, user_id in REQUESTS]
    responses = []
    for task in requests:
        responses.append((yield task))  # a Task is an awaitable too
    return responses


def main():
    """Run the example."""
    print("Three handlers run at once; each yields coroutines and gets results back:")
    for response in yl.run(server):
        print(f"  response {response}")


if __name__ == "__main__":
    main()
