"""What the installed package carries besides code."""

import importlib.machinery
import pathlib

import yieldloop


def test_every_compiled_module_has_a_type_stub():
    root = pathlib.Path(yieldloop.__file__).parent
    compiled = [p for p in root.iterdir()
                if any(p.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)]
    assert compiled, "no compiled module found next to yieldloop/__init__.py"
    missing = [p.name for p in compiled
               if not (root / (p.name.split(".")[0] + ".pyi")).exists()]
    assert missing == []
    assert (root / "py.typed").exists()
