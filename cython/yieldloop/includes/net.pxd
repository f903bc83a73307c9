from cpython.object cimport PyObject
# The socket system calls of includes/net.h.
cdef extern from "net.h":
    int YL_WOULD_BLOCK
    int YL_ERROR_SET
    object yl_recv_bytes(int fd, Py_ssize_t n)
    object yl_recv_chunk(int fd)
    Py_ssize_t YL_RECV_SMALL, YL_RECV_MAX
    object yl_recv_sized(int fd, int *bulk, PyObject **spare)
    void yl_recv_keep_spare(object data, PyObject **spare) noexcept
    Py_ssize_t yl_recv_append(int fd, object ba, Py_ssize_t want) except -2
    Py_ssize_t yl_recv_into(int fd, object obj, Py_ssize_t nbytes) except -2
    Py_ssize_t yl_send_from(int fd, object obj, Py_ssize_t offset) except -2
    Py_ssize_t yl_buffer_len(object obj) except -1
