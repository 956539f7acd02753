"""Properties over the engine's inputs and decisions, on cases drawn from each policy's vocabulary.

The strategies (tests/strategies.py) read the loaded policies, so every policy and every decision it
answers is covered, and a new policy or fact is covered without a new test. The Hypothesis profile
(tests/conftest.py) sets how many examples: HYPOTHESIS_PROFILE=fuzz for long runs.

Tests named `test_once_a_defect_*` feed the inputs that reached defects found by fuzzing (lenient
dates, unhashable event kinds, YAML tags, YAML 1.1 numbers, deep or recursive YAML, lone
surrogates): each must now be refused cleanly or read as plain YAML 1.2 data.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping
from unittest import mock

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import assume, given, note
from hypothesis import strategies as st

import policy_engine.cli as cli
import strategies as S
from policy_engine import CaseError, Registry, decide
from policy_engine import DECISIONS
from policy_engine.evaluate.decisions.sanction import outcomes as sanction_outcomes
from policy_engine.evaluate.decisions.score import outcomes as score_outcomes
from policy_engine.policy.vocabulary import check_case
from policy_engine.yamlio import YamlProblem, parse

ROOT = Path(__file__).resolve().parent.parent
# Tests of known defects fail until the fixes merge: report the first failing example, unshrunk
# (shrinking a failure that is expected costs most of the suite's time). Only `phases` is set here.
REGISTRY = Registry.load()
POLICIES = [p for pid in REGISTRY.ids() for p in REGISTRY.versions(pid)]
PAIRS = [(p, d) for p in POLICIES for d in p.decisions()]
VERDICT_SCHEMA = json.loads((ROOT / "schemas" / "verdict.schema.json").read_text(encoding="utf-8"))
VERDICT = jsonschema.Draft202012Validator(VERDICT_SCHEMA, format_checker=jsonschema.FormatChecker())


def _pid(p) -> str:
    return f"{p.id}@{p.version}"


READS = {_pid(p): S.referenced_facts(p) for p in POLICIES}


def test_every_policy_has_decisions_and_reads_facts():
    """The properties below run over every (policy, decision) pair; make sure there are some."""
    assert PAIRS and all(READS[_pid(p)] for p in POLICIES)
    assert all(set(READS[_pid(p)]) <= set(p.vocabulary.facts) for p in POLICIES)


# ---------------------------------------------------------------------------------------------
# decide


@pytest.mark.parametrize(("policy", "decision"), PAIRS, ids=[f"{_pid(p)}-{d}" for p, d in PAIRS])
@given(data=st.data())
def test_decide_on_well_typed_cases(policy, decision, data):
    """A well-typed case always gets a verdict: valid JSON, deterministic, a documented outcome,
    naming what is missing when undetermined, and unchanged by facts no part of the policy reads."""
    _decide_property(policy, decision, data)


@given(data=st.data())
def test_fuzz_target_decide_under_every_policy_and_decision(data):
    """The same property as one target over every (policy, decision) pair, each example drawing
    its pair: what the long fuzz run counts as the decide target."""
    policy, decision = data.draw(st.sampled_from(PAIRS), label="pair")
    note(f"{_pid(policy)} {decision}")
    _decide_property(policy, decision, data)


def _decide_property(policy, decision, data) -> None:
    as_of = S.as_of_for(policy)
    flat = data.draw(S.decision_cases(policy, decision, as_of), label="case")
    case = data.draw(S.written(flat), label="written")
    verdict = decide(policy, decision, case, as_of)  # no exception at all: the case is well-typed
    text = verdict.dumps()
    assert verdict.dumps() == text
    again = decide(policy, decision, S.known(flat), as_of.isoformat())  # dotted, nulls dropped, as-of as text
    assert again.dumps() == text, "the same facts written another way gave another verdict"
    assert verdict.dumps(compact=True) == json.dumps(json.loads(text), ensure_ascii=False,
                                                     separators=(",", ":")) + "\n"
    VERDICT.validate(json.loads(text))
    assert verdict.outcome in DECISIONS[decision].OUTCOMES or (
        decision == "sanction" and set(re.split(r"\.\.|\+", verdict.outcome)) <= set(sanction_outcomes(policy))) or (
        decision == "score" and verdict.outcome in score_outcomes(policy))
    assert verdict.as_of == as_of.isoformat()
    assert list(verdict.missing_facts) == sorted(set(verdict.missing_facts))
    for m in verdict.missing_facts:  # a fact the case left out, or a field of the events it gave
        base = m.split("[")[0]
        assert base in policy.vocabulary.facts, m
        assert ("[" in m) == (base in S.known(flat)), m
    if verdict.outcome == "undetermined":
        assert verdict.missing_facts or verdict.errors, "undetermined without naming what is missing"
    # Facts no part of the policy reads do not matter: dropping them leaves the same bytes.
    reads = READS[_pid(policy)]
    relevant = {k: v for k, v in S.known(flat).items() if k in reads}
    if len(relevant) < len(S.known(flat)):
        assert decide(policy, decision, relevant, as_of).dumps() == text, "a fact no rule reads changed the verdict"


def _single_bools(verdict) -> dict:
    """The true/false value of each condition the trace shows once (a rule judged per record or per
    event shows the same expression several times: those are left out)."""
    seen: dict = {}
    for s in verdict.trace:
        seen.setdefault((s.rule, s.part, s.expression), []).append(s.value)
    return {k: v[0] for k, v in seen.items() if len(v) == 1 and isinstance(v[0], bool)}


@pytest.mark.parametrize(("policy", "decision"), PAIRS, ids=[f"{_pid(p)}-{d}" for p, d in PAIRS])
@given(data=st.data())
def test_known_values_survive_more_facts(policy, decision, data):
    """Three-valued logic is monotone: when absent facts become known, every condition the verdict
    found true or false keeps its value, and a verdict that named no missing fact (and no error)
    keeps its outcome. Facts a decision checks against each other (a score sheet) are not added."""
    as_of = S.as_of_for(policy)
    flat = S.known(data.draw(S.decision_cases(policy, decision, as_of), label="case"))
    verdict = decide(policy, decision, flat, as_of)
    fixed = S.checked_facts(policy, decision)
    absent = {n: f for n, f in policy.vocabulary.facts.items() if n not in flat and n not in fixed}
    added = data.draw(S.flat_cases(absent, as_of, policy.in_force.start, nulls=False,
                                   dense=S.decision_focus(policy, decision)), label="added")
    more = decide(policy, decision, {**flat, **added}, as_of)
    if verdict.outcome != "undetermined" and not verdict.missing_facts and not verdict.errors:
        assert more.outcome == verdict.outcome
    after = _single_bools(more)
    for key, value in _single_bools(verdict).items():
        if key in after:
            assert after[key] == value, key


# ---------------------------------------------------------------------------------------------
# The case checker


def expected_ok(vocabulary, flat: Mapping[str, Any], prefix: str = "") -> bool:
    """The reference answer: every name is a fact with an allowed value, or a group of such."""
    for key, value in flat.items():
        name = f"{prefix}.{key}" if prefix else key
        if name in vocabulary.facts:
            if not S.value_ok(vocabulary.facts[name], value):
                return False
        elif name in vocabulary.prefixes and isinstance(value, Mapping):
            if not expected_ok(vocabulary, value, name):
                return False
        else:
            return False
    return True


def names_the_fact(path: str | None, name: str) -> bool:
    """A problem path points at the mutated fact, inside it (an item, an event's field), or at its group."""
    if not path:
        return False
    return (path == name or path.startswith((name + ".", name + "["))
            or name.startswith(path + "."))


def _check_mutation(policy, data, dates) -> None:
    facts = policy.vocabulary.facts
    as_of = S.as_of_for(policy)
    flat = S.known(data.draw(S.flat_cases(facts, as_of, policy.in_force.start, sparse=10), label="case"))
    mutated, name, kind = data.draw(S.mutations(facts, flat, dates), label="mutation")
    note(f"{kind}: {name} = {mutated.get(name)!r}")
    written = data.draw(S.written(mutated), label="written")
    ok = expected_ok(policy.vocabulary, mutated)
    try:
        check_case(written, policy.vocabulary)
    except CaseError as exc:
        assert not ok, f"a valid case was refused: {exc}"
        assert exc.problems and all(p.code == "case_invalid" for p in exc.problems)
        assert all(names_the_fact(p.path, name) for p in exc.problems), [p.path for p in exc.problems]
    else:
        assert ok, f"{kind} of {name} was accepted: {mutated.get(name)!r}"


@pytest.mark.parametrize("policy", POLICIES, ids=_pid)
@given(data=st.data())
def test_case_checker_refuses_mutations_at_their_fact(policy, data):
    """One wrong value, unknown name, huge integer, bad date or bad event: refused with its path
    (CaseError, code case_invalid), or accepted when the mutation is still allowed; nothing else."""
    _check_mutation(policy, data, S.MALFORMED_DATES)


@given(data=st.data())
def test_fuzz_target_case_checker_under_every_policy(data):
    """The mutation property as one target over every policy: the long fuzz run's case-checker target."""
    _check_mutation(data.draw(st.sampled_from(POLICIES), label="policy"), data, S.MALFORMED_DATES)


@pytest.mark.parametrize("policy", POLICIES, ids=_pid)
@given(data=st.data())
def test_case_checker_accepts_well_typed_cases(policy, data):
    """Every drawn case is accepted, flattened to its stated facts, events sorted by date (stable)."""
    as_of = S.as_of_for(policy)
    flat = data.draw(S.flat_cases(policy.vocabulary.facts, as_of, policy.in_force.start,
                                  dense=READS[_pid(policy)], sparse=20), label="case")
    checked = check_case(data.draw(S.written(flat)), policy.vocabulary)
    assert set(checked) == set(S.known(flat))
    for name, value in checked.items():
        fact = policy.vocabulary.facts[name]
        if fact.type == "date":
            assert S.valid_date_text(value)
        if fact.type == "events":
            assert [e["date"] for e in value] == sorted(e["date"] for e in value)
            assert len(value) == len(flat[name])


@pytest.mark.parametrize("policy", POLICIES[:1], ids=_pid)
@given(data=st.data())
def test_once_a_defect_lenient_dates_are_refused(policy, data):
    _check_mutation(policy, data, S.LENIENT_DATES)


@pytest.mark.parametrize("policy", POLICIES[:1], ids=_pid)
@given(kind=st.sampled_from(([], {}, ["invitation"], {"a": 1})))
def test_once_a_defect_unhashable_event_kind(policy, kind):
    name = next(n for n, f in policy.vocabulary.facts.items() if f.type == "events")
    with pytest.raises(CaseError) as exc:
        check_case({name: [{"kind": kind, "date": "2026-01-01"}]}, policy.vocabulary)
    assert all(names_the_fact(p.path, name) for p in exc.value.problems)


# ---------------------------------------------------------------------------------------------
# The YAML reader


def _parse_only_yaml_problem(text: str) -> Any:
    try:
        return parse(text, "fuzz.yaml").data
    except YamlProblem as exc:
        assert exc.problem.file == "fuzz.yaml" and exc.problem.message
        return None


@given(S.yaml_like_text())
def test_yaml_reader_refuses_with_yaml_problem_only(text):
    """Arbitrary text (YAML punctuation, tags, anchors, 1.1 look-alikes): data or a located YamlProblem."""
    _parse_only_yaml_problem(text)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@given(S.plain_data(), st.sampled_from((None, False, True)), st.booleans())
def test_yaml_reader_round_trips_plain_data(data, flow, unicode):
    """Plain data dumped as YAML (block or flow style, escaped or not) reads back the same values."""
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=unicode, sort_keys=False)
    note(text)
    # PyYAML's emitter writes NEL and the Unicode line separators raw inside quotes, where YAML
    # reads them as line breaks (folded to a space): a limit of the writer, not of the reader.
    assume(not any(c in text for c in "\x85\u2028\u2029"))
    # PyYAML's emitter quotes text only where YAML 1.1 would read it as something else; text that
    # YAML 1.2 reads as a number but 1.1 does not (0E0, 1.0e5) is written bare. Also the writer's.
    assume(not any(_written_bare_read_typed(t) for t in _texts(data)))
    assert _same(parse(text, "data.yaml").data, data)


