"""Pool files read strictly: damaged CSV, ambiguous ids, bad JSON lines and endless inputs are
located refusals (exit 4, `pool_invalid`), and one pool gives one digest in either format."""
import copy
import csv
import io
import json
import sys
import tempfile
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policy_engine.cli import main
from policy_engine import CaseError, LookupFailure, Registry
from policy_engine.selection import pool as pool_module
from policy_engine.selection.draw import draw, verify
from policy_engine.selection.pool import load_pool, pool_from_csv, pool_from_json_lines, pool_from_rows

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
DAY = "2026-11-20"
SEED = "5eed" * 16
DRAW_REQUEST = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.yaml"
FEW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # the count comes from the profile


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.fixture(scope="module")
def vocabulary(registry):
    return registry.in_force(XJ, DAY).vocabulary


def rows_csv(n=20, edit=None):
    """A CSV pool of n experts; `edit(i, cells)` may change row i's cells (a list) in place."""
    out = ["id,name,title_rank,fields"]
    for i in range(1, n + 1):
        cells = [f"E{i:02d}", f"名{i}", "senior", "装备制造;新材料"]
        if edit:
            edit(i, cells)
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


def cell(i_at, column, text):
    def edit(i, cells):
        if i == i_at:
            cells[column] = text
    return edit


def both(*edits):
    def edit(i, cells):
        for e in edits:
            e(i, cells)
    return edit


