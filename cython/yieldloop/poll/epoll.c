/*
 * Linux backend: level-triggered epoll plus a self-pipe for wake-ups.
 *
 * Level-triggered so that an fd which is still readable after a waiter ran
 * is reported again; the Poller keeps registrations across waits and only
 * disarms an fd when an event arrives that nobody waits for.
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

int yl_backend_open(yl_backend *b, int max_events)
{
    int pipefd[2];
    struct epoll_event ev;

    b->pfd = b->wake_r = b->wake_w = -1;
    b->os_events = NULL;
    b->max_events = max_events;
    b->pfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->pfd < 0) goto fail;
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) < 0) goto fail;
    b->wake_r = pipefd[0];
    b->wake_w = pipefd[1];
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    ev.data.fd = b->wake_r;
    if (epoll_ctl(b->pfd, EPOLL_CTL_ADD, b->wake_r, &ev) < 0) goto fail;
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


int yl_backend_update(yl_backend *b, int fd, int old_mask, int new_mask, int force)
{
    struct epoll_event ev;
    int op;

    if (new_mask == 0) {
        if (old_mask == 0 && !force) return 0;
        /* Already gone (fd closed, or never registered): nothing to undo. */
        if (epoll_ctl(b->pfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != ENOENT && errno != EBADF)
            return -1;
        return 0;
    }
    if (new_mask == old_mask && !force) return 0;
    ev.events = to_epoll(new_mask);
    ev.data.u64 = 0;
    ev.data.fd = fd;
    op = old_mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(b->pfd, op, fd, &ev) == 0) return 0;
    /* Our belief was stale: the fd was closed (registration dropped by the
       kernel) or it is registered already. Try the other operation. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT) op = EPOLL_CTL_ADD;
    else if (op == EPOLL_CTL_ADD && errno == EEXIST) op = EPOLL_CTL_MOD;
    else return -1;
    return epoll_ctl(b->pfd, op, fd, &ev);
}


static int have_pwait2 = 1; /* cleared on ENOSYS; a benign race between kernels */

static int wait_ns(yl_backend *b, struct epoll_event *evs, long long timeout_ns)
{
    long long ms;
#ifdef SYS_epoll_pwait2
    if (have_pwait2 && timeout_ns > 0) {
        struct timespec ts;
        long n;
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        n = syscall(SYS_epoll_pwait2, b->pfd, evs, b->max_events, &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS) return (int)n;
        have_pwait2 = 0;
    }
#endif
    if (timeout_ns < 0) return epoll_wait(b->pfd, evs, b->max_events, -1);
    ms = (timeout_ns + 999999LL) / 1000000LL;
    if (ms > 0x7fffffffLL) ms = 0x7fffffffLL;
    return epoll_wait(b->pfd, evs, b->max_events, (int)ms);
}

int yl_backend_wait(yl_backend *b, yl_event *out, long long timeout_ns)
{
    struct epoll_event *evs = (struct epoll_event *)b->os_events;
    int i, n, k = 0;

    n = wait_ns(b, evs, timeout_ns);
    if (n < 0) return -1;
    for (i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        int flags = 0;
        if (evs[i].data.fd == b->wake_r) {
            yl_selfpipe_drain(b->wake_r);
            continue;
        }
        if (e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) flags |= YL_READ;
        if (e & EPOLLOUT) flags |= YL_WRITE;
        if (e & (EPOLLERR | EPOLLHUP)) flags |= YL_ERROR;
        out[k].fd = evs[i].data.fd;
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
