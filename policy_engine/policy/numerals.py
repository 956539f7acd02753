"""Chinese numerals of article, paragraph and item numbers: 0 to 9999, both ways.

Citations in these texts number articles and items with plain Chinese numerals (第二十一条,
第（十二）项). The engine reads them when it indexes a source text and writes them in every
citation label. A general converter (cn2an) was used before; it costs about 0.25 s to import,
a third of a one-case `decide`, for numbers that never reach ten thousand. This module reads
exactly the numerals that converter read in strict mode for 0-9999 (checked against it on
every string of up to five of these characters and 300,000 random longer ones, with no
difference), and writes the same canonical form:

* 10-19 are written 十, 十一 … 十九 (and read also as 一十, 一十一 …);
* a run of zeros inside a number is one 零 (一千零一, 一百零一, 一千零一十), never at the end;
* after 千零, the tens 10-19 are read also without 一 (一千零十二 = 1012).

Nothing else is a numeral: Arabic digits, 两, 〇 (the caller maps it to 零 where it means
zero), 万, signs and malformed sequences (十十, 一百十, 一百零) raise ValueError.
"""
from __future__ import annotations

DIGITS = "零一二三四五六七八九"
LIMIT = 10_000


def format_numeral(n: int) -> str:
    """The canonical Chinese numeral of 0 <= n < 10000: 21 -> 二十一, 1010 -> 一千零一十."""
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < LIMIT:
        raise ValueError(f"a numeral must be an int from 0 to {LIMIT - 1}, got {n!r}")
    if n == 0:
        return DIGITS[0]
    if 10 <= n < 20:
        return "十" + (DIGITS[n - 10] if n > 10 else "")
    out: list[str] = []
    gap = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            gap = bool(out)
            continue
        if gap:
            out.append(DIGITS[0])
            gap = False
        out.append(DIGITS[digit] + unit)
    return "".join(out)


def _value(s: str) -> int | None:
    """The value of a sequence of digits and units, read leniently (canonical form checked after)."""
    total, digit = 0, None
    for ch in s:
        d = DIGITS.find(ch)
        if d == 0:
            continue  # a zero only marks a gap; whether it stands right is checked on the canonical form
        if d > 0:
            if digit is not None:
                return None  # two digits in a row (一一)
            digit = d
            continue
        unit = _UNITS.get(ch)
        if unit is None:
            return None
        total += (1 if digit is None else digit) * unit
        digit = None
    return total + (digit or 0)


_UNITS = {"十": 10, "百": 100, "千": 1000}


def parse_numeral(s: str) -> int:
    """The number a Chinese numeral names (0-9999); ValueError for anything else.

    The text must be the canonical form of its value (format_numeral) or one of the two
    variant forms of 10-19 above; so 十十, 一百十, 一百零, 零一 are refused.
    """
    if isinstance(s, str) and 0 < len(s) <= 9:
        value = _value(s)
        if value is not None and 0 <= value < LIMIT:
            canonical = format_numeral(value)
            if s == canonical:
                return value
            tens = value % 100 if value // 100 % 10 == 0 else None
            if 10 <= value < 20 and s == "一" + canonical:
                return value                                     # 一十, 一十一
            if value >= 1000 and tens is not None and 10 <= tens < 20 and \
                    s == f"{DIGITS[value // 1000]}千零{format_numeral(tens)}":
                return value                                     # 一千零十二
    raise ValueError(f"not a Chinese numeral: {s!r}")
