/*
 * Socket system calls for the socket awaitables and streams, called on the
 * fd directly. Every call is non-blocking whatever the fd's mode
 * (MSG_DONTWAIT), retried on EINTR, and reports "would block" separately
 * from errors so that the caller waits only then.
 */
#ifndef YIELDLOOP_NET_H
#define YIELDLOOP_NET_H

#include <Python.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SIGPIPE is ignored by Python anyway */
#endif

#define YL_WOULD_BLOCK (-1)
#define YL_ERROR_SET (-2)

static inline int yl_would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

/* recv() of up to `n` bytes straight into a new bytes object of size `n`,
   not shrunk to the `*got` bytes read. NULL either with an error set
   (OSError, MemoryError) or, with no error and *got == YL_WOULD_BLOCK,
   when the call would block. */
static inline PyObject *yl_recv_new(int fd, Py_ssize_t n, ssize_t *got)
{
    PyObject *buf = PyBytes_FromStringAndSize(NULL, n);
    *got = YL_ERROR_SET;
    if (buf == NULL) return NULL;
    do {
        *got = recv(fd, PyBytes_AS_STRING(buf), (size_t)n, MSG_DONTWAIT);
    } while (*got < 0 && errno == EINTR);
    if (*got < 0) {
        int err = errno;
        Py_DECREF(buf);
        if (yl_would_block(err)) {
            *got = YL_WOULD_BLOCK;
            return NULL;
        }
        *got = YL_ERROR_SET;
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    return buf;
}

/* A new bytes object with up to `n` bytes (b"" at EOF); Py_None if the call
   would block; NULL with OSError set. */
static inline PyObject *yl_recv_bytes(int fd, Py_ssize_t n)
{
    PyObject *buf;
    ssize_t got;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffer size in recv");
        return NULL;
    }
    buf = yl_recv_new(fd, n, &got);
    if (buf == NULL) {
        if (got == YL_WOULD_BLOCK) Py_RETURN_NONE;
        return NULL;
    }
    if (got != n && _PyBytes_Resize(&buf, (Py_ssize_t)got) < 0) return NULL;
    return buf;
}

/* The reads of a stream transport, sized to what the socket holds.
   `*bulk` is the transport's state (start at 0). While reads stay small,
   each receives into a 64 KiB stack buffer and copies out what came: a
   1 KiB message costs a 1 KiB object. After a read of 64 KiB, the next one
   receives up to YL_RECV_MAX straight into the bytes object it returns:
   one copy, into an object of the size read (a read that brings less than
   64 KiB is copied out to an object of its size, and reads go small again).
   Asking the kernel first how much is queued (FIONREAD) would size each
   object exactly, but cost one more system call per read: a third of a bulk
   transfer's calls.
   YL_RECV_MAX is 64 KiB unless the build sets it. Larger reads mean fewer
   calls, but measured on Linux (glibc) they cost more than they save where
   many connections read at once: 128 KiB reads moved one connection's bulk
   data 13-34% faster yet fifty connections' 20% slower, glibc trimming
   its heap after such blocks are freed and page-faulting it back for the
   next; 256 KiB reads were slower still for asyncio's streams, whose
   StreamReader pauses reading (two epoll_ctl) whenever it holds more than
   128 KiB.
   A new bytes object (b"" at EOF), Py_None if the call would block, NULL
   with OSError set. */
#define YL_RECV_SMALL ((Py_ssize_t)65536)
#ifndef YL_RECV_MAX
#define YL_RECV_MAX ((Py_ssize_t)65536)
#endif

