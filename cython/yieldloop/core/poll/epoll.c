/*
 * Linux backend: epoll plus a self-pipe for wake-ups.
 *
 * Level-triggered, so that an fd which is still readable after a waiter ran
 * is reported again; a one-shot entry (EPOLLONESHOT: a tag without
 * YL_TAG_PERSISTENT) that reported an event stays in the epoll set,
 * disarmed, until it is modified. Each
 * entry's data holds the fd in its low 32 bits and the Poller's tag in the
 * high ones: epoll reports an entry under the fd number it was added with,
 * even once that number is closed or reused, and the tag tells the Poller
 * which of its registrations (if any) an event belongs to.
 *
 * No fcntl(): every descriptor is created non-blocking and close-on-exec
 * (pipe2, epoll_create1), which keeps the extension on old glibc symbols.
 * For the same reason epoll_pwait2 (nanosecond timeouts, Linux 5.11) is
 * called through syscall(): where the kernel lacks it, waits fall back to
 * epoll_wait's milliseconds, rounded up so that no timer fires early.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

const char *yl_backend_name(void) { return "epoll"; }

static uint32_t to_epoll(int mask)
{
    uint32_t ev = 0;
    if (mask & YL_READ) ev |= EPOLLIN;
    if (mask & YL_WRITE) ev |= EPOLLOUT;
    return ev;
}

static uint64_t pack(int fd, unsigned int tag)
{
    return (uint64_t)(uint32_t)fd | ((uint64_t)tag << 32);
}

/* A new epoll descriptor with the wake-up pipe registered (tag 0), or -1. */
static int new_epoll(int wake_r)
{
    struct epoll_event ev;
    int pfd = epoll_create1(EPOLL_CLOEXEC);
    if (pfd < 0) return -1;
    ev.events = EPOLLIN;
    ev.data.u64 = pack(wake_r, 0);
    if (epoll_ctl(pfd, EPOLL_CTL_ADD, wake_r, &ev) < 0) {
        int saved = errno;
        close(pfd);
        errno = saved;
        return -1;
    }
    return pfd;
}

int yl_backend_open(yl_backend *b, int max_events)
{
    int pipefd[2];

    b->pfd = b->wake_r = b->wake_w = -1;
    b->os_events = NULL;
    b->max_events = max_events;
    b->nsigbytes = 0;
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) < 0) goto fail;
    b->wake_r = pipefd[0];
    b->wake_w = pipefd[1];
    b->pfd = new_epoll(b->wake_r);
    if (b->pfd < 0) goto fail;
    b->os_events = calloc((size_t)max_events, sizeof(struct epoll_event));
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
    int pfd = new_epoll(b->wake_r);
    if (pfd < 0) return -1;
    close(b->pfd);
    b->pfd = pfd;
    return 0;
}


int yl_backend_update(yl_backend *b, int fd, int present, int mask, unsigned int tag)
{
    struct epoll_event ev;

    if (mask == 0) {
        if (present == 0) return 0;
        return epoll_ctl(b->pfd, EPOLL_CTL_DEL, fd, NULL);
    }
    ev.events = to_epoll(mask) | ((tag & YL_TAG_PERSISTENT) ? 0 : EPOLLONESHOT);
    ev.data.u64 = pack(fd, tag);
    return epoll_ctl(b->pfd, present ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
}


static int have_pwait2 = 1; /* cleared on ENOSYS; a benign race between kernels */

static int wait_ns(yl_backend *b, struct epoll_event *evs, int max_out, long long timeout_ns)
{
    long long ms;
#ifdef SYS_epoll_pwait2
    if (have_pwait2 && timeout_ns > 0) {
        struct timespec ts;
        long n;
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        n = syscall(SYS_epoll_pwait2, b->pfd, evs, max_out, &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS) return (int)n;
        have_pwait2 = 0;
    }
#endif
    if (timeout_ns < 0) return epoll_wait(b->pfd, evs, max_out, -1);
    ms = (timeout_ns + 999999LL) / 1000000LL;
    if (ms > 0x7fffffffLL) ms = 0x7fffffffLL;
    return epoll_wait(b->pfd, evs, max_out, (int)ms);
}

int yl_backend_wait(yl_backend *b, yl_event *out, int max_out, long long timeout_ns)
{
    struct epoll_event *evs = (struct epoll_event *)b->os_events;
    int i, n, k = 0;

    if (max_out > b->max_events) max_out = b->max_events;
    n = wait_ns(b, evs, max_out, timeout_ns);
    if (n < 0) return -1;
    for (i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        int fd = (int)(uint32_t)(evs[i].data.u64 & 0xffffffffu);
        unsigned int tag = (unsigned int)(evs[i].data.u64 >> 32);
        int flags = 0;
        if (tag == 0 && fd == b->wake_r) {
            yl_selfpipe_drain(b);
            continue;
        }
        if (e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) flags |= YL_READ;
        if (e & EPOLLOUT) flags |= YL_WRITE;
        if (e & (EPOLLERR | EPOLLHUP)) flags |= YL_ERROR;
        out[k].fd = fd;
        out[k].flags = flags;
        out[k].tag = tag;
        /* One-shot: the whole entry is disarmed now. */
        out[k].off = (tag & YL_TAG_PERSISTENT) ? 0 : (YL_READ | YL_WRITE);
        k++;
    }
    return k;
}

void yl_backend_free_events(yl_backend *b)
{
    free(b->os_events);
    b->os_events = NULL;
}
