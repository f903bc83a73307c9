"""Every private name of asyncio that yieldloop.Loop touches, in one place.

yieldloop.Loop is asyncio's Unix selector loop with its scheduling, timers,
fd callbacks and socket transport replaced, so it depends on some of
asyncio's private names: functions it calls, methods it overrides (asyncio's
own code calls them on the loop), attributes it reads or sets, and names
asyncio's code reads on our transport. A CPython release can change any of
them without notice; this module is the list, and
``tests/test_aio_private.py`` checks each entry on the running Python (the
name exists; an override accepts every parameter asyncio's has, by the same
name and kind).

The private functions and classes are imported from here by the rest of the
package, never from asyncio directly. Each entry names the versions where it
differs; everything here was checked on CPython 3.10, 3.11, 3.12, 3.13
(pyenv builds), 3.14 and 3.15 (Debian's builds).
"""

from __future__ import annotations

import inspect
import sys
from asyncio import (
    base_events, base_futures, base_tasks, constants, events, format_helpers, futures, tasks,
    transports, unix_events)
from typing import NamedTuple

#: The versions every entry below was checked on.
CHECKED_ON = ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15")

# --- private functions and classes we call ----------------------------------

#: Base class of yieldloop.Loop.
UnixSelectorEventLoop = unix_events._UnixSelectorEventLoop
#: run_forever() marks the loop running in this thread (what asyncio.get_running_loop() reads).
set_running_loop = events._set_running_loop
#: run_asyncio() on 3.10: refuse to start inside a running loop.
get_running_loop = events._get_running_loop
#: The socket transport sets TCP_NODELAY as asyncio's does.
set_nodelay = base_events._set_nodelay  # type: ignore[attr-defined]  # not in typeshed
#: The socket transport wakes a connection's waiter.
set_result_unless_cancelled = futures._set_result_unless_cancelled  # type: ignore[attr-defined]
#: loop.sendfile() asks a transport which mode it supports.
SendfileMode = constants._SendfileMode
#: What the socket transport presents as its class derives from it:
#: loop.sendfile()'s fallback refuses a transport that is not one.
FlowControlMixin = transports._FlowControlMixin
#: Debug mode: where a handle was made.
extract_stack = format_helpers.extract_stack
#: The slow-callback warning names a handle as asyncio does (its task, if
#: the callback is a task's step).
format_handle = base_events._format_handle  # type: ignore[attr-defined]  # not in typeshed
#: What call_soon_threadsafe()'s handles present as their class, where
#: asyncio has it (3.14+; None before: they present as asyncio.Handle).
ThreadSafeHandle = getattr(events, "_ThreadSafeHandle", None)

# yieldloop's Task and Future (yieldloop.aio._aiotask, yieldloop.aio._aiofuture) do
# what asyncio's C Task does with these: register the task (all_tasks()),
# enter and leave it around each step (current_task()), start it eagerly.
#: Every new task: asyncio.all_tasks() lists it while pending.
register_task = tasks._register_task
#: Around each step: asyncio.current_task() returns the task meanwhile.
enter_task = tasks._enter_task
#: Around each step.
leave_task = tasks._leave_task
#: An eager task's first step, inside create_task() (3.12+; None before).
swap_current_task = getattr(tasks, "_swap_current_task", None)
# The dict asyncio's _enter_task/_leave_task fill and current_task() reads
# (loop -> task), up to 3.13; 3.14 keeps the current task in the thread state.
current_tasks = getattr(tasks, "_current_tasks", None) if sys.version_info < (3, 14) else None
#: An eager task's first step (3.12+; None before); a task queued in a
#: running loop (yieldloop.aio._taskreg).
register_eager_task = getattr(tasks, "_register_eager_task", None)
#: The set _register_eager_task fills and all_tasks() reads, on 3.12 and
#: 3.13 (None elsewhere: 3.14 keeps it in the C module's state).
eager_tasks = getattr(tasks, "_eager_tasks", None) if (3, 12) <= sys.version_info < (3, 14) else None
#: An eager task's first step (3.12+; None before).
unregister_eager_task = getattr(tasks, "_unregister_eager_task", None)
#: The reprs of a Future and a Task, as asyncio's (3.11+; None before, where
#: the class builds it from the *_repr_info list).
future_repr = getattr(base_futures, "_future_repr", None)
task_repr = getattr(base_tasks, "_task_repr", None)
#: The words of those reprs.
future_repr_info = base_futures._future_repr_info
task_repr_info = base_tasks._task_repr_info
#: Task.get_stack() and Task.print_stack().
task_get_stack = base_tasks._task_get_stack
task_print_stack = base_tasks._task_print_stack
#: A Future's _state strings, as asyncio's shows them.
FUTURE_STATES = (base_futures._PENDING, base_futures._CANCELLED, base_futures._FINISHED)

_format_callback_source = format_helpers._format_callback_source
_FORMAT_TAKES_DEBUG = "debug" in inspect.signature(_format_callback_source).parameters


