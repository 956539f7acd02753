"""The compiled conditions (policy/compile.py) against the CEL core, the reference.

- every decide fixture (fixtures/*/*/*.yaml but draw and panel) gives the same verdict bytes,
  or the same rejection, through both paths; draw and panel fixtures pass their golden files
  with the CEL core too (tests/test_golden.py runs them compiled);
- fixture variants: each fact (a leaf of the case, event fields included) removed, each
  boolean flipped. By default a fixed sample of VARIANTS per fixture (the whole run stays
  well under two minutes on two cores); `POLICY_ENGINE_ALL_VARIANTS=1 python3 -m pytest
  tests/test_compiled.py` runs every variant of every fixture, and 100 drawn cases per policy
  and decision instead of 8 (about half an hour);
- expressions drawn by hypothesis over the operators, macros and functions the policies use,
  with facts present or absent: the compiled function gives the core's value, or fails where
  the core fails (CelError), or hands over to the core (Unsure);
- cases drawn by hypothesis from every policy's vocabulary (tests/strategies.py), every decision;
- every condition of the bundled policies compiles.
"""
import copy
import gc
import os
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import strategies as S
from policy_engine import Registry, decide
from policy_engine.errors import EngineError
from policy_engine.evaluate.engine import decide_governing
from policy_engine.evaluate.evaluate import cel_core_only
from policy_engine.policy.celcore import cel
from policy_engine.policy.compile import CelError, Unsure, compile_python
from policy_engine.policy.expr import Condition, functions, linear
from policy_engine.report.golden import SELECTION, default_fixture_dir, fixture_files, run_fixture

FIXTURES = default_fixture_dir()
FILES = fixture_files(FIXTURES)
VARIANTS = 6
ALL_VARIANTS = os.environ.get("POLICY_ENGINE_ALL_VARIANTS") == "1"


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


def _load(fixture: Path) -> dict:
    return yaml.safe_load(fixture.read_text(encoding="utf-8"))


def _answer(registry, data: dict) -> str:
    try:
        verdict, _ = decide_governing(registry, data["policy"], data["decision"], data.get("case"), str(data["as_of"]))
    except EngineError as exc:
        return f"rejected {exc.code}: {exc}"
    return verdict.dumps()


def _both(registry, data: dict) -> tuple[str, str]:
    compiled = _answer(registry, data)
    with cel_core_only():
        core = _answer(registry, data)
    return compiled, core


DECIDE = [f for f in FILES if (_load(f) or {}).get("decision") not in SELECTION]
SELECT = [f for f in FILES if f not in DECIDE]


@pytest.mark.parametrize("fixture", DECIDE, ids=[str(f.relative_to(FIXTURES)) for f in DECIDE])
def test_golden_case_same_bytes(registry, fixture):
    compiled, core = _both(registry, _load(fixture))
    assert compiled == core


@pytest.mark.parametrize("fixture", SELECT, ids=[str(f.relative_to(FIXTURES)) for f in SELECT])
def test_selection_fixture_passes_on_the_core(registry, fixture):
    with cel_core_only():
        result = run_fixture(registry, fixture)
    assert result.ok, result.message