def _texts(data: Any):
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield k
            yield from _texts(v)
    elif isinstance(data, list):
        for v in data:
            yield from _texts(v)


def _written_bare_read_typed(text: str) -> bool:
    """Whether PyYAML writes `text` without quotes and the YAML 1.2 reader takes it for a number."""
    written = yaml.safe_dump(text, default_flow_style=True)
    if written.startswith(("'", '"')):
        return False
    try:
        return parse(written, "t.yaml").data != text
    except Exception:  # noqa: BLE001 - a bare scalar the reader refuses is the writer's gap too
        return True


def _bare_exponent(data: Any) -> bool:
    """Whether the data holds a float JSON writes with an exponent and no point (1e-05)."""
    if isinstance(data, float):
        r = json.dumps(data)
        return "e" in r and "." not in r
    if isinstance(data, dict):
        return any(_bare_exponent(v) for v in data.values())
    if isinstance(data, list):
        return any(_bare_exponent(v) for v in data)
    return False


@given(S.plain_data(printable=True), st.booleans())
def test_yaml_reader_reads_json(data, ascii):
    """JSON is YAML: a JSON document reads back the same values (as a case file may be either).
    Only printable text: JSON leaves DEL and C1 controls raw, which YAML refuses. With ASCII escapes,
    only the Basic Multilingual Plane: JSON escapes U+10000 and above as a surrogate pair
    (\\ud800\\udc00), which YAML's \\u escape does not combine (PyYAML refuses it)."""
    assume(not _bare_exponent(data))  # 1e-05: a float in YAML 1.2, text in 1.1 (see the known defect below)
    text = json.dumps(data, ensure_ascii=ascii)
    if ascii:
        assume("\\ud8" not in text and "\\ud9" not in text and "\\uda" not in text and "\\udb" not in text)
    assert _same(parse(text, "data.json").data, data)


