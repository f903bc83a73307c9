/*
 * An fd that becomes readable when a child process exits, so that the
 * kernel waits for an exit as it waits for any fd: no SIGCHLD handler, no
 * thread, and the process stays unreaped (its pid cannot be reused) until
 * the caller reaps it with waitpid().
 *
 * Plain C with no Python dependency, compile-checked for macOS and FreeBSD
 * with `zig cc -target ...` like the kqueue backend.
 */
#ifndef YIELDLOOP_POLL_PROCEXIT_H
#define YIELDLOOP_POLL_PROCEXIT_H

/*
 * A new close-on-exec fd, readable once process `pid` (a child of ours)
 * has exited; the caller closes it. -1 with errno set:
 * - ESRCH: there is no such process to watch (kqueue: it has exited
 *   already; Linux: it was reaped already): reap it (waitpid WNOHANG) now;
 * - ENOSYS, EPERM, EINVAL...: the OS offers no such fd here (Linux before
 *   5.3, a sandbox refusing the call): wait for the exit another way.
 */
int yl_proc_exit_fd(int pid);

#endif
