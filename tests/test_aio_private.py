"""Each private asyncio name yieldloop.Loop depends on still exists on this
Python, and each method we override accepts what asyncio passes to it.

The list is yieldloop._aio_private.PRIVATE_NAMES; a new CPython release that
renames or re-signs one of them fails here, by name, instead of somewhere
deep in a connection."""

import asyncio
import importlib
import inspect
import sys

import pytest

from yieldloop import _aio_private
from yieldloop.loop import Loop

ENTRIES = _aio_private.PRIVATE_NAMES


def _resolve(owner):
    parts = owner.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(owner)


def _instance_attrs():
    # Attributes set in asyncio's __init__ exist on an instance only.
    loop = asyncio.SelectorEventLoop()
    try:
        return set(vars(loop)) | set(dir(loop))
    finally:
        loop.close()


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.owner}.{e.name}")
def test_private_name_exists_on_this_python(entry):
    if sys.version_info < entry.since:
        pytest.skip(f"{entry.name} is used from Python {'.'.join(map(str, entry.since))} on")
    if sys.version_info >= entry.until:
        pytest.skip(f"{entry.name} is used up to Python {'.'.join(map(str, entry.until))}")
    owner = _resolve(entry.owner)
    if entry.use == "attribute":
        assert entry.name in _instance_attrs(), f"{entry.owner} has no {entry.name}"
    else:
        assert hasattr(owner, entry.name), f"{entry.owner} has no {entry.name}"


def _accepts(ours, theirs):
    """Every parameter of ``theirs`` can be passed to ``ours`` the same way."""
    mine = inspect.signature(ours).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in mine.values())
    var_pos = any(p.kind is p.VAR_POSITIONAL for p in mine.values())
    missing = []
    for name, p in inspect.signature(theirs).parameters.items():
        if p.kind is p.VAR_POSITIONAL:
            ok = var_pos
        elif p.kind is p.VAR_KEYWORD:
            ok = var_kw
        elif name in mine:
            q = mine[name]
            ok = q.kind == p.kind or (
                p.kind is p.POSITIONAL_OR_KEYWORD and q.kind is q.POSITIONAL_OR_KEYWORD
            )
            # asyncio may omit a parameter it gives a default: so must we.
            ok = ok and (p.default is p.empty or q.default is not q.empty)
        else:
            ok = p.kind is p.KEYWORD_ONLY and var_kw
        if not ok:
            missing.append(name)
    return missing


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e.use == "override"], ids=lambda e: e.name
)
def test_override_accepts_what_asyncio_passes(entry):
    theirs = getattr(_resolve(entry.owner), entry.name)
    ours = getattr(Loop, entry.name)
    assert ours is not theirs, f"Loop does not override {entry.name}"
    missing = _accepts(ours, theirs)
    assert not missing, (
        f"Loop.{entry.name}{inspect.signature(ours)} cannot take {missing} "
        f"of asyncio's {entry.name}{inspect.signature(theirs)}"
    )


def test_loop_overrides_no_private_method_the_list_leaves_out():
    listed = {e.name for e in ENTRIES if e.use == "override"}
    base = _aio_private.UnixSelectorEventLoop
    for cls in Loop.__mro__:
        if cls is base:
            break
        for name in vars(cls):
            if name.startswith("_") and not name.startswith("__") and hasattr(base, name):
                assert name in listed, f"{cls.__name__}.{name} overrides asyncio's but is not listed"


def test_the_policy_base_does_not_warn_at_import():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(_aio_private)


@pytest.mark.skipif(_aio_private.current_tasks is None, reason="3.14+ keeps the current task in C")
def test_current_tasks_is_the_dict_asyncios_enter_task_fills():
    # yieldloop's Task fills it directly, as asyncio's _enter_task does.
    loop, task = object(), object()
    asyncio.tasks._enter_task(loop, task)
    try:
        assert _aio_private.current_tasks[loop] is task
    finally:
        asyncio.tasks._leave_task(loop, task)
    assert loop not in _aio_private.current_tasks


@pytest.mark.skipif(_aio_private.eager_tasks is None, reason="the set of eager tasks is C's on 3.14+")
def test_eager_tasks_is_the_set_asyncios_register_eager_task_fills():
    task = object()
    asyncio.tasks._register_eager_task(task)
    try:
        assert task in _aio_private.eager_tasks
    finally:
        asyncio.tasks._unregister_eager_task(task)
    assert task not in _aio_private.eager_tasks
