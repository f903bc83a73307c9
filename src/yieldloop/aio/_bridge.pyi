"""Mixing the front ends: native traps awaited by asyncio Tasks of
yieldloop.Loop (no Python API: the Task and the kernel call it in C)."""