def _leaves(value, path=()):
    """Paths of the leaves of a case (through mappings and lists)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, value


def _variants(case):
    out = []
    for path, value in _leaves(case):
        if not path:
            continue
        removed = copy.deepcopy(case)
        parent = removed
        for p in path[:-1]:
            parent = parent[p]
        if isinstance(parent, dict):
            del parent[path[-1]]
            out.append((f"without {'.'.join(map(str, path))}", removed))
        if isinstance(value, bool):
            flipped = copy.deepcopy(case)
            parent = flipped
            for p in path[:-1]:
                parent = parent[p]
            parent[path[-1]] = not value
            out.append((f"{'.'.join(map(str, path))} flipped", flipped))
    return out


@pytest.mark.parametrize("fixture", DECIDE, ids=[str(f.relative_to(FIXTURES)) for f in DECIDE])
def test_fixture_variants_same_bytes(registry, fixture):
    data = _load(fixture)
    if not isinstance(data.get("case"), dict):
        pytest.skip("no case to vary")
    variants = _variants(data["case"])
    if not ALL_VARIANTS:
        rng = random.Random(str(fixture.relative_to(FIXTURES)))
        variants = rng.sample(variants, min(VARIANTS, len(variants)))
    for name, case in variants:
        compiled, core = _both(registry, dict(data, case=case))
        assert compiled == core, name


PAIRS = [(p, d) for pid in Registry.load().ids() for p in Registry.load().versions(pid) for d in p.decisions()]


@pytest.mark.parametrize(("policy", "decision"), PAIRS, ids=[f"{p.id}@{p.version}-{d}" for p, d in PAIRS])
@settings(max_examples=100 if ALL_VARIANTS else 8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_cases_same_bytes(policy, decision, data):
    """Well-typed cases drawn from each policy's vocabulary (tests/strategies.py: facts absent, boundary
    dates and integers), every policy and decision: the same verdict bytes through both paths."""
    as_of = S.as_of_for(policy)
    case = data.draw(S.written(data.draw(S.decision_cases(policy, decision, as_of), label="case")), label="written")
    compiled = decide(policy, decision, case, as_of).dumps()
    with cel_core_only():
        core = decide(policy, decision, case, as_of).dumps()
    assert compiled == core


def test_every_bundled_condition_compiles(registry):
    texts = {o.compiled for o in gc.get_objects() if isinstance(o, Condition)}
    assert len(texts) > 100
    assert [t for t in texts if compile_python(t) is None] == []


# -- expressions drawn by hypothesis --------------------------------------------------------------

DATES = st.sampled_from(["2000-02-29", "2001-02-28", "2020-01-31", "2024-02-29", "2026-11-23", "1999-12-31",
                         "2020-13-01", ""])
INTS = st.sampled_from([0, 1, -1, 2, -7, 7, 3, 65, 2 ** 63 - 1, -(2 ** 63)])
VARIABLES = {"d1": DATES, "d2": DATES, "n1": INTS, "n2": INTS, "b1": st.booleans(), "b2": st.booleans(),
             "s1": st.sampled_from(["a", "senior", "é", ""]), "f1": st.sampled_from([0.5, -2.0, 0.0]),
             "l1": st.lists(INTS, max_size=4), "l2": st.lists(st.booleans(), max_size=4),
             "ev": st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["a", "b"])},
                                                  optional={"date": DATES, "n": INTS, "ok": st.booleans()}),
                            max_size=4)}
SCALAR_NAMES = ["d1", "d2", "n1", "n2", "b1", "b2", "s1", "f1", "l1", "l2", "ev"]
LITERALS = st.sampled_from(["0", "1", "-1", "7", "-7", "2", "3", "65", "9223372036854775807", "-9223372036854775808",
                            "true", "false", "null", "'a'", "'senior'", "''", "'2020-01-31'", "0.5", "2.0",
                            "[]", "[1, 2]", "['a', 'senior']", "[true]"])
FUNCTIONS = {"age_at": 2, "years_between": 2, "add_years": 2, "add_months": 2, "months_between": 2, "add_days": 2,
             "days_between": 2, "date_in": 3, "max_run": 1, "sum": 1, "max": 1, "min": 1}


def _expressions():
    leaf = st.one_of(LITERALS, st.sampled_from(SCALAR_NAMES), st.sampled_from(["e.n", "e.ok", "e.date", "e.kind"]))

    def extend(inner):
        binary = st.tuples(inner, st.sampled_from(["||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/",
                                                   "%", "in"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        unary = st.tuples(st.sampled_from(["!", "-"]), inner).map(lambda t: f"{t[0]}({t[1]})")
        cond = st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})")
        call = st.sampled_from(sorted(FUNCTIONS)).flatmap(
            lambda f: st.lists(inner, min_size=FUNCTIONS[f], max_size=FUNCTIONS[f]).map(
                lambda args: f"{f}({', '.join(args)})"))
        sized = inner.map(lambda x: f"size({x})")
        macro = st.tuples(st.sampled_from(["ev", "l1", "l2", "[1, 2, 3]"]), st.sampled_from(["exists", "all", "map",
                                                                                              "filter"]),
                          inner).map(lambda t: f"{t[0]}.{t[1]}(e, {t[2]})")
        lists = st.lists(inner, max_size=2).map(lambda xs: "[" + ", ".join(xs) + "]")
        index = st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]")
        return st.one_of(binary, unary, cond, call, sized, macro, lists, index)

    return st.recursive(leaf, extend, max_leaves=8)


def _well_typed():
    """Expressions that mostly have a value: booleans over well-typed numbers, dates, texts and lists."""
    small = st.sampled_from(["0", "1", "-1", "2", "3", "-7", "7", "12"])
    ints = st.recursive(
        st.one_of(small, st.sampled_from(["n1", "n2", "size(l1)", "size(ev)", "sum(l1)", "max(l1, 0)", "min(l1, 5)",
                                          "max_run(l2)", "age_at(d1, d2)", "days_between(d1, d2)",
                                          "months_between(d1, d2)", "years_between(d1, d2)", "size(s1)"])),
        lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        max_leaves=3)
    dates = st.one_of(st.sampled_from(["d1", "d2", "'2020-01-31'", "'2024-02-29'", "as_of"]),
                      st.tuples(st.sampled_from(["add_days", "add_years", "add_months"]),
                                st.sampled_from(["d1", "d2", "'2024-02-29'"]), small).map(
                          lambda t: f"{t[0]}({t[1]}, {t[2]})"))
    comparison = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    atoms = st.one_of(
        st.sampled_from(["b1", "b2", "true", "false", "s1 == 'senior'", "s1 in ['a', 'senior']", "n1 == b1",
                         "l2.exists(e, e)", "ev.exists(e, e.kind == 'a' && e.ok)", "ev.all(e, e.kind == 'b' || e.ok)",
                         "size(ev.filter(e, e.n > 0)) >= 1", "1 in l1", "f1 < 1", "f1 == 0"]),
        st.tuples(ints, comparison, ints).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(dates, comparison, dates).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(dates, dates, dates).map(lambda t: f"date_in({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(st.sampled_from(["l1", "ev.map(e, e.n)", "ev.filter(e, e.ok).map(e, e.n)"]), ints).map(
            lambda t: f"{t[0]}.all(e, e <= {t[1]})"))
    return st.recursive(atoms, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"!({x})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})")), max_leaves=6)


def _typed(value):
    """A value with its types spelt out, so that 1 and true, 1 and 1.0 differ."""
    if isinstance(value, list):
        return ["list", [_typed(v) for v in value]]
    if isinstance(value, dict):
        return ["map", sorted((k, _typed(v)) for k, v in value.items())]
    return [type(value).__name__, value]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_expressions(), _well_typed(), _well_typed()), data=st.data())
def test_drawn_expressions_agree_with_the_core(text, data):
    text = linear(text)
    try:
        program = cel.compile(text)
    except Exception:  # noqa: BLE001 - a drawn text the core does not accept: nothing to compare
        assume(False)
    compiled = compile_python(text)
    assume(compiled is not None)  # outside the subset (say `-9223372036854775808[0]`): on the core
    variables = {name: data.draw(strategy, label=name) for name, strategy in VARIABLES.items()
                 if data.draw(st.integers(0, 7), label=f"{name} present")}  # one in eight absent
    variables["as_of"] = "2026-11-23"
    try:
        expected = ("value", _typed(program.execute(cel.Context(variables=variables, functions=functions()))))
    except Exception:  # noqa: BLE001 - the core's errors have several types: an error is an error
        expected = ("error",)
    try:
        got = ("value", _typed(compiled.call(variables)))
    except CelError:
        got = ("error",)
    except Unsure:
        return  # handed to the core: the core's value is the answer by construction
    assert got == expected, f"{text}\n{variables}\n{compiled.code}"


@pytest.mark.parametrize("text, value", [
    ("-7 / 2", -3), ("-7 % 2", -1), ("7 % -2", 1), ("7 / -2", -3), ("1 == true", False), ("0 == false", False),
    ("1 == 1.0", True), ("[1, true] == [1, 1]", False), ("true in [1]", False), ("1 in [1.0]", True),
    ("x || true", True), ("1 || true", True), ("1 && false", False), ("size('é')", 2), ("true || x", True),
])
def test_cel_semantics_where_python_differs(text, value):
    compiled = compile_python(text)
    assert compiled is not None
    got = compiled.call({})
    assert type(got) is type(value) and got == value
    assert cel.compile(text).execute(cel.Context(variables={}, functions=functions())) == value


@pytest.mark.parametrize("text", ["x || false", "false || 1", "true && 1", "!1", "1 ? 2 : 3",
                                  "9223372036854775807 + 1", "5 / 0", "5 % 0", "[1][3]", "age_at('2000-01-01', 5)"])
def test_errors_where_the_core_fails(text):
    compiled = compile_python(text)
    assert compiled is not None
    with pytest.raises(CelError):
        compiled.call({})
    with pytest.raises(Exception):
        cel.compile(text).execute(cel.Context(variables={}, functions=functions()))


def test_unsupported_constructs_stay_on_the_core():
    for text in ["'a'.startsWith('b')", "1u == 1", "{'a': 1}.a", "int('3')", "'a\\nb' == 'a'", "0x10 == 16"]:
        assert compile_python(text) is None, text


def test_decide_does_not_call_the_core_when_every_fact_is_given(registry, monkeypatch):
    """The compiled path is the one taken: with every fact given, no condition of these golden
    cases goes to the CEL core (a hand-over would still give the same bytes, but no speed)."""
    import policy_engine.evaluate.evaluate as evaluate_module
    from policy_engine.policy import expr

    calls = []
    real = expr.evaluate

    def counting(condition, context, present):
        calls.append(condition.source)
        return real(condition, context, present)

    monkeypatch.setattr(expr, "evaluate", counting)
    monkeypatch.setattr(evaluate_module, "evaluate", counting)
    checked = 0
    for fixture in DECIDE:
        data = _load(fixture)
        if data.get("expect") not in ("eligible", "ineligible", "needs_review") or data.get("decision") != "entry":
            continue
        verdict, _ = decide_governing(registry, data["policy"], "entry", data["case"], str(data["as_of"]))
        if verdict.missing_facts or verdict.errors:
            continue
        checked += 1
    assert checked >= 8
    assert calls == []


def test_the_generated_code_sees_no_builtins_and_splices_no_text_of_the_condition():
    """A condition's text reaches the generated Python only as repr() values and generated names:
    hostile-looking conditions either stay on the CEL core or compile to dict lookups, and the
    function sees only two builtins (type and list)."""
    from policy_engine.policy.compile import compile_python
    assert compile_python("__import__('os').system('true') == 1") is None  # not a function the policies have
    c = compile_python("x.__class__ == 1")
    assert c is not None and "_select(" in c.code and "getattr" not in c.code
    assert set(c.call.__globals__["__builtins__"]) == {"type", "list"}
    c = compile_python("x == 'a b; import os'")
    assert c is not None and "import os" not in c.code.replace("'a b; import os'", "")
