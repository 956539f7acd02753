"""Chinese numerals of citations (policy/numerals.py): the forms the texts use, both ways."""
import pytest
from hypothesis import given, strategies as st

from policy_engine.policy.numerals import format_numeral, parse_numeral
from policy_engine.policy.sources import cite_label, parse_numeral as source_numeral


@pytest.mark.parametrize("n, text", [
    (0, "零"), (1, "一"), (10, "十"), (11, "十一"), (20, "二十"), (21, "二十一"), (100, "一百"),
    (101, "一百零一"), (110, "一百一十"), (1001, "一千零一"), (1010, "一千零一十"), (1100, "一千一百"),
    (2005, "二千零五"), (9999, "九千九百九十九"),
])
def test_canonical_forms(n, text):
    assert format_numeral(n) == text
    assert parse_numeral(text) == n


@pytest.mark.parametrize("text, n", [("一十", 10), ("一十九", 19), ("一千零十二", 1012), ("九千零十", 9010)])
def test_variant_forms_read(text, n):
    assert parse_numeral(text) == n


@pytest.mark.parametrize("text", ["", "十十", "一百十", "一百零", "零一", "两", "〇", "1", "一万", "十万", "千",
                                  "一千零零一", "二十零", "一一"])
def test_malformed_numerals_refused(text):
    with pytest.raises(ValueError):
        parse_numeral(text)


def test_source_reader_maps_ling_and_refuses_other_scripts():
    assert source_numeral("〇") == 0
    for bad in ("２", "一〇一", "二〇二〇"):  # digit-by-digit years are not article numbers
        with pytest.raises(ValueError):
            source_numeral(bad)


@pytest.mark.parametrize("bad", [-1, 10_000, True, 1.0, "1"])
def test_format_refuses_what_is_not_a_number_in_range(bad):
    with pytest.raises(ValueError):
        format_numeral(bad)


@given(st.integers(0, 9999))
def test_round_trip(n):
    assert parse_numeral(format_numeral(n)) == n


def test_citation_labels():
    assert cite_label(21, 2, 12) == "第二十一条第二款第（十二）项"
