"""Where asyncio finds yieldloop.Loop's tasks (no Python API: the Task calls
it in C)."""