# (file name, content, line, column, words in the first problem)
HOSTILE = [
    # 1. CSV: a stray quote swallowing rows, unclosed quotes, quotes inside cells, NUL, line breaks
    ("swallow.csv", rows_csv(edit=both(cell(5, 1, '"名5'), cell(9, 1, '名9"'))), 6, 2,
     ["expert.name", "lines 6-10", "line 7", "reads as a row of its own", "E06"]),
    ("swallow-one.csv", rows_csv(edit=both(cell(5, 1, '"名5'), cell(6, 1, '名6"'))), 6, 2,
     ["expert.name", "line 7", "E06"]),
    ("unclosed.csv", rows_csv(edit=cell(5, 1, '"名5')), 6, 2, ["expert.name", "never closed"]),
    ("unclosed-at-end.csv", rows_csv(edit=cell(20, 3, '"装备制造')), 21, 4, ["expert.fields", "never closed"]),
    ("quote-inside.csv", rows_csv(edit=cell(5, 1, '名"5')), 6, 2, ["expert.name", "quote inside an unquoted cell"]),
    ("after-quote.csv", rows_csv(edit=cell(5, 1, '"名5"x')), 6, 2, ["expert.name", "after the closing quote"]),
    ("nul.csv", rows_csv(edit=cell(5, 1, "名\x005")), 6, 2, ["expert.name", "U+0000"]),
    ("nul-in-id.csv", rows_csv(edit=cell(3, 0, "E\x0003")), 4, 1, ["expert.id", "U+0000"]),
    ("newline-in-enum.csv", rows_csv(edit=cell(5, 2, '"senior\n"')), 6, 3,
     ["expert.title_rank", "lines 6-7", "line break is allowed only in a quoted free-text cell"]),
    ("newline-in-id.csv", rows_csv(edit=cell(5, 0, '"E\n05"')), 6, 1, ["expert.id", "line break"]),
    ("newline-in-list.csv", rows_csv(edit=cell(5, 3, '"装备制造\n新材料"')), 6, 4, ["expert.fields", "line break"]),
    ("newline-in-list-item.csv", rows_csv(edit=cell(5, 3, '"装备制造;\n新材料"')), 6, 4, ["expert.fields"]),
    ("crlf-swallow.csv", rows_csv(edit=both(cell(5, 1, '"名5'), cell(9, 1, '名9"'))).replace("\n", "\r\n"), 6, 2,
     ["reads as a row of its own"]),
    ("cr-lines.csv", rows_csv(edit=cell(7, 2, "seniour")).replace("\n", "\r"), 8, 3, ["'seniour'"]),
    ("header-over-lines.csv", 'id,"na\nme"\nE1,x\n', 1, None, ["header runs over several lines"]),
    # 2. ids: white space and invisible characters are refused, NFC-equal ids are one id
    ("id-space.csv", rows_csv(edit=cell(4, 0, "E04 ")), 5, 1, ["expert.id", "white space around it"]),
    ("id-inner-space.csv", rows_csv(edit=cell(4, 0, "E 04")), 5, 1, ["expert.id", "white space"]),
    ("id-nbsp.csv", rows_csv(edit=cell(4, 0, "E04\u00a0")), 5, 1, ["expert.id", "white space"]),
    ("id-zwsp.csv", rows_csv(edit=cell(4, 0, "E04\u200b")), 5, 1, ["U+200B ZERO WIDTH SPACE"]),
    ("id-bom.csv", rows_csv(edit=cell(4, 0, "\ufeffE04")), 5, 1, ["U+FEFF"]),
    ("id-bidi.csv", rows_csv(edit=cell(4, 0, "E\u202e40")), 5, 1, ["U+202E"]),
    ("id-nfc.csv", "id,name\nCaf\u00e9,甲\nCafe\u0301,乙\n", 3, None, ["'Café'", "also on line 2"]),
    ("id-space.jsonl", '{"id": "X01"}\n{"id": "X01 "}\n', 2, None, ["expert.id", "white space around it"]),
    ("id-zwsp.jsonl", '{"id": "X01"}\n{"id": "X01\\u200b"}\n', 2, None, ["U+200B"]),
    ("id-nfc.jsonl", '{"id": "Caf\\u00e9"}\n{"id": "Cafe\\u0301"}\n', 2, None, ["also on line 1"]),
    ("text-bidi.jsonl", '{"id": "X01", "employer": "\\u202e申报公司"}\n', 1, None, ["expert.employer", "U+202E"]),
    ("text-line-separator.csv", rows_csv(edit=cell(2, 1, "名\u20282")), 3, 2, ["U+2028"]),
    # 2. JSON lines: keys given twice
    ("duplicate-key.jsonl", '{"id": "E1"}\n{"id": "E2", "name": "甲", "id": "E3"}\n', 2, None,
     ["key 'id' appears twice"]),
    ("duplicate-nested-key.jsonl", '{"id": "E1", "records": {"misconduct": true, "misconduct": false}}\n', 1, None,
     ["key 'misconduct' appears twice"]),
    ("prefixed-twice.jsonl", '{"id": "E1", "expert.id": "E2"}\n', 1, None, ["expert.id", "given twice"]),
    ("list-separator.jsonl", '{"id": "E1", "fields": ["装备制造;新材料"]}\n', 1, None, ["expert.fields", "separator"]),
    # 3. lone surrogates
    ("surrogate-value.jsonl", '{"id": "E1"}\n{"id": "E2", "name": "\\ud800"}\n', 2, None, ["name", "surrogate"]),
    ("surrogate-key.jsonl", '{"id": "E1", "\\udc00": 1}\n', 1, None, ["surrogate"]),
    ("surrogate-id.jsonl", '{"id": "E\\udbff"}\n', 1, None, ["id", "surrogate"]),
    # 4. bounds
    ("deep.jsonl", '{"id": "E1"}\n{"id": "E2", "name": ' + "[" * 100_000 + "]" * 100_000 + "}\n", 2, None,
     ["nested more than 16 levels"]),
    ("nan.jsonl", '{"id": "E1", "years_in_field": NaN}\n', 1, None, ["NaN"]),
    ("huge-integer.jsonl", '{"id": "E1", "years_in_field": ' + "9" * 5000 + "}\n", 1, None, ["5,000 digits"]),
    ("huge-integer.csv", "id,years_in_field\nE1," + "9" * 5000 + "\n", 2, 2, ["5,000 digits"]),
    ("nul.jsonl", '{"id": "E1"}\n{"id": "E2"\x00}\n', 2, 12, ["NUL"]),
    ("long-cell.csv", "id,name\nE1," + "甲" * 20_000 + "\n", 2, 2, ["20,000 characters"]),
    ("long-line.jsonl", '{"id": "E1", "name": "' + "x" * (1 << 20) + '"}\n', 1, None, ["longer than 1,048,576"]),
]


@pytest.fixture
def run_draw(registry, monkeypatch):
    """`draw --pool FILE` through the command line, with the bundled policies loaded once for the module."""
    monkeypatch.setattr(Registry, "load", classmethod(lambda cls, *paths: registry))
    return _run_draw


def _run_draw(tmp_path, pool):
    out = tmp_path / "receipt.json"
    result = CliRunner().invoke(main, ["draw", "--policy", XJ, "--pool", str(pool), "--request", str(DRAW_REQUEST),
                                       "--seed", SEED, "--out", str(out)], catch_exceptions=False)
    return result, out


