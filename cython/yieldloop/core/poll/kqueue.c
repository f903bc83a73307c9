/*
 * macOS / BSD backend: kqueue with one EVFILT_READ and one EVFILT_WRITE
 * filter per fd, plus a self-pipe for wake-ups.
 *
 * Filters are level-triggered (no EV_CLEAR), matching the epoll backend; a
 * one-shot one (a tag without YL_TAG_PERSISTENT) is added with EV_DISPATCH,
 * kqueue's EPOLLONESHOT: a filter that reported an event stays, disabled,
 * until it is added again.
 * Unlike an epoll entry, a knote belongs to the descriptor: close() drops
 * it even if a dup() keeps the file open, so no filter can outlive its fd
 * number here. The Poller's tag rides in udata, as epoll's rides in data.
 * Changes are applied one filter at a time so that each error is reported
 * for the change that caused it.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include "backend.h"

const char *yl_backend_name(void) { return "kqueue"; }

/* macOS has no pipe2(): set the flags with ioctl (no fcntl needed). */
static int nonblocking_cloexec(int fd)
{
    int on = 1;
    if (ioctl(fd, FIONBIO, &on) < 0) return -1;
    return ioctl(fd, FIOCLEX, NULL);
}

static int change(int kq, int fd, short filter, unsigned short flags, unsigned int tag)
{
    struct kevent kev;
    EV_SET(&kev, (uintptr_t)fd, filter, flags, 0, 0, (void *)(uintptr_t)tag);
    return kevent(kq, &kev, 1, NULL, 0, NULL);
}

/* A new kqueue with the wake-up pipe registered (tag 0), or -1. */
static int new_kqueue(int wake_r)
{
    int kq = kqueue();
    if (kq < 0) return -1;
    if (ioctl(kq, FIOCLEX, NULL) < 0 || change(kq, wake_r, EVFILT_READ, EV_ADD, 0) < 0) {
        int saved = errno;
        close(kq);
        errno = saved;
        return -1;
    }
    return kq;
}

int yl_backend_open(yl_backend *b, int max_events)
{
    int pipefd[2];

    b->pfd = b->wake_r = b->wake_w = -1;
    b->os_events = NULL;
    b->max_events = max_events;
    b->nsigbytes = 0;
    if (pipe(pipefd) < 0) goto fail;
    b->wake_r = pipefd[0];
    b->wake_w = pipefd[1];
    if (nonblocking_cloexec(b->wake_r) < 0 || nonblocking_cloexec(b->wake_w) < 0) goto fail;
    b->pfd = new_kqueue(b->wake_r);
    if (b->pfd < 0) goto fail;
    b->os_events = calloc((size_t)max_events, sizeof(struct kevent));
    if (b->os_events == NULL) { errno = ENOMEM; goto fail; }
    return 0;
fail:
    {
        int saved = errno;
        yl_backend_close(b);
        errno = saved;
    }
    return -1;
}


int yl_backend_reopen(yl_backend *b)
{
    int kq = new_kqueue(b->wake_r);
    if (kq < 0) return -1;
    close(b->pfd);
    b->pfd = kq;
    return 0;
}


static int update_filter(yl_backend *b, int fd, short filter, int present, int want,
                         unsigned int tag)
{
    /* EV_ADD modifies an existing filter and enables a disabled one. */
    if (want)
        return change(b->pfd, fd, filter,
                      EV_ADD | ((tag & YL_TAG_PERSISTENT) ? 0 : EV_DISPATCH), tag);
    if (present) {
        /* A filter vanishes with its closed fd: nothing left to undo. */
        if (change(b->pfd, fd, filter, EV_DELETE, 0) < 0 && errno != ENOENT && errno != EBADF)
            return -1;
    }
    return 0;
}

int yl_backend_update(yl_backend *b, int fd, int present, int mask, unsigned int tag)
{
    if (update_filter(b, fd, EVFILT_READ, present & YL_READ, mask & YL_READ, tag) < 0)
        return -1;
    return update_filter(b, fd, EVFILT_WRITE, present & YL_WRITE, mask & YL_WRITE, tag);
}


int yl_backend_wait(yl_backend *b, yl_event *out, int max_out, long long timeout_ns)
{
    struct kevent *evs = (struct kevent *)b->os_events;
    struct timespec ts, *tsp = NULL;
    int i, n, k = 0;

    if (max_out > b->max_events) max_out = b->max_events;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        tsp = &ts;
    }
    n = kevent(b->pfd, NULL, 0, evs, max_out, tsp);
    if (n < 0) return -1;
    for (i = 0; i < n; i++) {
        int fd = (int)evs[i].ident;
        unsigned int tag = (unsigned int)(uintptr_t)evs[i].udata;
        int flags, side = 0;
        if (tag == 0 && fd == b->wake_r && evs[i].filter == EVFILT_READ) {
            yl_selfpipe_drain(b);
            continue;
        }
        if (evs[i].filter == EVFILT_READ) side = YL_READ;
        else if (evs[i].filter == EVFILT_WRITE) side = YL_WRITE;
        flags = (evs[i].flags & EV_ERROR) ? YL_ERROR : side;
        out[k].fd = fd;
        out[k].flags = flags;
        out[k].tag = tag;
        /* One-shot: only the filter that reported is disabled now. */
        out[k].off = (tag & YL_TAG_PERSISTENT) ? 0 : side;
        k++;
    }
    return k;
}

void yl_backend_free_events(yl_backend *b)
{
    free(b->os_events);
    b->os_events = NULL;
}
