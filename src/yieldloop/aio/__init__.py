"""The asyncio front end: yieldloop.Loop, its Task and Future, its transports."""
