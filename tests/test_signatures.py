"""help() and inspect.signature() see the real signatures of the public API.

The compiled functions kept as plain builtins for the cheapest call
(binding=False) carry a ``__text_signature__``; the C classes carry their
constructor's signature; both must agree with the .pyi stubs, which mypy's
stubtest checks in turn. The names loaded on first use are in dir() and so
in help(yieldloop).
"""

import ast
import inspect
import pathlib
import subprocess
import sys
import types

import pytest

import yieldloop as yl

PACKAGE = pathlib.Path(yl.__file__).parent

def _stub_signature(args: ast.arguments, drop_self: bool) -> inspect.Signature:
    """An inspect.Signature (names, kinds, defaults) from a stub's def."""
    P = inspect.Parameter
    params = []
    positional = [(a, P.POSITIONAL_ONLY) for a in args.posonlyargs] + [
        (a, P.POSITIONAL_OR_KEYWORD) for a in args.args
    ]
    if drop_self:
        positional = positional[1:]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for (a, kind), d in zip(positional, defaults):
        params.append(P(a.arg, kind, default=_default(d)))
    if args.vararg:
        params.append(P(args.vararg.arg, P.VAR_POSITIONAL))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        params.append(P(a.arg, P.KEYWORD_ONLY, default=_default(d)))
    if args.kwarg:
        params.append(P(args.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


_ANY_DEFAULT = object()


def _default(node):
    if node is None:
        return inspect.Parameter.empty
    value = ast.literal_eval(node)
    return _ANY_DEFAULT if value is Ellipsis else value


def _stub_path(module: str) -> pathlib.Path:
    """The stub of a module of the package: yieldloop.native._kernel -> native/_kernel.pyi."""
    return PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".pyi")


def _stub_defs(module: str):
    """{name: ast node} of the top-level defs and classes of a module's stub."""
    tree = ast.parse(_stub_path(module).read_text())
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _stub_init(module: str, cls: ast.ClassDef):
    """The stub's __init__ of ``cls`` (or of the first stub base having one)."""
    defs = _stub_defs(module)
    while cls is not None:
        for n in cls.body:
            if isinstance(n, ast.FunctionDef) and n.name == "__init__":
                return _stub_signature(n.args, drop_self=True)
        base = cls.bases[0] if cls.bases else None
        if isinstance(base, ast.Subscript):  # Queue[_T]
            base = base.value
        cls = defs.get(base.id) if isinstance(base, ast.Name) else None
    return inspect.Signature([])


def _compiled_public_names():
    """Public functions and non-exception classes of the compiled modules."""
    for name in yl.__all__:
        obj = getattr(yl, name)
        module = getattr(obj, "__module__", "") or ""
        if not module.startswith("yieldloop.") or not _stub_path(module).exists():
            continue
        if isinstance(obj, type) and issubclass(obj, BaseException):
            continue
        if callable(obj):
            yield name


def _same(runtime: inspect.Signature, stub: inspect.Signature) -> bool:
    if [(p.name, p.kind) for p in runtime.parameters.values()] != [
        (p.name, p.kind) for p in stub.parameters.values()
    ]:
        return False
    for r, s in zip(runtime.parameters.values(), stub.parameters.values()):
        if s.default is _ANY_DEFAULT:
            if r.default is inspect.Parameter.empty:
                return False
        elif r.default != s.default:
            return False
    return True


# Made by a factory; constructing one directly is refused (see below).
FACTORY_MADE = {"Task": "spawn()", "Server": "start_server()", "Process": "open_process()",
                "TLSStream": "start_tls()", "SignalReceiver": "open_signal_receiver()"}

CASES = [
    n
    for n in _compiled_public_names()
    if n not in FACTORY_MADE
]


@pytest.mark.parametrize("name", CASES)
def test_public_signature_is_the_one_in_the_stubs(name):
    obj = getattr(yl, name)
    stub = _stub_defs(obj.__module__)[name]
    if isinstance(stub, ast.ClassDef):
        expected = _stub_init(obj.__module__, stub)
    else:
        expected = _stub_signature(stub.args, drop_self=False)
    runtime = inspect.signature(obj)
    assert _same(runtime, expected), f"{name}{runtime} but the stub says {name}{expected}"


def test_the_builtin_traps_keep_binding_false_and_show_their_signature():
    for fn, sig in ((yl.sleep, "(seconds, /)"), (yl.wait_readable, "(fileobj, /)"),
                    (yl.wait_writable, "(fileobj, /)")):
        # A plain builtin (the cheapest call), not a Cython function object.
        assert type(fn) is types.BuiltinFunctionType, fn
        assert str(inspect.signature(fn)) == sig
        # The signature line is not repeated in the docstring.
        assert not fn.__doc__.startswith(fn.__name__ + "(")


def test_sleep_takes_its_argument_by_position_only():
    with pytest.raises(TypeError):
        yl.sleep(seconds=1)


def test_queue_shows_its_constructor_in_help():
    import pydoc

    text = pydoc.render_doc(yl.Queue, renderer=pydoc.plaintext)
    assert "Queue(maxsize=0)" in text
    assert "__init__(self, /, maxsize=0)" in text
    assert "*args, **kwargs" not in text.split("Static methods")[0]


@pytest.mark.parametrize("name, factory", sorted(FACTORY_MADE.items()))
def test_classes_made_by_a_factory_refuse_direct_construction(name, factory):
    with pytest.raises(TypeError, match=r"made by .*" + factory.replace("(", r"\(").replace(")", r"\)")):
        getattr(yl, name)()


def _python(code):
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_dir_lists_the_names_loaded_on_first_use_without_importing_asyncio():
    out = _python(
        "import sys, yieldloop\n"
        "names = dir(yieldloop)\n"
        "print('asyncio' in sys.modules, sorted(set(yieldloop.__all__) - set(names)))\n"
    )
    assert out.split() == ["False", "[]"]


def test_help_documents_the_names_loaded_on_first_use():
    out = _python(
        "import pydoc, yieldloop\n"
        "print(pydoc.render_doc(yieldloop, renderer=pydoc.plaintext))\n"
    )
    for shown in ("class Loop(", "class EventLoopPolicy(", "class CancelledError(",
                  "run_asyncio(main, *, debug=None)", "install()"):
        assert shown in out, shown
    # The module's lazy-loading hooks are not shown as API.
    assert "__getattr__(name)" not in out and "__dir__()" not in out
