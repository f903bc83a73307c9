/*
 * The unsent data of a stream transport: a FIFO of buffers sent with one
 * send() or sendmsg() per call, from an offset into the first.
 *
 * What a write leaves unsent is queued without copying when it is a bytes
 * object of YL_SENDQ_SMALL bytes or more (bytes cannot change under us):
 * a 10 MB write whose socket takes 2 MB keeps the caller's object and an
 * offset, not an 8 MB copy, and the rest goes from there as the socket
 * drains (no re-slicing, no moving the remainder down). Smaller pieces and
 * other buffers (bytearray, memoryview: the caller may change them after
 * write() returns) are copied: small ones into an open bytearray at the
 * tail, so that many small writes go out as one buffer, not one iovec
 * each; large ones into a bytes object of their own.
 *
 * Every item is an exact bytes or bytearray object the queue owns a
 * reference to; the tail bytearray is the queue's own (nobody else sees
 * it), so growing it cannot move memory anyone else points into, and no
 * pointer into an item is kept past the system call that uses it.
 */
#ifndef YIELDLOOP_SENDQ_H
#define YIELDLOOP_SENDQ_H

#include <Python.h>
#include <sys/uio.h>
#include "net.h"

/* Pieces under this size are copied, at or above it bytes are kept. */
#define YL_SENDQ_SMALL ((Py_ssize_t)16384)
/* The tail bytearray takes small pieces until it holds this much. */
#define YL_SENDQ_TAIL_MAX ((Py_ssize_t)262144)
/* Buffers per sendmsg(): past a few dozen the socket buffer is full anyway. */
#define YL_SENDQ_IOV 64

typedef struct {
    PyObject **items;       /* ring of owned references */
    Py_ssize_t cap;         /* slots in items (0 or a power of two) */
    Py_ssize_t head;        /* index of the first item */
    Py_ssize_t count;       /* items queued */
    Py_ssize_t offset;      /* bytes of the first item already sent */
    Py_ssize_t size;        /* unsent bytes in all */
    int tail_open;          /* the last item is a bytearray small pieces go into */
} yl_sendq;

#define YL_SENDQ_AT(q, i) ((q)->items[((q)->head + (i)) & ((q)->cap - 1)])

static inline void yl_sendq_item(PyObject *o, char **p, Py_ssize_t *n)
{
    if (PyBytes_CheckExact(o)) {
        *p = PyBytes_AS_STRING(o);
        *n = PyBytes_GET_SIZE(o);
    } else {
        *p = PyByteArray_AS_STRING(o);
        *n = PyByteArray_GET_SIZE(o);
    }
}

/* Append `item` (a new reference, stolen): 0, or -1 with MemoryError set
   (the reference is released then). */
static inline int yl_sendq_append(yl_sendq *q, PyObject *item)
{
    if (q->count == q->cap) {
        Py_ssize_t cap = q->cap ? q->cap * 2 : 8, i;
        PyObject **items;
        if (cap > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(PyObject *)
                || (items = PyMem_Malloc((size_t)cap * sizeof(PyObject *))) == NULL) {
            Py_DECREF(item);
            PyErr_NoMemory();
            return -1;
        }
        for (i = 0; i < q->count; i++) items[i] = YL_SENDQ_AT(q, i);
        PyMem_Free(q->items);
        q->items = items;
        q->cap = cap;
        q->head = 0;
    }
    YL_SENDQ_AT(q, q->count) = item;
    q->count++;
    return 0;
}

/* Queue the bytes of buffer `data` from `start` on (start > 0 only into an
   empty queue: only the first item has an offset): 0, or -1 with an
   exception set (what getting the buffer raised, MemoryError), the queue
   unchanged then. */
