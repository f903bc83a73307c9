"""asyncio's eager task factory on yieldloop.Loop (no Python API: the loop's
create_task calls it in C)."""
