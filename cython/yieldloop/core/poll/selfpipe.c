/*
 * The self-pipe shared by both backends: its read end is registered with the
 * OS poller, and one byte written to it makes a blocked wait return. Python's
 * signal.set_wakeup_fd() can point at the write end (it writes single bytes,
 * which an eventfd would refuse), so one pipe serves threads and signals.
 */
#include <errno.h>
#include <unistd.h>

#include "backend.h"

void yl_selfpipe_drain(yl_backend *b)
{
    unsigned char buf[256];
    ssize_t n, i;
    while ((n = read(b->wake_r, buf, sizeof buf)) > 0) {
        for (i = 0; i < n; i++) {
            if (buf[i] != 0 && b->nsigbytes < YL_MAX_SIGBYTES)
                b->sigbytes[b->nsigbytes++] = buf[i];
        }
    }
}

int yl_backend_wakeup(yl_backend *b)
{
    char c = 0;
    /* A full pipe already guarantees a wake-up: EAGAIN is success here. */
    if (write(b->wake_w, &c, 1) < 0 && errno != EAGAIN) return -1;
    return 0;
}

void yl_backend_close(yl_backend *b)
{
    if (b->pfd >= 0) close(b->pfd);
    if (b->wake_r >= 0) close(b->wake_r);
    if (b->wake_w >= 0) close(b->wake_w);
    b->pfd = b->wake_r = b->wake_w = -1;
    yl_backend_free_events(b);
}
