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

from functools import lru_cache

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
    out, gap = [], False
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


@lru_cache(maxsize=1)
def _table() -> dict[str, int]:
    table = {format_numeral(n): n for n in range(LIMIT)}
    for n in range(10, 20):
        table["一" + format_numeral(n)] = n                      # 一十, 一十一
        for thousands in range(1, 10):
            table[f"{DIGITS[thousands]}千零{format_numeral(n)}"] = thousands * 1000 + n  # 一千零十二
    return table


def parse_numeral(s: str) -> int:
    """The number a Chinese numeral names (0-9999); ValueError for anything else."""
    if isinstance(s, str):
        value = _table().get(s)
        if value is not None:
            return value
    raise ValueError(f"not a Chinese numeral: {s!r}")