def format_callback_source(func, args, debug):
    """How asyncio names a callback in a handle's repr and error messages
    ("f() at file.py:3"); 3.13 shows the arguments in debug mode only."""
    if _FORMAT_TAKES_DEBUG:
        return _format_callback_source(func, args, debug=debug)
    return _format_callback_source(func, args)
#: Base of EventLoopPolicy: asyncio.DefaultEventLoopPolicy's own class on
#: Unix (child watchers up to 3.13 included); the public name warns at
#: import from 3.14 on, where asyncio's policies are deprecated.
UnixDefaultEventLoopPolicy = unix_events._UnixDefaultEventLoopPolicy


class Entry(NamedTuple):
    """One private name: where it lives, how we use it, how versions differ."""

    owner: str  # "module" or "module.Class"
    name: str
    use: str  # "call", "override", "attribute", "transport"/"handle" (asyncio reads it on ours)
    differs: str = ""  # versions where it differs, and how; "" if the same everywhere
    since: tuple[int, int] = (3, 10)  # the first version that has it (older: not used)
    until: tuple[int, int] = (99, 0)  # the first version it is no longer used on


_BSEL = "asyncio.selector_events.BaseSelectorEventLoop"
_BASE = "asyncio.base_events.BaseEventLoop"
_TRANSPORT = "yieldloop.aio._transport.SocketTransport"
_HANDLE = "yieldloop.core._handles.Handle"