static inline int yl_sendq_push(yl_sendq *q, PyObject *data, Py_ssize_t start)
{
    Py_buffer view;
    Py_ssize_t n;
    PyObject *item;
    if (PyBytes_CheckExact(data) && PyBytes_GET_SIZE(data) - start >= YL_SENDQ_SMALL) {
        n = PyBytes_GET_SIZE(data) - start;
        Py_INCREF(data);
        if (yl_sendq_append(q, data) < 0) return -1;
        if (q->count == 1) q->offset = start;
        q->tail_open = 0;
        q->size += n;
        return 0;
    }
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return -1;
    /* The view is released last: releasing it may run Python code (a
       __release_buffer__), which then sees the queue complete. */
    n = view.len - start;
    if (n < 0) {
        /* A buffer that shrank since its first part was sent (a __buffer__
           method answering differently): the rest of it is unknown. */
        PyErr_Format(PyExc_BufferError,
                     "buffer shrank to %zd bytes after %zd of it were sent", view.len, start);
        goto error;
    }
    if (n == 0) {
        /* nothing to queue */
    } else if (n < YL_SENDQ_SMALL && q->tail_open) {
        PyObject *tail = YL_SENDQ_AT(q, q->count - 1);
        Py_ssize_t len = PyByteArray_GET_SIZE(tail);
        /* Resizing over-allocates: appending small pieces is amortized O(1). */
        if (PyByteArray_Resize(tail, len + n) < 0) goto error;
        memcpy(PyByteArray_AS_STRING(tail) + len, (const char *)view.buf + start, (size_t)n);
        if (len + n >= YL_SENDQ_TAIL_MAX) q->tail_open = 0;
        q->size += n;
    } else {
        if (n < YL_SENDQ_SMALL)
            item = PyByteArray_FromStringAndSize((const char *)view.buf + start, n);
        else
            item = PyBytes_FromStringAndSize((const char *)view.buf + start, n);
        if (item == NULL || yl_sendq_append(q, item) < 0) goto error;
        if (q->count == 1) q->offset = 0;
        q->tail_open = n < YL_SENDQ_SMALL;
        q->size += n;
    }
    PyBuffer_Release(&view);
    return 0;
error:
    PyBuffer_Release(&view);
    return -1;
}

/* Drop every queued buffer. */
static inline void yl_sendq_clear(yl_sendq *q)
{
    while (q->count) {
        PyObject *o = YL_SENDQ_AT(q, 0);
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        Py_DECREF(o);
    }
    q->head = q->offset = q->size = 0;
    q->tail_open = 0;
}

/* Clear, and free the ring itself (the owner's dealloc). */
static inline void yl_sendq_free(yl_sendq *q)
{
    yl_sendq_clear(q);
    PyMem_Free(q->items);
    q->items = NULL;
    q->cap = 0;
}

/* Forget the first `sent` bytes (sent: at most q->size). */
static inline void yl_sendq_consume(yl_sendq *q, Py_ssize_t sent)
{
    q->size -= sent;
    while (sent > 0) {
        PyObject *o = YL_SENDQ_AT(q, 0);
        char *p;
        Py_ssize_t len;
        yl_sendq_item(o, &p, &len);
        if (len - q->offset > sent) {
            q->offset += sent;
            /* Pieces appended to a buffer already going out would keep it
               (and what it holds) alive for as long as writes come. */
            if (q->count == 1) q->tail_open = 0;
            return;
        }
        sent -= len - q->offset;
        q->offset = 0;
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        if (q->count == 0) q->tail_open = 0;
        Py_DECREF(o);
    }
}

/* Send what the socket takes: the count sent (and forgotten), YL_WOULD_BLOCK,
   or YL_ERROR_SET with OSError set. One send() for one buffer, one
   sendmsg() for several. */
static inline Py_ssize_t yl_sendq_send(yl_sendq *q, int fd)
{
    ssize_t sent;
    if (q->count == 0) return 0;
    if (q->count == 1) {
        char *p;
        Py_ssize_t len;
        yl_sendq_item(YL_SENDQ_AT(q, 0), &p, &len);
        do {
            sent = send(fd, p + q->offset, (size_t)(len - q->offset),
                        MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (sent < 0 && errno == EINTR);
    } else {
        struct iovec iov[YL_SENDQ_IOV];
        struct msghdr msg;
        Py_ssize_t i, k = q->count < YL_SENDQ_IOV ? q->count : YL_SENDQ_IOV;
        for (i = 0; i < k; i++) {
            char *p;
            Py_ssize_t len;
            yl_sendq_item(YL_SENDQ_AT(q, i), &p, &len);
            iov[i].iov_base = i ? p : p + q->offset;
            iov[i].iov_len = (size_t)(i ? len : len - q->offset);
        }
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)k;
        do {
            sent = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (sent < 0 && errno == EINTR);
    }
    if (sent < 0) {
        if (yl_would_block(errno)) return YL_WOULD_BLOCK;
        PyErr_SetFromErrno(PyExc_OSError);
        return YL_ERROR_SET;
    }
    yl_sendq_consume(q, (Py_ssize_t)sent);
    return (Py_ssize_t)sent;
}

#endif
