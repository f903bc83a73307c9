# Streams over connected sockets: the Stream's state, for the layers that
# run over a Stream's socket (TLS).
cimport cython
from yieldloop.native._kernel cimport Kernel
from yieldloop.core._handles cimport Handle
from yieldloop.native._waitlist cimport WaitList


@cython.final
cdef class Stream:
    cdef object _sock
    cdef int _fd
    cdef Kernel _kernel
    cdef bytearray _rbuf
    cdef bint _eof              # the peer finished sending
    cdef bint _drained          # the last recv emptied the socket: wait before the next
    cdef Py_ssize_t _limit
    cdef bytearray _wbuf        # written, not yet sent
    cdef Py_ssize_t _high, _low
    cdef Handle _flusher        # registered for writability while _wbuf holds data
    cdef WaitList _writers      # tasks waiting for the buffer to go down
    cdef object _write_error    # raised by the next write operation
    cdef bint _eof_sent
    cdef bint _closed
    cdef bint _wrapped          # start_tls() handed the socket to a TLSStream

    cdef _check_open(self)
    cdef _check_writable(self)
    cdef bytes _take(self, Py_ssize_t n)
    # Send ``data`` now, buffering what the socket does not take (no checks).
    cdef int _send(self, object data) except -1
    cdef _wake_writers(self)


# For the servers (_servers.pyx), which make Streams of what they accept.
cdef int close_socket(object sock) except -1
cdef int nodelay(object sock) except -1
cdef object server_tls(object ssl, object handshake_timeout, object shutdown_timeout)
cdef object tls_module()
