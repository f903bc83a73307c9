"""The native front end: the kernel behind yieldloop.run(), its tasks and its API."""
