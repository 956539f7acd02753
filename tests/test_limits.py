"""The size limits of a case (policy/limits.py check_case_size): each refusal names the path of the
value over the bound, spelled out only when it is refused, for mappings of any kind, lists and tuples."""
from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType

import pytest

from policy_engine.errors import CaseError
from policy_engine.policy.limits import MAX_CASE_DEPTH, MAX_CASE_VALUES, MAX_LIST_ITEMS, check_case_size


def _refused(case) -> tuple[str, str]:
    with pytest.raises(CaseError) as err:
        check_case_size(case, file="case.json")
    p = err.value.problems[0]
    assert p.code == "case_invalid" and p.file == "case.json"
    return p.path, p.message


def test_a_case_within_the_limits_passes_whatever_its_mapping_types():
    check_case_size({"expert": {"fields": ["a", "b"], "years": 3, "ok": True, "none": None, "x": 1.5}})
    check_case_size(OrderedDict(expert=MappingProxyType({"fields": ("a", "b")})))
    check_case_size("not a case at all")  # refused later, by the case's schema


def test_a_list_too_long_is_named_by_its_path():
    path, message = _refused({"expert": {"history": [{}, {"items": list(range(MAX_LIST_ITEMS + 1))}]}})
    assert path == "expert.history[1].items" and f"at most {MAX_LIST_ITEMS}" in message


def test_a_mapping_with_too_many_keys_is_named_by_its_path_even_as_a_proxy():
    big = MappingProxyType({f"k{i}": i for i in range(MAX_LIST_ITEMS + 1)})
    path, message = _refused({"a": [big]})
    assert path == "a[0]" and "keys" in message


def test_nesting_too_deep_names_the_value_past_the_bound():
    case: dict = {}
    inner = case
    for _ in range(MAX_CASE_DEPTH + 1):
        inner["n"] = {}
        inner = inner["n"]
    path, message = _refused(case)
    assert path == ".".join(["n"] * (MAX_CASE_DEPTH + 1)) and "deep" in message


def test_too_many_values_at_the_top_is_named_as_the_case():
    rows = [[0] * 100 for _ in range(MAX_CASE_VALUES // 100 + 1)]
    path, message = _refused(rows)
    assert f"more than {MAX_CASE_VALUES} values" in message and path.startswith("[")