@pytest.mark.parametrize("name, content, line, column, words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_pool_is_a_located_refusal_and_nothing_is_drawn(run_draw, tmp_path, name, content, line, column, words):
    pool = tmp_path / name
    pool.write_bytes(content.encode("utf-8", "surrogatepass"))
    result, out = run_draw(tmp_path, pool)
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output and not out.exists()
    report = json.loads(result.output)
    assert report["error"] == "pool_invalid"
    first = report["problems"][0]
    assert first["file"] == str(pool) and first.get("line") == line, first
    if column is not None:
        assert first.get("column") == column, first
    text = first["message"] + " " + first.get("path", "") + " " + first.get("hint", "")
    for word in words:
        assert word in text, first
    assert first.get("hint"), "every refusal says how to fix it"


def test_dev_zero_as_a_pool_is_refused_at_the_size_limit(run_draw, tmp_path):
    pool = tmp_path / "pool.csv"
    pool.symlink_to("/dev/zero")
    result, out = run_draw(tmp_path, pool)
    assert result.exit_code == 4 and not out.exists()
    report = json.loads(result.output)
    assert report["error"] == "pool_invalid" and "larger than 64 MiB" in report["problems"][0]["message"]


def test_a_refusal_from_the_real_command_has_no_traceback(tmp_path):
    import subprocess
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id": "E1", "name": "\\ud800"}\n', encoding="utf-8")
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "draw", "--policy", XJ, "--pool", str(pool),
                        "--request", str(DRAW_REQUEST), "--seed", SEED, "--out", str(tmp_path / "r.json"),
                        "--format", "text"], capture_output=True, text=True)
    assert r.returncode == 4 and "Traceback" not in r.stderr and "pool.jsonl:1" in r.stderr
    assert not (tmp_path / "r.json").exists()


def test_the_size_limit_fits_the_benchmark_pool_with_room():
    # bench_draw.py's 100,000 experts take about 15 MB as CSV
    assert pool_module.MAX_POOL_BYTES >= 4 * 15_000_000 and pool_module.MAX_POOL_ROWS >= 4 * 100_000


@pytest.mark.parametrize("limit, value, text, words", [
    ("MAX_POOL_BYTES", 64, "id\n" + "E1\n" * 40, ["larger than 64 bytes"]),
    ("MAX_POOL_ROWS", 3, "id\nE1\nE2\nE3\nE4\nE5\n", ["more than 3 rows"]),
])
def test_size_and_row_limits(vocabulary, tmp_path, monkeypatch, limit, value, text, words):
    monkeypatch.setattr(pool_module, limit, value)
    path = tmp_path / "pool.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CaseError) as exc:
        load_pool(path, vocabulary)
    assert exc.value.problems[0].code == "pool_invalid"
    assert all(w in exc.value.problems[0].message for w in words)
    if limit == "MAX_POOL_ROWS":
        assert exc.value.problems[0].line == 5


# -- the same pool in both formats --------------------------------------------------------------

def test_cells_are_read_the_same_way_in_both_formats(vocabulary):
    csv_text = ('id,name,title_rank,fields,employer\n'
                'E1,"  张三\t丰 ",  senior ,装备制造 ; 新材料 ;,"单位\r\n一"\n'
                'E2,Jose\u0301,intermediate,,\n')
    jsonl = ('{"id": "E1", "name": "张三\\t丰", "title_rank": "senior", "fields": [" 装备制造", "新材料", ""],'
             ' "employer": "单位\\r一"}\n'
             '{"id": "E2", "name": "Jos\\u00e9", "title_rank": " intermediate", "fields": [], "employer": "  "}\n')
    a = pool_from_csv(csv_text, vocabulary, "a.csv")
    b = pool_from_json_lines(jsonl, vocabulary, "b.jsonl")
    assert {e.id: dict(e.facts) for e in a.experts} == {e.id: dict(e.facts) for e in b.experts}
    assert a.sha256 == b.sha256
    e1 = a.by_id["E1"].facts
    assert e1["expert.name"] == "张三\t丰" and e1["expert.employer"] == "单位\n一"
    assert e1["expert.fields"] == ["装备制造", "新材料"] and e1["expert.title_rank"] == "senior"
    assert a.by_id["E2"].facts["expert.name"] == "José" and "expert.employer" not in a.by_id["E2"].facts


