"""Aggregates over lists (sum, min, max) in conditions, and how a missing event field is named."""
import time

import pytest

from policy_engine.policy.expr import Span, Unknown, bind, compile_condition, evaluate
from policy_engine.policy.functions import EmptyAggregate, max_of, min_of, sum_of
from policy_engine.policy.vocabulary import Vocabulary, fact_from

FACTS = {
    "matter.bidders": {"type": "list", "items": "string"},
    "official.events": {"type": "events", "kinds": {
        "points": {"fields": {"points": {"type": "integer", "min": 0}}},
        "ban": {"fields": {"months": {"type": "integer", "min": 0}, "retired": {"type": "boolean"}}},
        "accident": {"fields": {"grade": {"type": "enum", "values": ["minor", "major"]}}},
    }},
    "expert.jobs": {"type": "events", "kinds": {"job": {"fields": {
        "employer": {"type": "string"}, "retired": {"type": "boolean"}}}}},
    "official.violations": {"type": "events", "kinds": {"violation": {"fields": {"severity": {"type": "integer"}}}}},
    "official.sanctions": {"type": "events", "kinds": {"sanction": {"fields": {"period_end": {"type": "date"}}}}},
}
VOCABULARY = Vocabulary.of({name: fact_from(name, raw, None) for name, raw in FACTS.items()})
SPAN = Span(None, 1, 1, None, "test")


def compiled(source):
    condition, problems = compile_condition(source, VOCABULARY, SPAN)
    assert condition is not None, problems
    return condition


def value(source, case, as_of="2026-06-30"):
    condition = compiled(source)
    present = {k: v for k, v in case.items()}
    return evaluate(condition, bind(present, VOCABULARY.facts, as_of), present)


def ev(kind, date, **fields):
    return {"kind": kind, "date": date, **fields}


EVENTS = [ev("points", "2025-05-01", points=6), ev("points", "2025-07-01", points=4),
          ev("points", "2026-01-10", points=3), ev("ban", "2026-02-01", months=6),
          ev("ban", "2024-02-01", months=12), ev("accident", "2026-03-01", grade="major"),
          ev("accident", "2025-06-29", grade="minor"), ev("accident", "2025-06-30", grade="minor")]


# -- the functions ------------------------------------------------------------------------------

def test_sum_of_an_empty_list_is_zero_and_keeps_integers():
    assert sum_of([]) == 0 and sum_of([1, 2, 3]) == 6 and isinstance(sum_of([1, 2]), int)
    assert sum_of([1, 2.5]) == 3.5


@pytest.mark.parametrize("bad, words", [
    ([True, 1], "numbers or dates"), ([{"kind": "x"}], "map the list to one field"), (["a"], "expects numbers"),
    (3, "expects a list"), ([2 ** 62, 2 ** 62], "range of integers"),
])
def test_sum_refuses_what_is_not_a_list_of_numbers(bad, words):
    with pytest.raises(ValueError, match=words):
        sum_of(bad)


def test_min_and_max_of_an_empty_list_are_errors_unless_a_default_is_given():
    with pytest.raises(EmptyAggregate, match=r"max\(list, default\)"):
        max_of([])
    with pytest.raises(EmptyAggregate):
        min_of([])
    assert max_of([], 0) == 0 and min_of([], "9999-12-31") == "9999-12-31"
    assert max_of([-3, -1], 0) == -1, "the default is returned only for an empty list"
    assert max_of([3, 7, 5]) == 7 and min_of([3, 7, 5]) == 3
    assert max_of(["2025-01-01", "2026-03-01"]) == "2026-03-01" and min_of(["2025-01-01", "2026-03-01"]) == "2025-01-01"
    assert max_of(2, 9) == 9 and min_of(2, 9, 1) == 1, "several values: cel-go's math.greatest / math.least"
    with pytest.raises(ValueError, match="numbers and texts"):
        max_of([1, "2026-01-01"])
    with pytest.raises(ValueError, match="numbers and texts"):
        max_of([1], "none")


# -- in conditions --------------------------------------------------------------------------------

def test_points_recorded_in_a_year_are_summed_within_the_window():
    window = "date_in(e.date, add_days(add_years(as_of, -1), 1), as_of)"
    source = f"sum(official.events.filter(e, e.kind == 'points' && {window}).map(e, e.points))"
    assert value(source, {"official.events": EVENTS}) == 7  # 2025-07-01 and 2026-01-10
    assert value(source + " >= 7", {"official.events": EVENTS}) is True
    assert value(source + " >= 8", {"official.events": EVENTS}) is False
    # the window's first day counts: on 2026-04-30 the year runs from 2025-05-01, on 2026-05-01 from 2025-05-02
    assert value(source, {"official.events": EVENTS}, as_of="2026-04-30") == 13
    assert value(source, {"official.events": EVENTS}, as_of="2026-05-01") == 7


