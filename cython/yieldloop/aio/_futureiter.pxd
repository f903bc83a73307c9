# The iterator of ``await future`` (see _futureiter.pyx).
cimport cython
from yieldloop.aio._aiofuture cimport Future


@cython.final
@cython.freelist(64)
cdef class _FutureIter:
    cdef Future _fut


cdef _FutureIter new_iter(Future fut)
