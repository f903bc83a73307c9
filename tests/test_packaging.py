"""What the installed package carries besides code."""

import importlib
import importlib.machinery
import pathlib
import pkgutil

import yieldloop


def test_every_compiled_module_has_a_type_stub():
    stubs = pathlib.Path(yieldloop.__file__).parent
    compiled = []
    for info in pkgutil.iter_modules(yieldloop.__path__):
        module = importlib.import_module("yieldloop." + info.name)
        if module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            compiled.append(info.name)
    assert "_kernel" in compiled
    assert [m for m in compiled if not (stubs / (m + ".pyi")).exists()] == []
    assert (stubs / "py.typed").exists()
