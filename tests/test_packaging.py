"""What the installed package carries besides code."""

import importlib
import importlib.machinery
import importlib.util
import pathlib
import pkgutil

import yieldloop

LAYERS = ("core", "native", "aio")
ROOT = pathlib.Path(yieldloop.__file__).parent


def _compiled(package):
    """Dotted names of the compiled modules directly in ``package``."""
    names = []
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.ispkg:
            continue
        spec = importlib.util.find_spec(info.name)
        if spec.origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            names.append(info.name)
    return names


def test_every_compiled_module_has_a_type_stub():
    compiled = [m for layer in LAYERS for m in _compiled(importlib.import_module("yieldloop." + layer))]
    assert "yieldloop.native._kernel" in compiled
    missing = [m for m in compiled if not ROOT.joinpath(*m.split(".")[1:]).with_suffix(".pyi").exists()]
    assert missing == []
    assert (ROOT / "py.typed").exists()


def test_compiled_modules_live_in_a_layer_folder():
    # core: the scheduler core; native: the kernel and its API; aio: yieldloop.Loop.
    assert _compiled(yieldloop) == []
    for layer in LAYERS:
        package = importlib.import_module("yieldloop." + layer)
        assert package.__doc__, layer
        assert _compiled(package), layer
