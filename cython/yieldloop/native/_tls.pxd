# TLS over a Stream: the TLSStream's state and its synchronous steps.
cimport cython
from yieldloop.native._streams cimport Stream


@cython.final
cdef class TLSStream:
    cdef Stream _transport      # owns the socket; its write buffer sends the records
    cdef object _context        # the ssl.SSLContext
    cdef object _sslobj         # ssl.SSLObject between the two memory BIOs
    cdef object _incoming       # ssl.MemoryBIO: ciphertext received, not yet decrypted
    cdef object _outgoing       # ssl.MemoryBIO: ciphertext made, not yet sent
    # Bound methods called once or more per record, looked up once.
    cdef object _ssl_read
    cdef object _ssl_write
    cdef object _in_write
    cdef object _out_read
    cdef bytearray _rbuf        # decrypted, not yet read
    cdef Py_ssize_t _limit
    cdef double _shutdown_timeout
    cdef bint _eof              # the peer finished sending (close_notify or TCP EOF)
    cdef bint _raw_eof          # the socket reported EOF (fed to the incoming BIO)
    cdef bint _ssl_more         # the last decrypt filled its buffer: more may be in OpenSSL
    cdef bint _closed

    cdef _check_open(self)
    cdef _check_writable(self)
    cdef bytes _take(self, Py_ssize_t n)
    cdef object _decrypt(self)
    cdef object _pull(self)
    cdef int _recv_ciphertext(self) except -1
    cdef int _flush_out(self) except -1