@given(st.one_of(
    S.yaml_like_text(S.CRASHING_TAGS),
    st.sampled_from(("&a [*a]", "&a {x: *a}", "- &a\n  - *a", "\ud800", "a: '\udfff'",
                     "!!binary abc: 1", "? !!binary a\n: 1", "{!!map k: v}")),
    st.integers(50, 1500).map(lambda n: "[" * n + "]" * n),
    st.integers(50, 400).map(lambda n: "".join("  " * i + "- \n" for i in range(n))),
))
def test_once_a_defect_yaml_crashes(text):
    _parse_only_yaml_problem(text)


@given(st.one_of(
    st.from_regex(r"0[0-9]{1,4}|[1-9][0-9]{0,2}(_[0-9]{3}){1,2}|[1-5]?[0-9]:[0-5][0-9]", fullmatch=True),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps).filter(lambda r: "e" in r and "." not in r),
))
def test_once_a_defect_yaml_1_2_numbers(scalar):
    """Under YAML 1.2's core schema a plain 010 is ten, 1e-05 is a float (as in JSON); 1_000 and 1:20 are text."""
    value = parse(f"v: {scalar}", "v.yaml").data["v"]
    if scalar.isdigit():
        expected: Any = int(scalar, 10)
    elif "e" in scalar:
        expected = float(scalar)
    else:
        expected = scalar
    assert value == expected and type(value) is type(expected)