static inline PyObject *yl_recv_stack(int fd, int *bulk)
{
    char chunk[YL_RECV_SMALL];
    ssize_t got;
    do {
        got = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (yl_would_block(errno)) Py_RETURN_NONE;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    *bulk = got == YL_RECV_SMALL;
    return PyBytes_FromStringAndSize(chunk, (Py_ssize_t)got);
}

static inline PyObject *yl_recv_sized(int fd, int *bulk, PyObject **spare)
{
    PyObject *buf;
    ssize_t got;
    Py_ssize_t want = YL_RECV_MAX;
    if (!*bulk) return yl_recv_stack(fd, bulk);
    /* The spare (see yl_recv_keep_spare) is ours alone: no one else can
       see what this read writes into it. */
    buf = *spare;
    *spare = NULL;
    if (buf == NULL && (buf = PyBytes_FromStringAndSize(NULL, want)) == NULL) return NULL;
    do {
        got = recv(fd, PyBytes_AS_STRING(buf), (size_t)want, MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        int err = errno;
        *spare = buf;                /* kept for the next read */
        if (yl_would_block(err)) Py_RETURN_NONE;
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    *bulk = got >= YL_RECV_SMALL;
    if (got < want) {
        /* Less than asked for: a small result gets an object of its own
           size (the buffer stays the spare), a large one is shrunk in
           place (buf is ours alone: refcount 1, as resizing requires). */
        if (got < YL_RECV_SMALL) {
            *spare = buf;
            return PyBytes_FromStringAndSize(PyBytes_AS_STRING(buf), (Py_ssize_t)got);
        }
        if (_PyBytes_Resize(&buf, (Py_ssize_t)got) < 0) return NULL;
    }
    return buf;
}

/* After `data`, a full bulk read, was handed to the protocol: if nothing
   kept it (its only reference is the caller's), keep it as the buffer of
   the next bulk read, whose recv() overwrites it. A bulk transfer then
   reuses one block instead of allocating and freeing 64 KiB per read,
   which on glibc grows and trims the heap (brk, and page faults to touch
   the block again) once or more per read when many connections read at
   once. Its cached hash, if the protocol computed one, is forgotten. Not
   on a free-threaded build, where a reference count of 1 proves nothing. */
static inline void yl_recv_keep_spare(PyObject *data, PyObject **spare)
{
#ifndef Py_GIL_DISABLED
    if (*spare != NULL || Py_REFCNT(data) != 1 || !PyBytes_CheckExact(data)
            || PyBytes_GET_SIZE(data) != YL_RECV_MAX)
        return;
_Py_COMP_DIAG_PUSH
_Py_COMP_DIAG_IGNORE_DEPR_DECLS
    ((PyBytesObject *)data)->ob_shash = -1;
_Py_COMP_DIAG_POP
    Py_INCREF(data);
    *spare = data;
#else
    (void)data;
    (void)spare;
#endif
}

/* Up to 64 KiB received into a bytes object of exactly the size read
   (b"" at EOF): no large allocation for a small read. Py_None if the call
   would block; NULL with OSError set. */
static inline PyObject *yl_recv_chunk(int fd)
{
    int bulk;
    return yl_recv_stack(fd, &bulk);
}

/* Append up to `want` (at most 64 KiB) received bytes to bytearray `ba`:
   the count (0 at EOF), YL_WOULD_BLOCK, or YL_ERROR_SET. */
static inline Py_ssize_t yl_recv_append(int fd, PyObject *ba, Py_ssize_t want)
{
    char chunk[65536];
    ssize_t got;
    Py_ssize_t len = PyByteArray_GET_SIZE(ba);
    if (want <= 0 || want > (Py_ssize_t)sizeof chunk) want = sizeof chunk;
    do {
        got = recv(fd, chunk, (size_t)want, MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (yl_would_block(errno)) return YL_WOULD_BLOCK;
        PyErr_SetFromErrno(PyExc_OSError);
        return YL_ERROR_SET;
    }
    if (got > 0) {
        /* Growing by small steps over-allocates: amortized O(1). */
        if (PyByteArray_Resize(ba, len + got) < 0) return YL_ERROR_SET;
        memcpy(PyByteArray_AS_STRING(ba) + len, chunk, (size_t)got);
    }
    return (Py_ssize_t)got;
}

/* recv into the writable buffer of `obj`: the count, YL_WOULD_BLOCK or YL_ERROR_SET. */
static inline Py_ssize_t yl_recv_into(int fd, PyObject *obj, Py_ssize_t nbytes)
{
    Py_buffer view;
    ssize_t got;
    if (PyObject_GetBuffer(obj, &view, PyBUF_WRITABLE) < 0) return YL_ERROR_SET;
    if (nbytes <= 0 || nbytes > view.len) nbytes = view.len;
    do {
        got = recv(fd, view.buf, (size_t)nbytes, MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    PyBuffer_Release(&view);
    if (got < 0) {
        if (yl_would_block(errno)) return YL_WOULD_BLOCK;
        PyErr_SetFromErrno(PyExc_OSError);
        return YL_ERROR_SET;
    }
    return (Py_ssize_t)got;
}

/* Send the bytes of `obj` from `offset` on, no copy: the count sent,
   YL_WOULD_BLOCK or YL_ERROR_SET. */
static inline Py_ssize_t yl_send_from(int fd, PyObject *obj, Py_ssize_t offset)
{
    Py_buffer view;
    ssize_t sent = 0;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) return YL_ERROR_SET;
    if (offset < view.len) {
        do {
            sent = send(fd, (const char *)view.buf + offset, (size_t)(view.len - offset),
                        MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (sent < 0 && errno == EINTR);
    }
    PyBuffer_Release(&view);
    if (sent < 0) {
        if (yl_would_block(errno)) return YL_WOULD_BLOCK;
        PyErr_SetFromErrno(PyExc_OSError);
        return YL_ERROR_SET;
    }
    return (Py_ssize_t)sent;
}

/* The byte length of a buffer-protocol object, or -1 with TypeError set. */
static inline Py_ssize_t yl_buffer_len(PyObject *obj)
{
    Py_buffer view;
    Py_ssize_t len;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) return -1;
    len = view.len;
    PyBuffer_Release(&view);
    return len;
}

#endif