#: The whole list. tests/test_aio_private.py checks every entry.
PRIVATE_NAMES = (
    # Module-level functions and classes (imported above).
    Entry("asyncio.unix_events", "_UnixSelectorEventLoop", "call"),
    Entry("asyncio.events", "_set_running_loop", "call"),
    Entry(
        "asyncio.events",
        "_get_running_loop",
        "call",
        "also by the kernel: the running yieldloop.Loop's core, a run started from asyncio code",
    ),
    Entry("asyncio.base_events", "_set_nodelay", "call"),
    Entry("asyncio.futures", "_set_result_unless_cancelled", "call"),
    Entry("asyncio.constants", "_SendfileMode", "call"),
    Entry("asyncio.transports", "_FlowControlMixin", "call", "loop.sendfile()'s fallback"),
    Entry("asyncio.unix_events", "_UnixDefaultEventLoopPolicy", "call"),
    Entry("asyncio.format_helpers", "extract_stack", "call"),
    Entry(
        "asyncio.format_helpers",
        "_format_callback_source",
        "call",
        "3.13+: takes debug= (arguments shown only in debug mode)",
    ),
    Entry("asyncio.base_events", "_format_handle", "call"),
    Entry(
        "asyncio.events",
        "_ThreadSafeHandle",
        "call",
        "3.14+ (call_soon_threadsafe()'s handles present as it); before: "
        "none, they present as asyncio.Handle",
        since=(3, 14),
    ),
    Entry("asyncio.tasks", "_register_task", "call", "yieldloop's Task registers itself"),
    Entry("asyncio.tasks", "_enter_task", "call", "around each step of yieldloop's Task"),
    Entry("asyncio.tasks", "_leave_task", "call", "around each step of yieldloop's Task"),
    Entry(
        "asyncio.tasks",
        "_current_tasks",
        "call",
        "up to 3.13: set around each step of yieldloop's Task, and around a native "
        "task's step while a Loop shares its core (what _enter_task/_leave_task do)",
        until=(3, 14),
    ),
    Entry("asyncio.tasks", "_swap_current_task", "call", "an eager task's first step",
          since=(3, 12)),
    Entry("asyncio.tasks", "_register_eager_task", "call",
          "an eager task's first step; a task queued in a running loop", since=(3, 12)),
    Entry("asyncio.tasks", "_unregister_eager_task", "call",
          "an eager task's first step; a task queued in a running loop", since=(3, 12)),
    Entry(
        "asyncio.tasks",
        "_eager_tasks",
        "call",
        "3.12-3.13: the set _register_eager_task fills, filled directly (3.14 keeps it "
        "in the C module's state)",
        since=(3, 12),
        until=(3, 14),
    ),
    Entry("asyncio.base_futures", "_future_repr", "call", "a Future's repr (3.11+)",
          since=(3, 11)),
    Entry("asyncio.base_futures", "_future_repr_info", "call", "a Future's repr"),
    Entry("asyncio.base_futures", "_PENDING", "call", "Future._state"),
    Entry("asyncio.base_futures", "_CANCELLED", "call", "Future._state"),
    Entry("asyncio.base_futures", "_FINISHED", "call", "Future._state"),
    Entry("asyncio.base_tasks", "_task_repr", "call", "a Task's repr (3.11+)", since=(3, 11)),
    Entry("asyncio.base_tasks", "_task_repr_info", "call", "a Task's repr"),
    Entry("asyncio.base_tasks", "_task_get_stack", "call", "Task.get_stack()"),
    Entry("asyncio.base_tasks", "_task_print_stack", "call", "Task.print_stack()"),
    Entry(
        "asyncio.base_events",
        "logger",
        "call",
        "the slow-callback warning logs through it (tests patch it there)",
    ),
    # Loop methods we override: asyncio's own code (transports, servers,
    # signal handling, sock_* methods) calls them on our loop.
    Entry(
        _BSEL,
        "_add_reader",
        "override",
        "3.15: takes context= (its transports pass their connection's context)",
    ),
    Entry(_BSEL, "_add_writer", "override", "3.15: takes context="),
    Entry(_BSEL, "_remove_reader", "override"),
    Entry(_BSEL, "_remove_writer", "override"),
    Entry(_BSEL, "_process_events", "override"),
    Entry(
        _BSEL,
        "_make_self_pipe",
        "override",
        "no socket pair: the core's wake-up pipe is the loop's self-pipe",
    ),
    Entry(_BSEL, "_close_self_pipe", "override"),
    Entry(_BSEL, "_write_to_self", "override"),
    Entry(
        _BSEL,
        "_make_socket_transport",
        "override",
        "3.15: takes context= (the connection's context)",
    ),
    Entry(_BASE, "_add_callback", "override"),
    Entry(_BASE, "_call_soon", "override"),
    Entry(_BASE, "_run_once", "override"),
    # Loop methods and attributes of asyncio's we call, read or set.
    Entry(_BASE, "_check_callback", "call"),
    Entry(_BASE, "_check_closed", "call"),
    Entry(_BASE, "_check_running", "call"),
    Entry(_BASE, "_check_thread", "call"),
    Entry(_BASE, "_asyncgen_firstiter_hook", "call"),
    Entry(_BASE, "_asyncgen_finalizer_hook", "call"),
    Entry(_BASE, "_set_coroutine_origin_tracking", "call"),
    Entry(
        "asyncio.unix_events._UnixSelectorEventLoop",
        "_process_self_data",
        "call",
        "the signal numbers the core's wake-up pipe carried",
    ),
    Entry(_BSEL, "_ssock", "attribute", "None: no socket pair"),
    Entry(
        _BSEL,
        "_csock",
        "attribute",
        "the wake-up pipe's write end (add_signal_handler's set_wakeup_fd)",
    ),
    Entry(_BASE, "_internal_fds", "attribute", "counts the wake-up pipe as the self-pipe"),
    Entry(
        "asyncio.unix_events._UnixSelectorEventLoop",
        "_signal_handlers",
        "attribute",
        "remove_signal_handler(): poll when busy while any is left",
    ),
    Entry(_BASE, "_debug", "attribute"),
    Entry(_BASE, "_stopping", "attribute"),
    Entry(_BASE, "_thread_id", "attribute"),
    Entry(_BASE, "_current_handle", "attribute"),
    Entry(_BASE, "_task_factory", "attribute"),
    Entry(_BSEL, "_transports", "attribute"),
    Entry(
        "asyncio.base_events.Server",
        "_attach",
        "call",
        "3.13+: takes the transport; before, no argument",
    ),
    Entry("asyncio.base_events.Server", "_detach", "call", "3.13+: takes the transport"),
    # Names asyncio's own code reads or calls on a socket transport, which
    # SocketTransport therefore has.
    Entry(_TRANSPORT, "_sock", "transport", "loop.sendfile()"),
    Entry(_TRANSPORT, "_sock_fd", "transport", "loop.sendfile()"),
    Entry(_TRANSPORT, "_sendfile_compatible", "transport", "loop.sendfile()"),
    Entry(_TRANSPORT, "_make_empty_waiter", "transport", "loop.sendfile()"),
    Entry(_TRANSPORT, "_reset_empty_waiter", "transport", "loop.sendfile()"),
    Entry(_TRANSPORT, "_protocol_paused", "transport", "sendfile's fallback; 3.10's TLS layer"),
    Entry(_TRANSPORT, "_loop", "transport", "sendfile's fallback"),
    Entry(_TRANSPORT, "_start_tls_compatible", "transport", "loop.start_tls()"),
    Entry(_TRANSPORT, "_force_close", "transport", "the TLS layer, on a fatal error"),
    Entry(_TRANSPORT, "_paused", "transport", "3.10's TLS layer"),
    # Names asyncio's own code reads on a handle (its TimerHandle's
    # comparisons, its slow-callback warning, its reprs), which Handle has.
    Entry(_HANDLE, "_when", "handle", "TimerHandle's comparisons"),
    Entry(_HANDLE, "_callback", "handle", "TimerHandle's comparisons; _format_handle"),
    Entry(_HANDLE, "_args", "handle", "TimerHandle's comparisons"),
    Entry(_HANDLE, "_cancelled", "handle", "TimerHandle's comparisons"),
    Entry(_HANDLE, "_context", "handle"),
    Entry(_HANDLE, "_source_traceback", "handle", "debug mode"),
    Entry(_HANDLE, "_repr_info", "handle"),
    Entry(_HANDLE, "_run", "handle", "_add_callback"),
)
