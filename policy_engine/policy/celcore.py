"""The CEL evaluator: the compiled core of the common-expression-language binding, alone.

The binding's package `cel` imports its own command-line app on import (`cel/__init__.py`
runs `from . import cli, stdlib`, and cel.cli imports typer, rich, pydantic, prompt_toolkit
and pygments): about 0.2 s of every process, for nothing the engine uses. The evaluator
itself is the extension module `cel.cel` (compile, Context, Program). It is loaded here
straight from the package's folder, without running the package's __init__, and registered
as `cel.cel`, so that a later `import cel` (by another library) reuses this module instead
of initialising the extension a second time.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType

NAME = "cel.cel"


def _load() -> ModuleType:
    loaded = sys.modules.get(NAME)
    if loaded is not None:
        return loaded
    if "cel" in sys.modules:  # the whole binding is already imported: use its core
        import cel.cel
        return cel.cel
    package = importlib.util.find_spec("cel")  # locates the package without importing it
    if package is None or not package.submodule_search_locations:
        raise ImportError("the common-expression-language package (module cel) is not installed")
    spec = importlib.machinery.PathFinder.find_spec("cel", list(package.submodule_search_locations))
    if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        # a layout this module does not know: import the binding as its authors intend
        import cel.cel
        return cel.cel
    spec = importlib.util.spec_from_file_location(NAME, spec.origin)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[NAME]
        raise
    return module


cel = _load()

__all__ = ["cel"]
