"""What the installed package carries besides code."""

import importlib
import importlib.machinery
import importlib.util
import pathlib
import pkgutil
import subprocess
import sys

import pytest

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


def _all_compiled():
    return [m for layer in LAYERS for m in _compiled(importlib.import_module("yieldloop." + layer))]


def test_every_compiled_module_has_a_type_stub():
    compiled = _all_compiled()
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


# Each compiled module can be the first one imported, whatever the package's
# __init__ happens to import first: the kernel's modules import each other
# (a Task refers to its kernel), which works only while no module needs a
# type of the cycle as the base of its own.
_FIRST_IMPORT = """
import sys, types
package = types.ModuleType("yieldloop")
package.__path__ = [{root!r}]
sys.modules["yieldloop"] = package   # its __init__ would import the others first
import importlib
importlib.import_module({name!r})
from yieldloop.native._api import run, spawn

async def child():
    return 7

async def main():
    return await spawn(child)

print(run(main))
"""


@pytest.mark.parametrize("name", _all_compiled())
def test_compiled_module_imports_first(name):
    code = _FIRST_IMPORT.format(root=str(ROOT), name=name)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout.strip()) == (0, "7"), r.stderr[-2000:]