def test_a_line_break_in_quoted_free_text_is_kept(vocabulary):
    pool = pool_from_csv('id,name,title_rank\nE1,"第一行\n第二行, 含逗号",senior\nE2,乙,senior\n', vocabulary, "p.csv")
    assert pool.by_id["E1"].facts["expert.name"] == "第一行\n第二行, 含逗号"
    assert pool.by_id["E2"].line == 4


def test_zero_width_joiners_stay_in_free_text(vocabulary):
    pool = pool_from_json_lines('{"id": "E1", "name": "\\u0645\\u200c\\u0646"}\n', vocabulary, "p.jsonl")
    assert "\u200c" in pool.by_id["E1"].facts["expert.name"]


# -- properties ----------------------------------------------------------------------------------

COLUMNS = ["id", "title_rank", "fields", "birth_date", "name"]  # name last: see pool_rows
ID_CHARS = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"), max_codepoint=0x2FFFF)
TEXT_CHARS = st.one_of(st.sampled_from(list(',"; \t\n\u3000张三é')), ID_CHARS)
ITEM_CHARS = st.one_of(st.sampled_from(list(',"张 ')), ID_CHARS.filter(lambda c: c not in ";；"))


@st.composite
def pool_rows(draw_):
    ids = draw_(st.lists(st.text(ID_CHARS, min_size=1, max_size=6), min_size=1, max_size=6,
                         unique_by=lambda s: unicodedata.normalize("NFC", s)))
    rows = []
    for eid in ids:
        name = draw_(st.text(TEXT_CHARS, max_size=12))
        # A line of free text that could read as a row of its own is refused (documented; tested above):
        # it needs as many commas as the header has cells less one.
        assume(all(part.count(",") < len(COLUMNS) - 1 for part in name.split("\n")[1:]))
        rows.append({
            "id": eid,
            "title_rank": draw_(st.sampled_from(["", "senior", " senior ", "intermediate", "\u3000junior"])),
            "fields": draw_(st.lists(st.text(ITEM_CHARS, max_size=5), max_size=3)),
            "birth_date": draw_(st.sampled_from(["", "1970-01-01", "1988-12-31"])),
            "name": name,
        })
    return rows, draw_(st.sampled_from(["NFC", "NFD"])), draw_(st.booleans())


def as_csv(rows, form):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for row in rows:
        w.writerow([unicodedata.normalize(form, ";".join(row[c]) if c == "fields" else row[c]) for c in COLUMNS])
    return out.getvalue()


def as_json_lines(rows, form, ascii_only):
    other = "NFD" if form == "NFC" else "NFC"
    lines = []
    for row in rows:
        data = {c: ([unicodedata.normalize(other, i) for i in v] if c == "fields" else unicodedata.normalize(other, v))
                for c, v in row.items() if v != ""}
        lines.append(json.dumps(data, ensure_ascii=ascii_only))
    return "\n".join(lines) + "\n"


@FEW
@given(pool_rows())
def test_property_csv_and_json_lines_give_the_same_rows_and_digest(vocabulary, generated):
    rows, form, ascii_only = generated
    a = pool_from_csv(as_csv(rows, form), vocabulary, "p.csv")
    b = pool_from_json_lines(as_json_lines(rows, form, ascii_only), vocabulary, "p.jsonl")
    assert len(a) == len(b) == len(rows)
    assert {e.id: dict(e.facts) for e in a.experts} == {e.id: dict(e.facts) for e in b.experts}
    assert [e.digest for e in a.experts] == [e.digest for e in b.experts] and a.sha256 == b.sha256


SCRATCH = Path(tempfile.mkdtemp(prefix="pool-hardening-"))
VALID = (b'id,name,title_rank,fields\nE1,"\xe7\x94\xb2, \xe4\xb9\x99",senior,a;b\nE2,x,junior,\n',
         b'{"id": "E1", "name": "\\u7532", "fields": ["a"], "records": {"misconduct": false}}\n')


@st.composite
def damaged(draw_):
    base = bytearray(draw_(st.sampled_from(VALID)))
    for _ in range(draw_(st.integers(1, 4))):
        at = draw_(st.integers(0, len(base)))
        base[at:at + draw_(st.integers(0, 3))] = draw_(st.binary(max_size=4) | st.sampled_from(
            [b'"', b",", b"\n", b"\r", b"\x00", b"\\ud800", b"[[[[", b"{", b"\xef\xbb\xbf", b"\xe2\x80\x8b", b";"]))
    return bytes(base)


