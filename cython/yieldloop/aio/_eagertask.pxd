# asyncio's eager task factory on yieldloop.Loop (see _eagertask.pyx).
from yieldloop.aio._loopbase cimport LoopBase

cdef bint is_eager_task_factory(object factory)
cdef object create_eager_task(LoopBase loop, object coro, dict kwargs)
