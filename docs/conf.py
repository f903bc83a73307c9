"""Sphinx configuration of yieldloop's documentation site.

Build it with ``scripts/build-docs`` (a venv of its own, warnings as
errors, internal links checked, the pages opened in headless chromium).
The API reference is generated from the docstrings of the *installed*
yieldloop, so that it shows what users get; the traces and example
outputs are generated at build time from real runs (``_ext/yieldloop_docs.py``).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))

# autodoc (Sphinx 9) would import a compiled module that has a .pyi next to
# it from the stub, and leave the stub in sys.modules in its place, where the
# lazily imported yieldloop.loop then fails to import from it. The reference
# documents the installed modules themselves (their signatures are checked
# against the stubs by tests/test_signatures.py); the stubs have a page.
os.environ["SPHINX_AUTODOC_IGNORE_NATIVE_MODULE_TYPE_STUBS"] = "1"

import yieldloop  # noqa: E402  (the installed package, never the source tree)

project = "yieldloop"
author = "The yieldloop developers"
copyright = "the yieldloop developers"
release = version = yieldloop.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "yieldloop_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# Data files of other tools live next to the pages; only pages are sources.
exclude_patterns = ["_build", "_generated/**/*.md", "programs", "**/*.json", "**/*.txt"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Every reference must resolve (nitpicky), and every warning is an error
# (scripts/build-docs passes -W).
nitpicky = True
# Names in signatures that no page documents: stdlib types (no network,
# so no intersphinx) and the type variables of generic classes.
nitpick_ignore_regex = [
    ("py:class", r"(asyncio|concurrent\.futures|socket|ssl|selectors|contextvars|os|typing|collections\.abc)\..*"),
    ("py:class", r"(Any|Callable|Awaitable|Coroutine|Generator|Iterable|TypeVar|_T)"),
]

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
# Show signatures as the objects give them (inspect.signature): the compiled
# functions carry theirs in __text_signature__.
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"yieldloop {release}"
html_static_path = ["_static"]
html_css_files = ["yieldloop.css"]
html_theme_options = {
    "navigation_with_keys": True,
}
html_show_sourcelink = False
