# The OS poll backend (core/poll/backend.h: epoll.c or kqueue.c, and the
# wake-up pipe in selfpipe.c), chosen at build time.
cdef extern from "core/poll/backend.h":
    enum:
        YL_READ
        YL_WRITE
        YL_ERROR
        YL_MAX_SIGBYTES
    const unsigned int YL_TAG_PERSISTENT
    ctypedef struct yl_event:
        int fd
        int flags
        unsigned int tag
        int off
    ctypedef struct yl_backend:
        int pfd
        int wake_r
        int wake_w
        unsigned char sigbytes[YL_MAX_SIGBYTES]
        int nsigbytes
    const char* yl_backend_name() noexcept
    int yl_backend_open(yl_backend* b, int max_events) noexcept
    void yl_backend_close(yl_backend* b) noexcept
    int yl_backend_reopen(yl_backend* b) noexcept
    int yl_backend_update(yl_backend* b, int fd, int present, int mask,
                          unsigned int tag) noexcept
    int yl_backend_wait(yl_backend* b, yl_event* out, int max_out,
                        long long timeout_ns) noexcept nogil
    int yl_backend_wakeup(yl_backend* b) noexcept nogil
