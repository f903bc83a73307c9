"""What the OS holds in this process's epoll sets, read from /proc (Linux).

``/proc/self/fdinfo/<epoll fd>`` has one ``tfd:`` line per registration,
with the fd number it was made under (kept even once that number is
closed, which is how a stale registration shows) and its event mask. Tests
assert on this, not on the poller's own counts, because that is what makes
a loop spin or sleep.
"""

import os
import sys

import pytest

EPOLLIN = 0x001
EPOLLOUT = 0x004

needs_fdinfo = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/fdinfo (Linux)"
)


def epoll_fds():
    """The fds of this process that are epoll instances."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[eventpoll]":
                out.append(int(name))
        except OSError:
            pass                    # the listing's own fd, gone by now
    return out


def registrations(epfd=None):
    """[(epoll fd, registered fd number, event mask)] for ``epfd``, or for
    every epoll instance of the process."""
    out = []
    for ep in [epfd] if epfd is not None else epoll_fds():
        with open(f"/proc/self/fdinfo/{ep}") as f:
            for line in f:
                if line.startswith("tfd:"):
                    fields = line.split()
                    out.append((ep, int(fields[1]), int(fields[3], 16)))
    return out


def masks(fd, epfd=None):
    """Event masks of the registrations made under fd number ``fd``."""
    return [mask for _, tfd, mask in registrations(epfd) if tfd == fd]


def registered(fd, epfd=None):
    """True if an epoll set holds a registration made under ``fd``."""
    return bool(masks(fd, epfd))


def armed(fd, epfd=None):
    """True if such a registration would report an event (it is not a
    one-shot registration that has fired already)."""
    return any(mask & (EPOLLIN | EPOLLOUT) for mask in masks(fd, epfd))

