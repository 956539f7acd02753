"""Hostile values: dates in other forms, YAML 1.1 numbers, explicit tags, deep nesting,
lone surrogates and impossible facts are refused with a located problem, never judged,
never a traceback, and nothing is written."""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from components import libyaml_composer
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine.yamlio as yamlio
from policy_engine.cli import main
from policy_engine.policy import functions
from policy_engine.report.case_schema import case_schema
from policy_engine.dates import DateError, canonical, is_date, parse_date
from policy_engine.evaluate.engine import as_date, decide
from policy_engine.errors import CODES, CaseError
from policy_engine.policy.loader import check_vocabulary
from policy_engine.policy.registry import Registry
from policy_engine.policy.vocabulary import INT_MAX, INT_MIN, Fact, Vocabulary, check_case

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
CQ = "chongqing-petition-responsibility"
XJ_DIR = ROOT / "policies" / XJ  # one policy loads faster than all
POOL = ROOT / "fixtures" / "pools" / "xj-pool.csv"
DRAW_FIXTURE = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.yaml"
SEED = "5eed" * 16
STRICT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@pytest.fixture(scope="module")
def registry():
    return Registry.load(ROOT / "policies")


@pytest.fixture(scope="module")
def xj(registry):
    return registry.in_force(XJ, "2026-11-23")


