"""The runtimes a workload can run on, and how to run asyncio code on each loop.

- ``yieldloop``: the native API (``yieldloop.run``);
- ``asyncio``: asyncio's default event loop;
- ``uvloop``: asyncio on uvloop's loop (when installed);
- ``yieldloop-loop``: asyncio on yieldloop.Loop, yieldloop's asyncio front end;
- ``trio``: trio (when installed);
- ``floor``: the best a workload can do in pure Python without a scheduler
  (e.g. a bare ``send()`` round-robin), to show how close the others get.
"""

import importlib.util

ALL = ("yieldloop", "yieldloop-loop", "asyncio", "uvloop", "trio", "floor")

#: What the report divides by.
BASELINE = "asyncio"


def available(name):
    """True if runtime ``name`` can run on this machine."""
    if name in ("uvloop", "trio"):
        return importlib.util.find_spec(name) is not None
    return name in ALL


def loop_factory(name):
    """A function returning a new event loop for asyncio-style runtime ``name``."""
    import asyncio

    if name == "asyncio":
        return asyncio.new_event_loop
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if name == "yieldloop-loop":
        import yieldloop

        return yieldloop.new_event_loop
    raise ValueError(f"{name} is not an asyncio event loop")


def run_asyncio(name, main, *args):
    """Run coroutine function ``main(*args)`` on a fresh loop of runtime ``name``."""
    import asyncio

    loop = loop_factory(name)()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main(*args))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
