"""libyaml composes policy files for speed; it must give what the pure-Python composer gives.

These tests need PyYAML built with libyaml and FAIL without it, saying so and how to fix it
(tests/components.py). Without libyaml the engine is not wrong: yamlio composes in pure Python,
the reference these tests compare against, only slower. But then there is nothing to compare,
and a pass (or a skip, which reads as one) would claim a check that never ran. A fresh
`pip install` of PyYAML has libyaml wherever PyPI has a binary wheel for the platform (checked:
PyYAML 6.0.4, manylinux x86_64, in a new venv, as `.ci/run` installs it); a PyYAML built from its
source distribution (no wheel for the platform, or --no-binary) has it only if libyaml's headers
were there at build time, and its build says nothing when they were not. On such a platform
the right fix is to build PyYAML with libyaml (`python3 tests/components.py` prints how), not
to let these tests pass: the engine's users there would run the slower composer unknowingly.
"""
from pathlib import Path

import pytest
from components import libyaml_composer

import policy_engine.yamlio as yamlio

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "policies").rglob("*.yaml")) + sorted((ROOT / "fixtures").glob("*/sanction/*.yaml"))[:5]


def parse_with(composer, text: str):
    saved, yamlio._Composer = yamlio._Composer, composer
    try:
        doc = yamlio.parse(text, "t.yaml")
        return doc.data, doc.marks
    except yamlio.YamlProblem as exc:
        p = exc.problem
        return p.code, p.line, p.column
    finally:
        yamlio._Composer = saved


@pytest.mark.parametrize("file", FILES, ids=[str(f.relative_to(ROOT)) for f in FILES])
def test_same_data_and_marks(file):
    text = file.read_text(encoding="utf-8")
    assert parse_with(libyaml_composer(), text) == parse_with(yamlio._Loader, text)


@pytest.mark.parametrize("text", ["a: [1\n", "a:\n  - b\n c: d\n", "a: 1\na: 2\n", "a: 2025-01-01\nb: yes\nc: on\n",
                                  "<<: {a: 1}\n", "a: *x\n", "a: !!python/object:os.system x\n", "? [a]\n: 1\n"])
def test_same_values_and_error_locations(text):
    assert parse_with(libyaml_composer(), text) == parse_with(yamlio._Loader, text)
