/*
 * Fault injection for the socket transport's tests, loaded with LD_PRELOAD
 * into a child process (tests/test_loop_bulk_faults.py builds it).
 *
 * For the fd in yl_fault_fd (-1: none), set through ctypes by the test:
 * - ioctl(fd, FIONREAD) reports yl_fault_fionread bytes queued when it is
 *   0 or more, fails with ENOTTY when it is -2, and is left alone at -1;
 * - recv(fd) fails with errno yl_fault_recv_errno when that is not 0.
 * These make the cases a real socket shows only in a race (the queue read
 * by someone else between FIONREAD and recv) happen on cue. Every other
 * call goes to the C library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>

int yl_fault_fd = -1;
int yl_fault_fionread = -1;
int yl_fault_recv_errno = 0;

int ioctl(int fd, unsigned long request, ...)
{
    static int (*real)(int, unsigned long, ...);
    va_list ap;
    void *arg;
    va_start(ap, request);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd == yl_fault_fd && request == FIONREAD && yl_fault_fionread != -1) {
        if (yl_fault_fionread == -2) {
            errno = ENOTTY;
            return -1;
        }
        *(int *)arg = yl_fault_fionread;
        return 0;
    }
    if (!real) real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    return real(fd, request, arg);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    static ssize_t (*real)(int, void *, size_t, int);
    if (fd == yl_fault_fd && yl_fault_recv_errno != 0) {
        errno = yl_fault_recv_errno;
        return -1;
    }
    if (!real) real = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    return real(fd, buf, len, flags);
}
