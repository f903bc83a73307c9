/*
 * The OS poll backend: one small interface, one file per OS (epoll.c on
 * Linux, kqueue.c on macOS and the BSDs), chosen by CMake at build time.
 *
 * Plain C with no Python dependency, so each backend can be compile-checked
 * on its own for other systems (the kqueue one with `zig cc -target ...`).
 *
 * The backend only talks to the OS. Which fds are registered, who waits on
 * them and when a registration goes is decided by the Cython Poller above
 * it (see _poller.pyx for why).
 */
#ifndef YIELDLOOP_POLL_BACKEND_H
#define YIELDLOOP_POLL_BACKEND_H

/* Interest and event bits. YL_ERROR (error or hang-up) wakes both sides. */
#define YL_READ 1
#define YL_WRITE 2
#define YL_ERROR 4

/*
 * The mode of a registration rides in its tag: with this bit set it is
 * persistent (level-triggered, stays armed across events); without it it
 * is one-shot (EPOLLONESHOT, EV_DISPATCH): once it reports an event it
 * stays disarmed until updated. One poller holds registrations of both
 * modes, each fd's chosen by the Poller above.
 */
#define YL_TAG_PERSISTENT 0x80000000u

/* Signal numbers read from the wake-up pipe and kept for the caller. */
#define YL_MAX_SIGBYTES 256

typedef struct {
    int fd;
    int flags;        /* YL_READ | YL_WRITE | YL_ERROR */
    unsigned int tag; /* the tag of the registration that reported it */
    int off;          /* sides the OS disarmed by reporting it (one-shot mode), else 0 */
} yl_event;

typedef struct {
    int pfd;     /* the epoll or kqueue descriptor */
    int wake_r;  /* self-pipe read end: registered for reading, drained in wait */
    int wake_w;  /* self-pipe write end: written by yl_backend_wakeup() */
    void *os_events; /* buffer of OS event structs, max_events long */
    int max_events;
    /* Non-zero bytes drained from the wake-up pipe since the caller last
       took them: Python's signal wake-up fd writes each signal's number
       there (wake-ups write 0). Extra ones past the buffer are dropped. */
    unsigned char sigbytes[YL_MAX_SIGBYTES];
    int nsigbytes;
} yl_backend;

/* Name of the backend compiled in: "epoll" or "kqueue". */
const char *yl_backend_name(void);

/* Open the poll descriptor and the wake-up pipe; 0, or -1 with errno set. */
int yl_backend_open(yl_backend *b, int max_events);

/* Close everything opened by yl_backend_open; safe to call twice. */
void yl_backend_close(yl_backend *b);

/*
 * Replace the poll descriptor by a new, empty one (the wake-up pipe is
 * registered again): every registration is dropped, including those the
 * OS no longer lets us remove. 0, or -1 with errno set (the old one stays).
 */
int yl_backend_reopen(yl_backend *b);

/*
 * Make the OS interest of `fd` exactly `mask` (YL_READ | YL_WRITE; 0
 * removes the registration), tagged with `tag` (reported with its events;
 * 0 is reserved for the wake-up pipe; YL_TAG_PERSISTENT picks the mode).
 * `present` says which sides have an
 * OS registration now, armed or disarmed: epoll modifies an existing entry
 * and adds a missing one by it, kqueue deletes the filters no longer
 * wanted. Nothing is retried: 0, or -1 with errno set (epoll: ENOENT or
 * EEXIST when `present` was wrong, EBADF when fd is not open). kqueue
 * ignores deletes of filters that are already gone.
 */
int yl_backend_update(yl_backend *b, int fd, int present, int mask, unsigned int tag);

/*
 * Wait up to `timeout_ns` nanoseconds (-1: no limit) and store at most
 * `max_out` (<= max_events) events in `out`. Wake-up pipe events are
 * drained and not reported. Returns the number of events, or -1 with errno
 * set (EINTR included). Never returns before the timeout unless something
 * happened. Call it without holding the GIL.
 */
int yl_backend_wait(yl_backend *b, yl_event *out, int max_out, long long timeout_ns);

/* Make a blocked yl_backend_wait return. Thread- and async-signal-safe. */
int yl_backend_wakeup(yl_backend *b);

/* Internal to the backends: selfpipe.c drains the pipe (keeping signal
   numbers in sigbytes), each OS file frees its own event buffer. */
void yl_selfpipe_drain(yl_backend *b);
void yl_backend_free_events(yl_backend *b);

#endif
