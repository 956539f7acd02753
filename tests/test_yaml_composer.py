"""libyaml composes policy files for speed; it must give what the pure-Python composer gives."""
from pathlib import Path

import pytest

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


@pytest.mark.skipif(yamlio._Composer is yamlio._Loader, reason="PyYAML without libyaml")
@pytest.mark.parametrize("file", FILES, ids=[str(f.relative_to(ROOT)) for f in FILES])
def test_same_data_and_marks(file):
    text = file.read_text(encoding="utf-8")
    assert parse_with(yamlio._Composer, text) == parse_with(yamlio._Loader, text)


@pytest.mark.skipif(yamlio._Composer is yamlio._Loader, reason="PyYAML without libyaml")
@pytest.mark.parametrize("text", ["a: [1\n", "a:\n  - b\n c: d\n", "a: 1\na: 2\n", "a: 2025-01-01\nb: yes\nc: on\n",
                                  "<<: {a: 1}\n", "a: *x\n", "a: !!python/object:os.system x\n", "? [a]\n: 1\n"])
def test_same_values_and_error_locations(text):
    assert parse_with(yamlio._Composer, text) == parse_with(yamlio._Loader, text)
