"""The package's layering: imports flow one way, from the shared modules through the stages to the
front ends (errors, dates... -> policy -> evaluate -> selection -> report -> review -> audit -> inputs, batch ->
service -> cli). The service reads requests as the command line does (inputs, batch), so it comes after them.

Every import in every module is read with ast (imports inside functions and under TYPE_CHECKING
too); an import of a module of a later stage fails the test, as does a module no stage claims.
"""
import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "policy_engine"

# In order: a module may import modules of its own stage and of earlier stages only.
STAGES = (
    ("shared", ("policy_engine.errors", "policy_engine.version", "policy_engine.dates", "policy_engine.textio", "policy_engine.resources",
                "policy_engine.yamlio")),
    ("policy", ("policy_engine.policy",)),
    ("evaluate", ("policy_engine.evaluate",)),
    ("selection", ("policy_engine.selection",)),
    ("report", ("policy_engine.report",)),
    ("review", ("policy_engine.review",)),
    ("audit", ("policy_engine.audit",)),
    ("readers", ("policy_engine.inputs", "policy_engine.batch")),
    ("service", ("policy_engine.service",)),
    ("front ends", ("policy_engine.cli", "policy_engine.__main__", "policy_engine")),
)

# Imports against the order that exist today, each inside a function (so no import cycle at load
# time). Listed exactly: a new one fails the test, and so does one listed that has gone.
KNOWN_BACK_EDGES: set[tuple[str, str]] = set()


def stage_of(module: str) -> int | None:
    """The rank of the stage claiming `module` (the longest matching prefix wins)."""
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    return rank


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package): p for p in sorted(package.rglob("*.py"))
            if "policies" not in p.relative_to(package).parts and "schemas" not in p.relative_to(package).parts}


def imports(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's own modules that `source` (module `name`) imports."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "policy_engine")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "policy_engine":
                continue
            for alias in node.names:  # `from pkg import module` imports the module itself
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def back_edges(mods: dict[str, Path]) -> set[tuple[str, str]]:
    known = set(mods)
    out = set()
    for name, path in mods.items():
        rank = stage_of(name)
        for target in imports(name, path.read_text(encoding="utf-8"), path.name == "__init__.py", known):
            if stage_of(target) is not None and stage_of(target) > rank:
                out.add((name, target))
    return out


def test_every_module_belongs_to_a_stage():
    mods = modules()
    assert "policy_engine.policy.loader" in mods and "policy_engine.evaluate.decisions.exit" in mods
    assert [m for m in mods if stage_of(m) is None] == []


def test_imports_flow_from_the_shared_modules_to_the_front_ends():
    found = back_edges(modules())
    assert found - KNOWN_BACK_EDGES == set(), "imports against the stage order (move the module or the code)"
    assert KNOWN_BACK_EDGES - found == set(), "a known back-edge has gone: take it off KNOWN_BACK_EDGES"


def test_the_imports_read_are_the_real_ones():
    mods = modules()
    known = set(mods)
    engine = mods["policy_engine.evaluate.engine"]
    got = imports("policy_engine.evaluate.engine", engine.read_text(encoding="utf-8"), False, known)
    assert {"policy_engine.dates", "policy_engine.evaluate.decisions", "policy_engine.evaluate.evaluate",
            "policy_engine.policy.expr", "policy_engine.policy.workdays"} <= got
    golden = mods["policy_engine.report.golden"]  # `from ..policy import schema as _schema`
    assert "policy_engine.policy.schema" in imports("policy_engine.report.golden", golden.read_text(encoding="utf-8"),
                                                    False, known)


@pytest.mark.parametrize("where, line", [
    ("policy/model.py", "from ..evaluate.verdict import Verdict\n"),
    ("policy/expr.py", "def f():\n    from ..selection import draw\n"),
    ("errors.py", "import policy_engine.policy.loader\n"),
    ("selection/pool.py", "from policy_engine import cli\n"),
    ("evaluate/decisions/exit.py", "from ...report.render import render_verdict\n"),
])
def test_an_import_against_the_order_is_caught(tmp_path, where, line):
    import shutil
    copy = tmp_path / "policy_engine"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("policies", "schemas", "__pycache__"))
    target = copy / where
    target.write_text(target.read_text(encoding="utf-8") + "\n" + line, encoding="utf-8")
    mods = modules(copy)
    found = back_edges(mods) - KNOWN_BACK_EDGES
    assert len(found) == 1 and next(iter(found))[0] == module_name(target, copy)


def test_pyproject_lists_every_subpackage():
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    packages = {module_name(p) for p in PACKAGE.rglob("__init__.py")
                if "policies" not in p.relative_to(PACKAGE).parts and "schemas" not in p.relative_to(PACKAGE).parts}
    assert sorted(listed) == sorted(packages)


def test_the_public_names_stay_importable_from_the_package():
    import policy_engine
    assert all(hasattr(policy_engine, name) for name in policy_engine.__all__)
    assert {"Registry", "decide", "draw", "verify", "load_pool", "check_panel", "load_policy", "DECISIONS",
            "Verdict", "Policy", "Problem"} <= set(policy_engine.__all__)
