# The send queue of includes/sendq.h.
cdef extern from "sendq.h":
    ctypedef struct yl_sendq:
        Py_ssize_t size
    int yl_sendq_push(yl_sendq *q, object data, Py_ssize_t start) except -1
    Py_ssize_t yl_sendq_send(yl_sendq *q, int fd) except -2
    void yl_sendq_clear(yl_sendq *q) noexcept
    void yl_sendq_free(yl_sendq *q) noexcept
