/*
 * macOS / BSD backend: kqueue with one EVFILT_READ and one EVFILT_WRITE
 * filter per fd, plus a self-pipe for wake-ups.
 *
 * Filters are level-triggered (no EV_CLEAR), matching the epoll backend, so
 * the Poller above can keep registrations across waits on both systems.
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

static int change(int kq, int fd, short filter, unsigned short flags)
{
    struct kevent kev;
    EV_SET(&kev, (uintptr_t)fd, filter, flags, 0, 0, NULL);
    return kevent(kq, &kev, 1, NULL, 0, NULL);
}

int yl_backend_open(yl_backend *b, int max_events)
{
    int pipefd[2];

    b->pfd = b->wake_r = b->wake_w = -1;
    b->os_events = NULL;
    b->max_events = max_events;
    b->pfd = kqueue();
    if (b->pfd < 0) goto fail;
    if (ioctl(b->pfd, FIOCLEX, NULL) < 0) goto fail;
    if (pipe(pipefd) < 0) goto fail;
    b->wake_r = pipefd[0];
    b->wake_w = pipefd[1];
    if (nonblocking_cloexec(b->wake_r) < 0 || nonblocking_cloexec(b->wake_w) < 0) goto fail;
    if (change(b->pfd, b->wake_r, EVFILT_READ, EV_ADD) < 0) goto fail;
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


static int update_filter(int kq, int fd, short filter, int was, int want, int force)
{
    if (want && (!was || force)) return change(kq, fd, filter, EV_ADD); /* EV_ADD is idempotent */
    if (!want && (was || force)) {
        /* The filter vanished with a closed fd: nothing left to undo. */
        if (change(kq, fd, filter, EV_DELETE) < 0 && errno != ENOENT && errno != EBADF) return -1;
    }
    return 0;
}

int yl_backend_update(yl_backend *b, int fd, int old_mask, int new_mask, int force)
{
    if (update_filter(b->pfd, fd, EVFILT_READ, old_mask & YL_READ, new_mask & YL_READ, force) < 0)
        return -1;
    return update_filter(b->pfd, fd, EVFILT_WRITE, old_mask & YL_WRITE, new_mask & YL_WRITE, force);
}


int yl_backend_wait(yl_backend *b, yl_event *out, long long timeout_ns)
{
    struct kevent *evs = (struct kevent *)b->os_events;
    struct timespec ts, *tsp = NULL;
    int i, n, k = 0;

    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        tsp = &ts;
    }
    n = kevent(b->pfd, NULL, 0, evs, b->max_events, tsp);
    if (n < 0) return -1;
    for (i = 0; i < n; i++) {
        int fd = (int)evs[i].ident;
        int flags = 0;
        if (fd == b->wake_r && evs[i].filter == EVFILT_READ) {
            yl_selfpipe_drain(b->wake_r);
            continue;
        }
        if (evs[i].flags & EV_ERROR) flags |= YL_ERROR;
        else if (evs[i].filter == EVFILT_READ) flags |= YL_READ;
        else if (evs[i].filter == EVFILT_WRITE) flags |= YL_WRITE;
        out[k].fd = fd;
        out[k].flags = flags;
        k++;
    }
    return k;
}

void yl_backend_free_events(yl_backend *b)
{
    free(b->os_events);
    b->os_events = NULL;
}