@given(st.sampled_from(("!!binary aGk=", "!!timestamp 2001-01-01", "!!timestamp 2001-01-01 10:00:00", "!!set {a}")))
def test_once_a_defect_yaml_tags_give_plain_data(text):
    try:
        data = parse(text, "t.yaml").data
    except YamlProblem:
        return
    assert isinstance(data, (str, int, float, bool, list, dict, type(None)))
    assert not isinstance(data, dict) or all(v is None or isinstance(v, (str, int)) for v in data.values())


# ---------------------------------------------------------------------------------------------
# The CLI on any case file


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cases")


def _cli_decide(case_dir: Path, raw: bytes, suffix: str, policy, decision: str):
    path = case_dir / f"case{suffix}"
    path.write_bytes(raw)
    with mock.patch.object(cli, "_registry", lambda dirs, fmt, lazy=False: REGISTRY):  # load once, not per example
        result = CliRunner().invoke(cli.main, ["decide", "--policy", policy.id, "--decision", decision,
                                               "--as-of", S.as_of_for(policy).isoformat(), "--format",
                                               "json", str(path)])
    note(result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 4), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    out = json.loads(result.output)
    if result.exit_code == 0:
        VERDICT.validate(out)
    else:
        assert out["error"] == "case_invalid" and out["problems"]
    return result


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")


@st.composite
def case_files(draw, policy, surrogates: bool = False) -> tuple[bytes, str]:
    """Bytes a case file may hold: binary, YAML-like text, JSON of a (mutated) case or of any data."""
    as_of = S.as_of_for(policy)
    kind = draw(st.sampled_from(("binary", "text", "case", "mutated", "data")))
    if kind == "binary":
        raw = draw(st.binary(max_size=200))
    elif kind == "text":
        raw = draw(S.yaml_like_text()).encode("utf-8")
    elif kind in ("case", "mutated"):
        flat = S.known(draw(S.flat_cases(policy.vocabulary.facts, as_of, policy.in_force.start)))
        if kind == "mutated":
            flat = draw(S.mutations(policy.vocabulary.facts, flat))[0]
        flat = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in flat.items()}
        raw = _json_bytes(draw(S.written(flat)))
    else:
        raw = _json_bytes(draw(S.plain_data()))
    if surrogates:  # a JSON escape of a lone surrogate, in a stated fact's text or as an unknown key
        raw = raw.replace(b'"E-1"', b'"\\ud800"') if b'"E-1"' in raw else b'{"\\udfff": 1}'
    return raw, draw(st.sampled_from((".json", ".yaml", "")))


@pytest.mark.parametrize("policy", POLICIES, ids=_pid)
@given(data=st.data())
def test_cli_decide_any_case_file_exits_0_or_4(policy, data, case_dir):
    """Any bytes as the case file: a verdict (0) or a located case_invalid refusal (4); never 70."""
    decision = data.draw(st.sampled_from(policy.decisions()), label="decision")
    raw, suffix = data.draw(case_files(policy), label="file")
    _cli_decide(case_dir, raw, suffix, policy, decision)


@given(data=st.data())
def test_once_a_defect_cli_surrogate_escapes(data, case_dir):
    policy = POLICIES[-1]
    raw, suffix = data.draw(case_files(policy, surrogates=True), label="file")
    _cli_decide(case_dir, raw, suffix, policy, policy.decisions()[0])