def cli(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result


# -- 1. dates: one strict reader ---------------------------------------------------------------

@pytest.mark.parametrize("text, day", [
    ("2023-09-05", dt.date(2023, 9, 5)), ("2024-02-29", dt.date(2024, 2, 29)), ("0001-01-01", dt.date(1, 1, 1)),
    ("9999-12-31", dt.date(9999, 12, 31)),
])
def test_dates_written_yyyy_mm_dd_are_read(text, day):
    assert parse_date(text) == day and canonical(text) == text and is_date(text)


@pytest.mark.parametrize("text", [
    "2023-W36-5", "2023W365", "20230905", "2023-248", "2023-09-05T00:00", "2023-09-05 ", " 2023-09-05",
    "2023-09-05\n", "2023-9-5", "23-09-05", "２０２３-０９-０５", "٢٠٢٣-٠٩-٠٥", "2023-09-0５", "2023-02-29",
    "2023-13-01", "2023-00-10", "0000-01-01", "", "2023/09/05", "+2023-09-05",
])
def test_other_forms_of_dates_are_refused_everywhere(text):
    with pytest.raises(DateError):
        parse_date(text)
    assert not is_date(text)
    with pytest.raises(CaseError) as info:  # the engine's as_of
        as_date(text)
    assert info.value.problems[0].path == "as_of"
    with pytest.raises(ValueError):  # the CEL date functions
        functions.age_at(text, "2026-01-01")
    with pytest.raises(ValueError):
        functions.days_between(text, "2026-01-01")


@pytest.mark.parametrize("value", [20230905, 2023.0, None, ["2023-09-05"], dt.datetime(2023, 9, 5, 12, 0)])
def test_values_that_are_not_date_text_are_refused(value):
    with pytest.raises(DateError):
        parse_date(value)


def test_as_of_accepts_a_date_object_and_a_datetime_gives_its_day():
    assert as_date(dt.date(2026, 1, 2)) == dt.date(2026, 1, 2) == as_date(dt.datetime(2026, 1, 2, 23, 59))


def test_the_same_day_in_week_form_is_refused_not_judged_differently(xj):
    ok = decide(xj, "entry", {"expert": {"birth_date": "1960-07-01"}}, "2026-07-01")
    assert ok.outcome
    for form in ("1960-W26-5", "１９６０-07-01"):
        with pytest.raises(CaseError) as info:
            decide(xj, "entry", {"expert": {"birth_date": form}}, "2026-07-01")
        assert info.value.problems[0].path == "expert.birth_date"
    with pytest.raises(CaseError):
        decide(xj, "entry", {"expert": {"birth_date": "1960-07-01"}}, "2026-W27-3")


def test_date_list_items_and_event_dates_are_kept_in_the_one_form(registry):
    policy = registry.in_force(CQ, "2024-11-01")
    case = {"accountability": {"subject": "staff", "history": [
        {"kind": "notice", "date": dt.date(2024, 1, 5), "deadline": "2024-02-01"}]}}
    facts = check_case(case, policy.vocabulary, as_of="2024-11-01")
    assert facts["accountability.history"][0]["date"] == "2024-01-05"
    bad = {"accountability": {"history": [{"kind": "notice", "date": "2024-W01-5", "deadline": "2024-02-01"}]}}
    with pytest.raises(CaseError) as info:
        check_case(bad, policy.vocabulary)
    assert info.value.problems[0].path == "accountability.history[0].date"


# -- 2. YAML 1.2 core-schema numbers ---------------------------------------------------------

def parsed_by_both_composers(text: str) -> list:
    """The data `text` reads to, under libyaml's composer and under the pure-Python one (without
    libyaml the test fails and says why: tests/components.py)."""
    out = []
    for composer in (libyaml_composer(), yamlio._Loader):
        saved, yamlio._Composer = yamlio._Composer, composer
        try:
            out.append(yamlio.parse(text, "t.yaml").data)
        finally:
            yamlio._Composer = saved
    return out


def refused_by_both_composers(text: str) -> list:
    """The problem each composer refuses `text` with (a YamlProblem is required of both; without
    libyaml the test fails and says why: tests/components.py)."""
    out = []
    for composer in (libyaml_composer(), yamlio._Loader):
        saved, yamlio._Composer = yamlio._Composer, composer
        try:
            with pytest.raises(yamlio.YamlProblem) as info:
                yamlio.parse(text, "t.yaml")
        finally:
            yamlio._Composer = saved
        out.append(info.value.problem)
    return out


@pytest.mark.parametrize("text, value", [
    ("010", 10), ("0010", 10), ("-010", -10), ("+12", 12), ("0o17", 15), ("0x1F", 31), ("0", 0),
    ("1:30", "1:30"), ("190:20:30", "190:20:30"), ("1_000", "1_000"), ("0b101", "0b101"), ("0O17", "0O17"),
    ("1.5", 1.5), ("1e3", 1000.0), ("-2.5E-1", -0.25), (".5", 0.5), ("1.", 1.0),
    (".inf", math.inf), ("-.Inf", -math.inf), ("+.INF", math.inf), ("yes", "yes"), ("on", "on"), ("true", True),
    ("False", False), ("~", None), ("null", None), ("2026-01-01", "2026-01-01"), ("１２", "１２"),
])
def test_yaml_scalars_follow_the_yaml_1_2_core_schema(text, value):
    for got in parsed_by_both_composers(f"a: {text}\n"):
        assert got["a"] == value and type(got["a"]) is type(value)


def test_integer_keys_follow_the_core_schema_too():
    assert yamlio.parse("010: a\n0x1F: b\n1:30: c\n", "t.yaml").data == {10: "a", 31: "b", "1:30": "c"}


def test_nan_is_a_float():
    assert math.isnan(yamlio.parse("a: .nan\nb: .NaN\n", "t.yaml").data["a"])


def test_a_leading_zero_is_not_octal_in_a_case(xj):
    doc = yamlio.parse("expert:\n  years_in_field: 010\n", "case.yaml")
    assert check_case(doc.data, xj.vocabulary)["expert.years_in_field"] == 10


# -- 3. explicit tags ------------------------------------------------------------------------

TAGGED = [
    ("a: !!int x\n", 1, 4), ("a: !!bool .inf\n", 1, 4), ("a: !!timestamp x\n", 1, 4), ("a: !!float 1\n", 1, 4),
    ("a: !!str 10\n", 1, 4), ("a: !!binary aGVsbG8=\n", 1, 4), ("!foo a: 1\n", 1, 1), ("a:\n  !foo b: 1\n", 2, 3),
    ("a: ! 10\n", 1, 4), ("a: !<tag:yaml.org,2002:int> 1\n", 1, 4), ("a: !!map {b: 1}\n", 1, 4),
    ("a: !!seq [1]\n", 1, 4), ("a: !!set {b}\n", 1, 4), ("a: !!python/object:os.system x\n", 1, 4),
    ("%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n", 3, 4), ("[!!null , 1]\n", 1, 2),
]


@pytest.mark.parametrize("text, line, column", TAGGED)
def test_explicit_tags_are_refused_with_their_position(text, line, column):
    for p in refused_by_both_composers(text):
        assert (p.code, p.file, p.line, p.column) == ("yaml_tag", "t.yaml", line, column) and p.hint


def test_an_exclamation_mark_in_text_is_not_a_tag():
    data = yamlio.parse("a: x != y\nb: '!x'\nc: \"!!int 1\"\nd: [a!, b]\n", "t.yaml").data
    assert data == {"a": "x != y", "b": "!x", "c": "!!int 1", "d": ["a!", "b"]}


# -- 4. nesting depth -------------------------------------------------------------------------

def nested(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize("text, ok", [
    (nested(yamlio.MAX_DEPTH), True), (nested(yamlio.MAX_DEPTH + 1), False), (nested(500), False),
    (nested(5000), False), ("a: " + "{b: " * 300 + "1" + "}" * 300, False),
    ("".join("  " * i + "- \n" for i in range(150)) + "  " * 150 + "x\n", False),
    ("- " * 150 + "x\n", False),
    ("x: &x " + nested(60) + "\ny: " + "[" * 60 + "*x" + "]" * 60 + "\n", False),  # aliases nest it
])
def test_nesting_is_bounded(text, ok):
    if ok:
        assert yamlio.parse(text, "t.yaml").data is not None
        return
    with pytest.raises(yamlio.YamlProblem) as info:
        yamlio.parse(text, "t.yaml")
    p = info.value.problem
    assert p.code == "yaml_nesting" and p.file == "t.yaml" and p.line is not None and p.hint


def test_a_case_nested_100000_deep_is_refused_by_the_cli(tmp_path):
    """In a child process: were the composer to overflow the C stack, only that process would die."""
    for name in ("deep.yaml", "deep.json"):
        case = tmp_path / name
        case.write_text(nested(100_000) + "\n", encoding="utf-8")
        r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "decide", "--policy", XJ, "--decision", "entry",
                            "--as-of", "2026-11-23", "--policies", str(XJ_DIR), str(case)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 4, r.stderr
        out = json.loads(r.stdout)
        assert out["problems"][0]["file"] == str(case) and out["problems"][0]["line"] == 1
        assert "nested more than 100 levels" in out["problems"][0]["message"] and "Traceback" not in r.stderr


def test_yaml_documents_past_the_cheap_bound_are_scanned_exactly():
    wide = "a: [" + ", ".join(["[1]"] * 3000) + "]\n"  # many brackets, shallow
    assert yamlio._depth_bound(wide) > yamlio.SAFE_TO_COMPOSE
    assert len(yamlio.parse(wide, "t.yaml").data["a"]) == 3000


@pytest.mark.parametrize("text, line, column, code", [
    ("\x1f", 1, 1, "U+001F"), ("中文: b\x07\n", 1, 6, "U+0007"), ('x: 1\n"a": "\x7f"\n', 2, 7, "U+007F"),
    ("!x a\x01\n", 1, 5, "U+0001"), ("a: \ufffe\n", 1, 4, "U+FFFE")])
def test_characters_yaml_does_not_allow_are_refused_where_they_stand(text, line, column, code):
    """Both composers refuse them with the same located problem; the pure-Python reader, which
    checks the characters as it is made, once let its ReaderError out as a traceback."""
    for p in refused_by_both_composers(text):
        assert (p.code, p.file, p.line, p.column) == ("yaml_syntax", "t.yaml", line, column) and code in p.message
        assert p.hint and p.hint.startswith("remove it")


# -- 5. lone surrogates ------------------------------------------------------------------------

@pytest.mark.parametrize("text, line", [('a: "\\ud800"\n', 1), ('"\\udfff": 1\n', 1), ('a:\n  - "x\\U0000D800"\n', 2)])
def test_lone_surrogate_escapes_are_refused(text, line):
    for p in refused_by_both_composers(text):
        assert p.code == "yaml_syntax" and p.line == line and "surrogate" in (p.hint or "") + p.message


def test_text_holding_a_surrogate_is_refused_at_its_position():
    with pytest.raises(yamlio.YamlProblem) as info:
        yamlio.parse("a: 1\nb: x\udc80y\n", "t.yaml")
    p = info.value.problem
    assert (p.code, p.line, p.column) == ("yaml_syntax", 2, 5)


def test_a_json_case_with_a_lone_surrogate_is_refused_with_its_path(xj):
    for case in ({"expert": {"name": "\ud800"}}, {"expert": {"\ud800": 1}},
                 {"expert": {"fields": ["a", "b\udc00"]}}):
        with pytest.raises(CaseError) as info:
            decide(xj, "entry", case, "2026-11-23")
        p = info.value.problems[0]
        assert p.path.startswith("expert") and p.render().encode("utf-8")


# -- 6. impossible facts -----------------------------------------------------------------------

@pytest.mark.parametrize("case, path", [
    ({"expert": {"birth_date": "9999-12-31"}}, "expert.birth_date"),
    ({"expert": {"birth_date": "2026-11-24"}}, "expert.birth_date"),
    ({"expert": {"doctorate_date": "2030-01-01"}}, "expert.doctorate_date"),
    ({"expert": {"years_in_field": -1}}, "expert.years_in_field"),
    ({"expert": {"years_practicing": -5}}, "expert.years_practicing"),
    ({"expert": {"term_years": 0}}, "expert.term_years"),
    ({"expert": {"years_in_field": 2 ** 63}}, "expert.years_in_field"),
    ({"expert": {"years_in_field": 10 ** 23}}, "expert.years_in_field"),
    ({"expert": {"years_in_field": True}}, "expert.years_in_field"),
    ({"expert": {"years_in_field": 1.0}}, "expert.years_in_field"),
    ({"expert": {"events": [{"kind": "evaluation", "date": "2025-01-01", "grade": "good", "score": 101}]}},
     "expert.events[0].score"),
    ({"expert": {"events": [{"kind": "evaluation", "date": "2025-01-01", "grade": "good", "score": -1}]}},
     "expert.events[0].score"),
])
def test_impossible_facts_are_refused_with_their_path(xj, case, path):
    with pytest.raises(CaseError) as info:
        decide(xj, "entry", case, "2026-11-23")
    assert [p.path for p in info.value.problems] == [path]
    assert info.value.exit_code == 4


def test_the_bounds_themselves_are_accepted(xj):
    facts = {"birth_date": "2026-11-23", "years_in_field": 0, "term_years": 1,
             "events": [{"kind": "evaluation", "date": "2025-01-01", "grade": "good", "score": 100}]}
    assert decide(xj, "entry", {"expert": facts}, "2026-11-23").outcome


def test_a_later_sanction_in_the_history_is_impossible(registry):
    policy = registry.in_force(CQ, "2024-11-01")
    case = {"accountability": {"subject": "staff", "severity": "minor", "history": [
        {"kind": "notice", "date": "2024-11-02", "deadline": "2024-12-01"}]}}
    with pytest.raises(CaseError) as info:
        decide(policy, "sanction", case, "2024-11-01")
    assert info.value.problems[0].path == "accountability.history[0].date"
    case["accountability"]["history"][0]["date"] = "2024-11-01"  # a deadline after as_of is possible
    assert decide(policy, "sanction", case, "2024-11-01").outcome


def test_every_integer_fits_in_64_bits_without_a_declared_range():
    vocabulary = Vocabulary.of({"x.n": Fact("x.n", "integer")})
    assert check_case({"x": {"n": INT_MIN}}, vocabulary) == {"x.n": INT_MIN}
    assert check_case({"x": {"n": INT_MAX}}, vocabulary) == {"x.n": INT_MAX}
    for value in (INT_MIN - 1, INT_MAX + 1):
        with pytest.raises(CaseError) as info:
            check_case({"x": {"n": value}}, vocabulary)
        assert info.value.problems[0].path == "x.n" and "outside" in info.value.problems[0].message


VOCAB_HEAD = "# yaml-language-server: $schema=../../schemas/vocabulary.schema.json\nid: t\ntitle: t\nfacts:\n"


@pytest.mark.parametrize("fact, words", [
    ("x.a: {type: integer, min: 5, max: 1, description: d}", "min 5 is above max 1"),
    ("x.a: {type: date, min: 0, description: d}", "integer"),
    ("x.a: {type: integer, not_after: as_of, description: d}", "date"),
    ("x.a: {type: date, not_after: today, description: d}", "today"),
    ("x.a: {type: integer, min: 1.5, description: d}", "1.5"),
    ("x.a: {type: integer, max: 9223372036854775808, description: d}", "9223372036854775808"),
    ("x.e: {type: events, description: d, kinds: {k: {fields: {f: {type: boolean, min: 0}}}}}", "integer"),
])
def test_bounds_in_a_vocabulary_are_checked(tmp_path, fact, words):
    file = tmp_path / "t.vocab.yaml"
    file.write_text(VOCAB_HEAD + "  " + fact + "\n", encoding="utf-8")
    problems = check_vocabulary(file)
    assert problems and any(words in p.message + (p.hint or "") for p in problems), problems
    assert all(p.file and p.line for p in problems)


def test_the_case_schema_carries_the_bounds(xj):
    schema = case_schema(xj.vocabulary.facts, "urn:test", "test")
    expert = schema["properties"]["expert"]["properties"]
    assert expert["years_in_field"]["minimum"] == 0 and expert["years_in_field"]["maximum"] == INT_MAX
    assert expert["birth_date"]["pattern"] == STRICT.pattern and "as_of" in expert["birth_date"]["description"]
    score = expert["events"]["items"]["oneOf"]
    evaluation = next(k for k in score if k["properties"]["kind"]["const"] == "evaluation")
    assert (evaluation["properties"]["score"]["minimum"], evaluation["properties"]["score"]["maximum"]) == (0, 100)
    assert evaluation["properties"]["date"]["pattern"] == STRICT.pattern


def test_new_error_codes_are_registered():
    assert {"yaml_tag", "yaml_nesting"} <= set(CODES)


# -- the command line: exit code, error code, file, line, path; nothing written ------------------

CLI_CASES = [
    ("expert:\n  birth_date: 2023-W36-5\n", 4, "case_invalid", None, "expert.birth_date"),
    ("expert:\n  birth_date: 20230905\n", 4, "case_invalid", None, "expert.birth_date"),
    ("expert:\n  birth_date: ２０２３-０９-０５\n", 4, "case_invalid", None, "expert.birth_date"),
    ("expert:\n  birth_date: 9999-12-31\n", 4, "case_invalid", None, "expert.birth_date"),
    ("expert:\n  years_in_field: -3\n", 4, "case_invalid", None, "expert.years_in_field"),
    ("expert:\n  years_in_field: 100000000000000000000000\n", 4, "case_invalid", None, "expert.years_in_field"),
    ("expert:\n  years_in_field: 1:30\n", 4, "case_invalid", None, "expert.years_in_field"),
    ("expert:\n  years_in_field: !!int x\n", 4, "case_invalid", 2, None),
    ("expert:\n  name: !!binary aGVsbG8=\n", 4, "case_invalid", 2, None),
    ("expert:\n  !foo a: 1\n", 4, "case_invalid", 2, None),
    ('expert:\n  name: "\\ud800"\n', 4, "case_invalid", 2, None),
    ("expert: " + nested(500) + "\n", 4, "case_invalid", 1, None),
    ('{"expert": {"name": "\\ud800"}}', 4, "case_invalid", None, "expert.name"),
    ('{"expert": {"years_in_field": 1e400}}', 4, "case_invalid", None, "expert.years_in_field"),
    ('{"expert": ' + nested(5000) + "}", 4, "case_invalid", 1, None),
]


@pytest.mark.parametrize("text, exit_code, code, line, path", CLI_CASES)
def test_cli_refuses_hostile_cases(tmp_path, text, exit_code, code, line, path):
    case = tmp_path / ("case.json" if text.startswith("{") else "case.yaml")
    case.write_text(text, encoding="utf-8")
    r = cli("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "--policies", XJ_DIR, case)
    assert r.exit_code == exit_code, r.output
    out = json.loads(r.output)
    assert "outcome" not in out and out["error"] == code
    p = out["problems"][0]
    assert p["file"] == str(case)
    if line is not None:
        assert p["line"] == line and p["column"] >= 1
    if path is not None:
        assert p["path"] == path
    if line is not None and path is None:  # the same refusal in text, for a person
        r = cli("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "--policies", XJ_DIR,
                "--format", "text", case)
        assert r.exit_code == exit_code and f"{case}:{line}:" in r.output and "结论" not in r.output


@pytest.mark.parametrize("value", ["", "2026-W47-1", "20261123", "２０２６-11-23", "2026-02-30", "today"])
def test_a_bad_as_of_is_a_usage_error_naming_the_option(value):
    fixture = ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml"
    for args in (("decide", "--policy", XJ, "--decision", "entry", "--as-of", value, fixture),
                 ("facts", "--policy", XJ, "--policies", XJ_DIR, "--as-of", value)):
        r = cli(*args)
        assert r.exit_code == 2 and "--as-of" in r.output and "YYYY-MM-DD" in r.output, r.output


@pytest.mark.parametrize("edit, path", [
    (lambda t: t.replace("date: '2026-11-20'", "date: '2026-W47-5'"), "date"),
    (lambda t: t.replace("date: '2026-11-20'", "date: '２０２６-11-20'"), "date"),
    (lambda t: t.replace("  count: 5\n", "  count: !!int 5\n"), None),
])
def test_a_draw_request_with_a_bad_date_or_a_tag_writes_no_receipt(tmp_path, edit, path):
    text = DRAW_FIXTURE.read_text(encoding="utf-8")
    request = tmp_path / "request.yaml"
    request.write_text(edit(text), encoding="utf-8")
    assert request.read_text(encoding="utf-8") != text
    receipt = tmp_path / "receipt.json"
    r = cli("draw", "--policy", XJ, "--policies", XJ_DIR, "--pool", POOL, "--request", request, "--seed", SEED,
            "--out", receipt)
    assert r.exit_code == 4, r.output
    out = json.loads(r.output)
    assert out["error"] == "request_invalid" and out["problems"][0]["file"] == str(request)
    assert out["problems"][0]["line"] and (path is None or out["problems"][0]["path"].endswith(path))
    assert not receipt.exists()


@pytest.mark.parametrize("birth", ["1976-W20-1", "１９７６-05-17", "19760517"])
def test_a_pool_with_a_date_in_another_form_is_refused_with_its_line(tmp_path, birth):
    pool = tmp_path / "pool.csv"
    lines = POOL.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[lines[0].split(",").index("birth_date")] = birth
    lines[3] = ",".join(cells)
    pool.write_text("\n".join(lines) + "\n", encoding="utf-8")
    receipt = tmp_path / "receipt.json"
    r = cli("draw", "--policy", XJ, "--policies", XJ_DIR, "--pool", pool, "--request", DRAW_FIXTURE, "--seed", SEED,
            "--out", receipt)
    assert r.exit_code == 4, r.output
    p = json.loads(r.output)["problems"][0]
    assert p["code"] == "pool_invalid" and p["file"] == str(pool) and p["line"] == 4 and "birth_date" in p["path"]
    assert not receipt.exists()


def test_a_pool_row_born_after_the_draw_is_refused_with_its_line(tmp_path):
    pool = tmp_path / "pool.csv"
    lines = POOL.read_text(encoding="utf-8").splitlines()
    cells = lines[5].split(",")
    cells[lines[0].split(",").index("birth_date")] = "9999-12-31"  # a valid date: read, then refused at the draw
    lines[5] = ",".join(cells)
    pool.write_text("\n".join(lines) + "\n", encoding="utf-8")
    receipt = tmp_path / "receipt.json"
    r = cli("draw", "--policy", XJ, "--policies", XJ_DIR, "--pool", pool, "--request", DRAW_FIXTURE, "--seed", SEED,
            "--out", receipt)
    assert r.exit_code == 4, r.output
    p = json.loads(r.output)["problems"][0]
    assert (p["code"], p["file"], p["line"], p["path"]) == ("pool_invalid", str(pool), 6, "expert.birth_date")
    assert cells[0] in p["message"] and "2026-11-20" in p["message"]
    assert not receipt.exists()


def test_a_json_lines_pool_row_nested_100000_deep_is_refused_with_its_line(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id": "E1"}\n{"id": "E2", "name": ' + nested(100_000) + "}\n", encoding="utf-8")
    r = cli("draw", "--policy", XJ, "--policies", XJ_DIR, "--pool", pool, "--request", DRAW_FIXTURE, "--seed", SEED)
    assert r.exit_code == 4, r.output
    p = json.loads(r.output)["problems"][0]
    assert (p["code"], p["file"], p["line"]) == ("pool_invalid", str(pool), 2)


# -- properties ------------------------------------------------------------------------------

YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-[]{},!&*?|>'\"#%@` \n\t.0189\\ux") + ["\ud800", "é", "\x00"]),
                  max_size=60)


@settings(deadline=None)
@given(st.one_of(st.text(max_size=80), YAMLISH))
def test_the_yaml_reader_raises_only_yaml_problems(text):
    try:
        yamlio.parse(text, "t.yaml")
    except yamlio.YamlProblem as exc:
        assert exc.problem.code in CODES and exc.problem.file == "t.yaml"


DATEISH = st.text(alphabet=st.sampled_from(list("0123456789-W T:") + ["０", "９", "٣", "\n"]), min_size=8, max_size=12)


def _real_day(text: str) -> bool:
    try:
        dt.date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


@settings(deadline=None)
@given(st.one_of(DATEISH, st.dates().map(dt.date.isoformat), st.text(max_size=12)))
def test_a_date_is_accepted_iff_it_is_yyyy_mm_dd_and_a_real_day(text):
    expected = bool(STRICT.fullmatch(text)) and text[-1] != "\n" and _real_day(text)
    assert is_date(text) is expected
    if expected:
        assert canonical(text) == text