def test_months_of_bans_in_total_and_the_longest_ban():
    case = {"official.events": EVENTS}
    assert value("sum(official.events.map(e, e.kind == 'ban', e.months))", case) == 18
    assert value("max(official.events.map(e, e.kind == 'ban', e.months))", case) == 12
    assert value("min(official.events.filter(e, e.kind == 'ban').map(e, e.date))", case) == "2024-02-01"


def test_accidents_in_the_last_twelve_months_are_counted():
    source = "size(official.events.filter(e, e.kind == 'accident' && e.date > add_years(as_of, -1)))"
    assert value(source, {"official.events": EVENTS}) == 1  # the 12 months from 2025-07-01 to 2026-06-30
    assert value(source, {"official.events": EVENTS}, as_of="2026-06-29") == 2  # from 2025-06-30


def test_an_empty_filter_sums_to_zero_and_has_no_max_without_a_default():
    case = {"official.events": [ev("points", "2020-01-01", points=2)]}
    assert value("sum(official.events.filter(e, e.kind == 'ban').map(e, e.months)) == 0", case) is True
    v = value("max(official.events.filter(e, e.kind == 'ban').map(e, e.months)) > 6", case)
    assert isinstance(v, Unknown) and not v.missing and "max(list, default)" in v.error
    assert value("max(official.events.filter(e, e.kind == 'ban').map(e, e.months), 0) > 6", case) is False


def test_a_condition_with_min_of_a_list_the_sample_leaves_empty_still_loads():
    compiled("min(matter.bidders) != ''")


def test_a_missing_field_makes_the_aggregate_unknown_and_is_named():
    events = EVENTS + [ev("points", "2026-02-01")]
    v = value("sum(official.events.map(e, e.kind == 'points', e.points)) >= 12", {"official.events": events})
    assert isinstance(v, Unknown) and v.missing == ("official.events[].points",)
    # settled anyway where the logic around it settles it (CEL's || and && absorb an error)
    v = value("size(official.events) > 3 || sum(official.events.map(e, e.kind == 'points', e.points)) >= 12",
              {"official.events": events})
    assert v is True


def test_aggregates_are_linear_in_the_list_length():
    def timed(n):
        events = [ev("points", "2026-01-01", points=1)] * n
        condition = compiled("sum(official.events.filter(e, e.kind == 'points').map(e, e.points)) > 0 && "
                             "max(official.events.map(e, e.points)) == 1")
        context = bind({"official.events": events}, VOCABULARY.facts, "2026-06-30")
        start = time.perf_counter()
        assert evaluate(condition, context, {"official.events": events}) is True
        return time.perf_counter() - start
    timed(100)
    small, large = timed(1_000), timed(10_000)
    assert large < small * 40, (small, large)  # quadratic would be about 100 times


def test_an_aggregate_over_events_needs_a_field():
    condition, problems = compile_condition("sum(official.events) > 0", VOCABULARY, SPAN)
    assert condition is None and problems[0].code == "cel_syntax" and "map the list to one field" in problems[0].message


# -- missing fields are named on the list that has them --------------------------------------------

def test_a_missing_field_of_an_inner_list_is_not_named_on_the_outer_list():
    source = "matter.bidders.exists(b, expert.jobs.exists(j, j.employer == b && j.retired))"
    v = value(source, {"matter.bidders": ["A"], "expert.jobs": [ev("job", "2020-01-01", employer="A")]})
    assert isinstance(v, Unknown) and v.missing == ("expert.jobs[].retired",)


def test_a_missing_field_is_named_on_the_events_that_lack_it():
    source = ("official.violations.exists(v, v.severity > 2 && "
              "official.sanctions.exists(s, s.period_end >= as_of))")
    case = {"official.violations": [ev("violation", "2025-01-01", severity=3)],
            "official.sanctions": [ev("sanction", "2025-02-01")]}
    v = value(source, case)
    assert isinstance(v, Unknown) and v.missing == ("official.sanctions[].period_end",)
    # a field two facts declare: only the one whose event lacks it
    source = "official.events.exists(e, e.kind == 'ban' && e.retired) || expert.jobs.exists(j, j.retired)"
    case = {"official.events": [ev("ban", "2025-01-01", months=1, retired=False)],
            "expert.jobs": [ev("job", "2020-01-01", employer="A")]}
    v = value(source, case)
    assert isinstance(v, Unknown) and v.missing == ("expert.jobs[].retired",)
