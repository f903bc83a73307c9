/*
 * yl_proc_exit_fd(): see procexit.h.
 *
 * Linux: pidfd_open(2) (5.3+), called through syscall(): glibc's
 * pidfd_open() wrapper needs GLIBC_2.36, which would raise the manylinux
 * tag of the wheels; syscall() is as old as glibc. A pidfd is always
 * close-on-exec and is readable once the process has exited (zombie
 * included).
 *
 * macOS and the BSDs: a kqueue of its own holding one EVFILT_PROC filter
 * with NOTE_EXIT on the pid. A kqueue is itself a descriptor, readable
 * while it has an event pending, so the kernel's poller (kqueue or not)
 * can wait on it like on any fd. A process that is already a zombie may
 * refuse the filter with ESRCH (macOS), which means: reap it now.
 */
#include <errno.h>
#include <unistd.h>

#include "procexit.h"

#if defined(__linux__)

#include <sys/syscall.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

int yl_proc_exit_fd(int pid)
{
    long fd;
    if (pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    fd = syscall(SYS_pidfd_open, (long)pid, 0L);
    return fd < 0 ? -1 : (int)fd;
}

#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)

#include <stdint.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/time.h>

int yl_proc_exit_fd(int pid)
{
    struct kevent kev;
    int kq, saved;
    if (pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    kq = kqueue();
    if (kq < 0) return -1;
    /* No fcntl(): ioctl sets close-on-exec (see the kqueue backend). */
    EV_SET(&kev, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, NULL);
    if (ioctl(kq, FIOCLEX, NULL) < 0 || kevent(kq, &kev, 1, NULL, 0, NULL) < 0) {
        saved = errno;
        close(kq);
        errno = saved;
        return -1;
    }
    return kq;
}

#else

int yl_proc_exit_fd(int pid)
{
    (void)pid;
    errno = ENOSYS;
    return -1;
}

#endif