@FEW
@given(st.one_of(st.binary(max_size=200), damaged()), st.sampled_from(["p.csv", "p.jsonl"]))
def test_property_the_readers_raise_only_the_documented_error(vocabulary, data, name):
    path = SCRATCH / name
    path.write_bytes(data)
    try:
        pool = load_pool(path, vocabulary)
    except CaseError as exc:
        assert exc.problems and all(p.code == "pool_invalid" and p.file == str(path) for p in exc.problems)
        json.dumps(exc.to_json(), ensure_ascii=False).encode("utf-8")  # printable: no lone surrogate
        "\n".join(p.render() for p in exc.problems).encode("utf-8")
    else:
        assert all(e.id and e.id == unicodedata.normalize("NFC", e.id) for e in pool.experts)


def request(count):
    return {"date": DAY, "mode": "random", "count": count, "supervisor": "厅机关纪委", "panel": {"approved": True},
            "matter": {"leader": "P100", "leader_legal_entity": "甲集团", "applicant_unit": "申报公司",
                       "participants": []}}


def leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, path + (k,))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from leaves(v, path + (i,))
    else:
        yield path


@st.composite
def small_draws(draw_):
    n = draw_(st.integers(6, 14))
    rows = [(i + 1, {"id": f"E{i:02d}", "name": f"专家{i}", "birth_date": f"19{draw_(st.integers(60, 99))}-01-01",
                     "title_rank": draw_(st.sampled_from(["senior", "associate_senior", "intermediate"])),
                     "fields": [draw_(st.sampled_from(["装备制造", "新材料"]))], "employer": f"单位{i % 4}",
                     "legal_entity": draw_(st.sampled_from(["甲集团", "法人1", "法人2"]))}) for i in range(n)]
    seed = draw_(st.binary(min_size=16, max_size=32)).hex()
    return rows, seed, draw_(st.integers(1, 2))


NEW_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 99), st.text(max_size=5), st.just([]),
                       st.just({}), st.sampled_from(["E00", "E01", "0" * 64]))


@FEW
@given(small_draws(), st.data())
def test_property_verify_accepts_the_receipt_and_catches_any_single_edit(registry, generated, data):
    rows, seed, count = generated
    policy = registry.in_force(XJ, DAY)
    pool = pool_from_rows(rows, policy.vocabulary)
    receipt = draw(policy, pool, request(count), seed).to_json()
    assert verify(registry, pool, receipt).ok
    if data.draw(st.booleans(), label="edit the receipt"):
        # The request is the receipt's own input, recomputed as given: an edit of a field the
        # draw does not read (a title) is not a difference, so edits are made to the rest.
        paths = [p for p in leaves(receipt) if p and p[0] != "request"]
        path = data.draw(st.sampled_from(paths), label="path")
        edited = copy.deepcopy(receipt)
        holder = edited
        for key in path[:-1]:
            holder = holder[key]
        new = data.draw(NEW_VALUES.filter(lambda v: v != holder[path[-1]] or type(v) is not type(holder[path[-1]])),
                        label="new value")
        holder[path[-1]] = new
        edited_pool = pool
    else:
        i = data.draw(st.integers(0, len(rows) - 1), label="row")
        line, row = rows[i]
        fact = data.draw(st.sampled_from(sorted(row)), label="fact")
        new = data.draw(st.one_of(NEW_VALUES, st.sampled_from(["1970-01-02", "junior", "E00"])), label="new value")
        assume(new != row[fact])
        edited_rows = rows[:i] + [(line, {**row, fact: new})] + rows[i + 1:]
        edited = receipt
        try:
            edited_pool = pool_from_rows(edited_rows, policy.vocabulary)
        except CaseError as exc:
            assert all(p.code == "pool_invalid" for p in exc.problems)
            return
        if edited_pool.sha256 == pool.sha256:  # an empty text is an absent fact, as before: the same pool
            assert {e.id: dict(e.facts) for e in edited_pool.experts} == {e.id: dict(e.facts) for e in pool.experts}
            return
    try:
        result = verify(registry, edited_pool, edited)
    except (CaseError, LookupFailure) as exc:  # a malformed receipt (4), a policy or version it cannot name (5)
        assert exc.problems
        return
    assert not result.ok and result.differences
