"""Index a regulation's source text into articles, paragraphs and items, and verify quotes.

A source text is the raw scraped text of one regulation (``policies/<id>/source.txt``).
This module finds its structure and answers one question for the policy checker:
*is this quote verbatim in the cited article / paragraph (款) / item (项) / sub-item (目)?*

Structure, as found in the five texts this project encodes:

* An **article** (条) starts on a line that begins - after optional spaces (ASCII,
  U+3000, NBSP, tabs) or a ``- `` bullet - with ``第<Chinese numeral>条`` or the
  Traditional ``第<numeral>條``.  References inside a sentence never start an article:
  only line starts count, and a line-initial ``第X条`` directly followed by something
  that can only continue a reference (``第``, ``款``, ``项``, ``规定``, ``所列``, ``的``,
  ``、``, ``，``, ``。``, a closing quote ...) is not an article start either.
* A **chapter heading** (``第X章 ...``) ends the current article and names the chapter
  of the following ones.
* An **appendix** starts on a line beginning ``附表`` or ``附件`` followed by a digit
  (ASCII or full-width: ``附表１``, ``\\t附表3``).  ``附表：1. ...`` (colon) is not an
  appendix start; it is part of the article.  Appendices run to the end of the text:
  once the first one starts, article starts are no longer recognised.
* An **item** (项) is a line starting with ``（一）`` / ``(一)`` (any mix of full- and
  half-width brackets), again after optional spaces or a ``- `` bullet.
  Items belong to the paragraph they follow.
* A **sub-item** (目) is a line starting with a number in Arabic digits (ASCII or
  full-width) followed by ``、``, ``.`` or ``．`` (``1、``, ``2.``; not ``1.5``: a digit after
  the dot makes it a number) or in brackets (``（1）``, ``(2)``).  Sub-items belong to the
  item they follow; a numbered line where no item is open belongs to the paragraph it is
  in (it continues it).  Either way a numbered line never starts a paragraph (款).
* **Paragraphs** (款) are counted: paragraph 1 starts with the article line; every later
  non-empty line that is neither an item, a sub-item nor a continuation starts the next
  paragraph.
  A line *continues* the previous non-empty line when that line does not end with
  terminal punctuation (``。；;：:！!？?``, or a closing bracket/quote directly after
  one of those, as in ``。”``).  An item label wins over continuation.
* Text before the first article (notice header, title) belongs to no unit.  After the
  last article, a final one-line paragraph without terminal punctuation that does not
  start with ``附`` (e.g. the Chifeng footer ``赤峰市人民政府办公室秘书二科``) is the
  document's trailer, not part of the article; it is kept in ``SourceIndex.trailer``.

Unit texts are the source lines of the unit, each stripped of leading indentation (and
of a ``- `` bullet on article/paragraph/item lines) and of trailing whitespace, blank
lines dropped, joined with ``\\n``.  Apart from that they are raw: scraping debris stays.

Quotes are compared after *normalisation*, a list of named steps declared per policy
(see ``normalise``).  Normalisation only ever deletes characters, so every position in
a normalised text maps back to a position in the raw text (used to show the closest
raw passage when a quote is not found).
"""
from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from . import numerals as _numerals

__all__ = [
    "Item",
    "SubItem",
    "Paragraph",
    "Article",
    "Appendix",
    "QuoteCheck",
    "SourceIndex",
    "STEPS",
    "index_source",
    "load_source",
    "normalise",
    "parse_numeral",
    "cite_label",
    "suspicious_debris",
]

# --------------------------------------------------------------------------- numerals

_NUMERAL_CHARS = "〇零一二三四五六七八九十百千"
_NUMERAL = f"[{_NUMERAL_CHARS}]+"


@lru_cache(maxsize=512)
def parse_numeral(s: str) -> int:
    """Chinese numeral to int: ``"二十一"`` -> 21 (numerals.parse_numeral, 0-9999).

    Only plain numerals made of 〇零一二三四五六七八九十百千 are accepted (〇 reads as 零);
    anything else (Arabic digits, 两, signs, decimals, malformed sequences such as 十十)
    raises ValueError.
    """
    if not isinstance(s, str) or not s or any(c not in _NUMERAL_CHARS for c in s):
        raise ValueError(f"not a Chinese numeral: {s!r}")
    return _numerals.parse_numeral(s.replace("〇", "零"))


@lru_cache(maxsize=512)
def _cn(n: int) -> str:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"a citation number must be a positive int, got {n!r}")
    return _numerals.format_numeral(n)


def cite_label(article: int, paragraph: int | None = None, item: int | None = None,
               appendix: bool = False, subitem: int | None = None) -> str:
    """Citation in local-text style.

    ``cite_label(5)`` -> ``"第五条"``; ``cite_label(5, item=5)`` -> ``"第五条第（五）项"``;
    ``cite_label(11, 2)`` -> ``"第十一条第二款"``;
    ``cite_label(12, 2, 3)`` -> ``"第十二条第二款第（三）项"``;
    ``cite_label(9, 1, 2, subitem=1)`` -> ``"第九条第一款第（二）项第1目"`` (a sub-item is
    numbered as the text numbers it, in Arabic digits; it needs its item);
    ``cite_label(3, appendix=True)`` -> ``"附表3"`` (appendices have no paragraphs/items).
    """
    if subitem is not None:
        if item is None:
            raise ValueError("a sub-item (目) is cited within its item: give the item too")
        if not isinstance(subitem, int) or isinstance(subitem, bool) or subitem < 1:
            raise ValueError(f"a citation number must be a positive int, got {subitem!r}")
    if appendix:
        if paragraph is not None or item is not None or subitem is not None:
            raise ValueError("an appendix has no paragraphs or items to cite")
        _cn(article)  # validates
        return f"附表{article}"
    label = f"第{_cn(article)}条"
    if paragraph is not None:
        label += f"第{_cn(paragraph)}款"
    if item is not None:
        label += f"第（{_cn(item)}）项"
    if subitem is not None:
        label += f"第{subitem}目"
    return label


# ----------------------------------------------------------------------- normalisation

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_PINYIN_LETTERS = "a-z" + _TONED + "ü"
_UNTONE = str.maketrans(
    "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ",
    "aaaaeeeeiiiioooouuuuüüüü",
)
# Base syllable (tone marks removed): optional initial + final.  Deliberately a little
# permissive (it does not check initial/final compatibility); it exists to keep words
# and abbreviations out, not to be a pinyin dictionary.
_SYLLABLE = re.compile(
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ueng|ang|eng|ing|ong|iao|ian|uai|uan|üan|"
    r"ai|ei|ao|ou|an|en|er|ia|ie|iu|in|ua|uo|ui|un|üe|ue|ün|a|o|e|i|u|ü)"
)
_DEBRIS_BRACKET = re.compile(rf"(?<=[{_CJK}])\(([{_PINYIN_LETTERS}]{{1,7}})\)")
_ARTICLE_QMARK = re.compile(rf"第{_NUMERAL}[条條](\?)")
# str.split() / \s whitespace, plus invisible format characters nobody can type in a quote
_WHITESPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")


def _is_toned_syllable(s: str) -> bool:
    if sum(1 for c in s if c in _TONED) != 1:
        return False
    return _SYLLABLE.fullmatch(s.translate(_UNTONE)) is not None


def _spans_whitespace(s: str) -> list[tuple[int, int]]:
    return [m.span() for m in _WHITESPACE.finditer(s)]


def _spans_pinyin_brackets(s: str) -> list[tuple[int, int]]:
    return [m.span() for m in _DEBRIS_BRACKET.finditer(s) if _is_toned_syllable(m.group(1))]


def _spans_article_qmark(s: str) -> list[tuple[int, int]]:
    return [m.span(1) for m in _ARTICLE_QMARK.finditer(s)]


# Named steps -> the deletion passes they consist of, in order.
_STEP_PASSES = {
    # every whitespace character (ASCII and Unicode: U+3000, NBSP, tabs, newlines ...)
    "whitespace": (_spans_whitespace,),
    # Chongqing scraping debris: 責(zé) -> 責 (a bracket right after a CJK character
    # holding exactly one pinyin syllable with one tone mark), then 第一條? -> 第一條
    "pinyin_debris": (_spans_pinyin_brackets, _spans_article_qmark),
}
STEPS: tuple[str, ...] = tuple(_STEP_PASSES)


def _check_steps(steps: Sequence[str]) -> tuple[str, ...]:
    if isinstance(steps, str):
        raise TypeError(f"steps must be a sequence of step names, not the string {steps!r}")
    steps = tuple(steps)
    for step in steps:
        if step not in _STEP_PASSES:
            raise ValueError(f"unknown normalisation step {step!r}; known steps: {', '.join(STEPS)}")
    return steps


def _delete(s: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return s
    out, last = [], 0
    for a, b in spans:
        out.append(s[last:a])
        last = b
    out.append(s[last:])
    return "".join(out)


def normalise(text: str, steps: Sequence[str]) -> str:
    """Apply the named normalisation steps in order (see ``STEPS``).

    ``"whitespace"``: delete every whitespace character (``str.isspace`` / regex ``\\s``:
    ASCII, U+3000, NBSP, tabs, newlines ...) and the invisible U+200B-U+200D, U+2060,
    U+FEFF.  ``"pinyin_debris"``: delete a ``(…)`` right after a CJK character whose
    content is one pinyin syllable carrying one tone mark (``責(zé)`` -> ``責``,
    ``(廳字〔2016〕32號(hào))`` -> ``(廳字〔2016〕32號)``; ``(一)``, ``(de)``, ``(abc)``
    survive), then delete a ``?`` directly after ``第X条``/``第X條``.
    """
    for step in _check_steps(steps):
        for spans in _STEP_PASSES[step]:
            text = _delete(text, spans(text))
    return text


def _normalise_with_map(text: str, steps: Sequence[str]) -> tuple[str, list[int]]:
    """Normalise and return, for each normalised character, its index in ``text``."""
    pos = list(range(len(text)))
    for step in _check_steps(steps):
        for spans in _STEP_PASSES[step]:
            sp = spans(text)
            if sp:
                text = _delete(text, sp)
                keep, last = [], 0
                for a, b in sp:
                    keep.extend(pos[last:a])
                    last = b
                keep.extend(pos[last:])
                pos = keep
    return text, pos


_LATIN = "A-Za-z\u00c0-\u024f"
_SUSPICIOUS = re.compile(rf"[?(){_LATIN}]+")
_CJK_CONTEXT = re.compile(rf"[{_CJK}\u3000-\u303f\uff00-\uffef“”‘’]")


def suspicious_debris(text: str, steps: Sequence[str] = ("pinyin_debris",)) -> list[tuple[int, str]]:
    """Debris that normalisation leaves behind, as ``(line, fragment)`` pairs.

    Each line is normalised with ``steps`` (a ``"whitespace"`` step is ignored so that
    lines survive), then every run of ``?``, brackets and Latin letters (toned pinyin
    letters included) is reported if it holds a ``?``, or holds a letter and touches a
    CJK character or CJK punctuation.  Brackets alone (``(一)``) are never reported.
    Legitimate Latin inside CJK text (``电子信息X人``) is reported too: this is a list
    for a policy author to review, not a verdict.
    """
    steps = tuple(s for s in _check_steps(steps) if s != "whitespace")
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), 1):
        clean = normalise(line, steps)
        for m in _SUSPICIOUS.finditer(clean):
            frag = m.group()
            if "?" in frag:
                found.append((number, frag))
            elif any(c.isalpha() for c in frag):
                a, b = m.span()
                before = clean[a - 1] if a > 0 else ""
                after = clean[b] if b < len(clean) else ""
                if _CJK_CONTEXT.match(before) or _CJK_CONTEXT.match(after):
                    found.append((number, frag))
    return found


# ------------------------------------------------------------------------- data model


@dataclass(frozen=True, slots=True)
class SubItem:
    """A sub-item (目) of an item: ``1、...``, ``2. ...`` or ``（3）...``."""

    number: int
    label: str  # as written: "1、", "2.", "（3）"
    text: str  # raw text incl. label and continuation lines
    line: int
    norm: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Item:
    """An item (项) of a paragraph: ``（四） 网上公示：...``.  ``text`` includes its sub-items."""

    number: int
    label: str  # as written: "（四）" or "(四)"
    text: str  # raw text incl. label and continuation lines
    line: int  # 1-based line of the label in the source file
    norm: str = field(default="", repr=False, compare=False)  # text normalised with the index's steps
    subitems: tuple[SubItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph (款): counted, not numbered, in the texts.  ``text`` includes its items."""

    number: int
    text: str
    line: int
    items: tuple[Item, ...]
    norm: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Article:
    """An article (条).  ``occurrence`` tells apart articles sharing a number (1 = first)."""

    number: int
    occurrence: int
    label: str  # as written: "第六条", "第一條"
    text: str
    line: int
    end_line: int
    paragraphs: tuple[Paragraph, ...]
    chapter: str | None  # the heading line as written, e.g. "第一章 总 则"; None without chapters
    norm: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Appendix:
    """An appended form or template (附表N / 附件N): not part of any article."""

    number: int
    label: str  # as written: "附表１"
    text: str  # the raw lines, unmodified (tabs kept: they separate table cells)
    line: int
    end_line: int
    norm: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class QuoteCheck:
    ok: bool
    where: str  # the unit searched, e.g. "第六条(first of two)第（四）项"
    closest: str | None = None  # when not ok: the raw passage of that unit most like the quote
    found_elsewhere: str | None = None  # when not ok: where else in the source the quote is


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_COUNTS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _nth(k: int, words: tuple[str, ...]) -> str:
    return words[k - 1] if 1 <= k <= len(words) else str(k)


@dataclass(frozen=True, slots=True)
class SourceIndex:
    text: str
    sha256: str  # of the UTF-8 bytes of the raw text
    steps: tuple[str, ...]
    articles: tuple[Article, ...]
    appendices: tuple[Appendix, ...]
    trailer: str | None = None  # document footer after the last article (see module doc)
    trailer_line: int | None = None
    norm: str = field(default="", repr=False, compare=False)  # whole text, normalised

    # -- lookup -------------------------------------------------------------------

    def articles_numbered(self, number: int) -> tuple[Article, ...]:
        return tuple(a for a in self.articles if a.number == number)

    def article(self, number: int, occurrence: int | None = None) -> Article:
        found = self.articles_numbered(number)
        label = _safe_label(number)
        if not found:
            raise LookupError(f"the source has no {label} ({self._article_range()})")
        if occurrence is None:
            if len(found) > 1:
                lines = ", ".join(str(a.line) for a in found)
                choices = " or ".join(str(a.occurrence) for a in found)
                raise LookupError(
                    f"{label} is ambiguous: the source has {len(found)} articles numbered {label} "
                    f"(lines {lines}); say which with occurrence {choices}"
                )
            return found[0]
        for a in found:
            if a.occurrence == occurrence:
                return a
        raise LookupError(
            f"the source has {len(found)} article(s) numbered {label}; "
            f"there is no occurrence {occurrence}"
        )

    def appendix(self, number: int) -> Appendix:
        for ap in self.appendices:
            if ap.number == number:
                return ap
        have = ", ".join(ap.label for ap in self.appendices) or "none"
        raise LookupError(f"the source has no appendix {number} (appendices: {have})")

    def _article_range(self) -> str:
        if not self.articles:
            return "it has no articles"
        nums = sorted({a.number for a in self.articles})
        return f"articles: {_safe_label(nums[0])}–{_safe_label(nums[-1])}, {len(self.articles)} in all"

    def _unit(self, article: int, occurrence: int | None, paragraph: int | None,
              item: int | None, subitem: int | None = None) -> tuple[Article, Paragraph | Item | SubItem | Article, str]:
        if subitem is None:
            return self._unit_above(article, occurrence, paragraph, item)
        art, unit, where = self._unit_above(article, occurrence, paragraph, item)
        if not isinstance(unit, Item):
            raise LookupError(f"a sub-item (目) is cited within its item: give the item of {where}")
        where += f"第{subitem}目"
        hits = [s for s in unit.subitems if s.number == subitem]
        if len(hits) == 1:
            return art, hits[0], where
        if not hits:
            have = "".join(s.label for s in unit.subitems) or "no numbered sub-items"
            raise LookupError(f"there is no {where} (that item has {have})")
        raise LookupError(f"{where} is ambiguous: sub-item {subitem} occurs {len(hits)} times in that item")

    def _unit_above(self, article: int, occurrence: int | None, paragraph: int | None,
                    item: int | None) -> tuple[Article, Paragraph | Item | Article, str]:
        art = self.article(article, occurrence)
        where = self._render(art, paragraph, item)
        if paragraph is not None:
            if not 1 <= paragraph <= len(art.paragraphs):
                raise LookupError(
                    f"{self._render(art, None, None)} has {len(art.paragraphs)} paragraph(s); "
                    f"there is no {where}"
                )
            para = art.paragraphs[paragraph - 1]
            if item is None:
                return art, para, where
            hits = [it for it in para.items if it.number == item]
            if len(hits) == 1:
                return art, hits[0], where
            if not hits:
                have = "".join(it.label for it in para.items) or "no items"
                raise LookupError(f"there is no {where} (that paragraph has {have})")
            raise LookupError(f"{where} is ambiguous: item {item} occurs {len(hits)} times in that paragraph")
        if item is None:
            return art, art, where
        cands = [(p, it) for p in art.paragraphs for it in p.items if it.number == item]
        if len(cands) == 1:
            return art, cands[0][1], where
        if not cands:
            have = "".join(it.label for p in art.paragraphs for it in p.items) or "no items"
            raise LookupError(f"there is no {where} ({self._render(art, None, None)} has {have})")
        names = ", ".join(self._render(art, p.number, it.number) for p, it in cands)
        raise LookupError(f"{where} is ambiguous: candidates are {names}; give the paragraph")

    def _render(self, art: Article, paragraph: int | None, item: int | None) -> str:
        label = f"第{_cn(art.number)}条"
        same = len(self.articles_numbered(art.number))
        if same > 1:
            label += f"({_nth(art.occurrence, _ORDINALS)} of {_nth(same, _COUNTS)})"
        if paragraph is not None:
            label += f"第{_cn(paragraph)}款"
        if item is not None:
            label += f"第（{_cn(item)}）项"
        return label

    # -- passages and quotes -------------------------------------------------------

    def passage(self, article: int, occurrence: int | None = None, paragraph: int | None = None,
                item: int | None = None, *, clean: bool = False, subitem: int | None = None) -> str:
        """The raw text of a unit.  ``clean=True`` applies the index's steps other than
        ``"whitespace"`` (i.e. removes scraping debris but keeps line breaks)."""
        _, unit, _ = self._unit(article, occurrence, paragraph, item, subitem)
        if clean:
            return normalise(unit.text, [s for s in self.steps if s != "whitespace"])
        return unit.text

    def verify_quote(self, quote: str, article: int, occurrence: int | None = None,
                     paragraph: int | None = None, item: int | None = None,
                     subitem: int | None = None) -> QuoteCheck:
        """Is ``quote`` verbatim (after normalisation) in the cited unit?

        Raises LookupError if the cited unit does not exist (that is a citation error,
        not a quote mismatch).  An empty quote (after normalisation) is never ok.
        """
        _, unit, where = self._unit(article, occurrence, paragraph, item, subitem)
        nq = normalise(quote, self.steps)
        if not nq:
            return QuoteCheck(False, where, None, None)
        if nq in unit.norm:
            return QuoteCheck(True, where)
        return QuoteCheck(False, where, self._closest(unit.text, nq), self._find_elsewhere(nq))

    def _closest(self, raw: str, nq: str) -> str | None:
        norm, pos = _normalise_with_map(raw, self.steps)
        if not norm:
            return None
        n, size = len(nq), len(norm)
        if size <= n:
            return normalise(raw, [s for s in self.steps if s != "whitespace"]).strip()
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(nq)

        def score(a: int, b: int) -> float:
            matcher.set_seq1(norm[a:b])
            return matcher.ratio()

        stride = max(1, n // 6)
        starts = list(range(0, size - n + 1, stride))
        if starts[-1] != size - n:
            starts.append(size - n)
        best_score, best = -1.0, (0, n)
        for a in starts:
            s = score(a, a + n)
            if s > best_score:
                best_score, best = s, (a, a + n)
        # refine start and length around the coarse best
        a0 = best[0]
        slack = max(1, n // 5)
        for a in range(max(0, a0 - stride), min(size - 1, a0 + stride) + 1):
            for length in range(max(1, n - slack), n + slack + 1):
                b = min(size, a + length)
                s = score(a, b)
                if s > best_score:
                    best_score, best = s, (a, b)
        a, b = best
        # Show the source as a reader sees it: debris removed, line breaks kept.  The
        # clean text is computed on the whole unit (debris rules need context) and the
        # window cut from it by raw position.
        clean, cpos = _normalise_with_map(raw, [s for s in self.steps if s != "whitespace"])
        lo, hi = bisect_left(cpos, pos[a]), bisect_right(cpos, pos[b - 1])
        return clean[lo:hi].strip()

    def _find_elsewhere(self, nq: str) -> str | None:
        hits: list[str] = []
        for art in self.articles:
            if nq not in art.norm:
                continue
            paras = [p for p in art.paragraphs if nq in p.norm]
            if not paras:  # spans paragraphs
                hits.append(self._render(art, None, None))
                continue
            for p in paras:
                items = [it for it in p.items if nq in it.norm]
                if not items:
                    hits.append(self._render(art, p.number if len(art.paragraphs) > 1 else None, None))
                for it in items:
                    unique = sum(1 for q in art.paragraphs for x in q.items if x.number == it.number) == 1
                    label = self._render(art, None if unique else p.number, it.number)
                    subs = [x for x in it.subitems if nq in x.norm]
                    hits.extend(f"{label}第{x.number}目" for x in subs) if subs else hits.append(label)
        for ap in self.appendices:
            if nq in ap.norm:
                hits.append(ap.label)
        if not hits and nq in self.norm:
            norm, pos = _normalise_with_map(self.text, self.steps)
            at = norm.find(nq)
            if at >= 0:
                line = self.text.count("\n", 0, pos[at]) + 1
                where = "the text outside any article"
                if self.trailer_line == line:
                    where = "the document trailer"
                hits.append(f"{where} (line {line})")
        if not hits:
            return None
        if len(hits) > 6:
            return "; ".join(hits[:6]) + f"; and {len(hits) - 6} more"
        return "; ".join(hits)


def _safe_label(number: int) -> str:
    try:
        return f"第{_cn(number)}条"
    except ValueError:
        return f"article {number!r}"


# ---------------------------------------------------------------------------- parsing

_LEAD = r"[\s\ufeff]*(?:-[ \t\u3000]+)?[\s\ufeff]*"
_LEAD_RE = re.compile(_LEAD)
_ARTICLE_RE = re.compile(
    rf"{_LEAD}(第({_NUMERAL})([条條]))"
    r"(?![第款项項、，,。；;：:”’\"'）)]|规定|規定|所列|的)"
)
_CHAPTER_RE = re.compile(rf"{_LEAD}第{_NUMERAL}章")
_APPENDIX_RE = re.compile(r"[\s\ufeff]*(附[表件][ \t\u3000]*([0-9０-９]+))")
_ITEM_RE = re.compile(rf"{_LEAD}([（(]({_NUMERAL})[）)])")
_DIGITS = "0-9０-９"
# 1、 2. 3． (not 1.5: a digit after the dot continues the number) or （1） (1)
_SUBITEM_RE = re.compile(rf"{_LEAD}(([{_DIGITS}]+)(?:、|[.．](?![{_DIGITS}]))|[（(]([{_DIGITS}]+)[）)])")

_TERMINAL = set("。；;：:！!？?")
_CLOSERS = set("”’」』）)")


def _terminated(line: str) -> bool:
    s = normalise(line, ("pinyin_debris",)).rstrip()
    if not s:
        return True
    if s[-1] in _TERMINAL:
        return True
    return len(s) >= 2 and s[-1] in _CLOSERS and s[-2] in _TERMINAL


class _Unit:
    __slots__ = ("number", "label", "line", "lines", "items", "subitems")

    def __init__(self, number: int, label: str, line: int) -> None:
        self.number, self.label, self.line = number, label, line
        self.lines: list[tuple[int, str]] = []
        self.items: list[_Unit] = []
        self.subitems: list[_Unit] = []


class _ArticleBuilder:
    def __init__(self, number: int, label: str, line: int, chapter: str | None, first: str) -> None:
        self.number, self.label, self.line, self.chapter = number, label, line, chapter
        self.paragraphs: list[_Unit] = []
        self._open_item: _Unit | None = None
        self._open_subitem: _Unit | None = None
        self._last_text = first
        para = _Unit(1, "", line)
        para.lines.append((line, first))
        self.paragraphs.append(para)

    def add(self, number: int, raw: str) -> None:
        m = _ITEM_RE.match(raw)
        para = self.paragraphs[-1]
        if m:
            text = raw[m.start(1):].rstrip()
            item = _Unit(parse_numeral(m.group(2)), m.group(1), number)
            item.lines.append((number, text))
            para.lines.append((number, text))
            para.items.append(item)
            self._open_item = item
            self._open_subitem = None
        elif (s := _SUBITEM_RE.match(raw)) is not None:
            # a numbered point: a sub-item (目) of the open item, else part of the paragraph;
            # never a new paragraph
            text = raw[s.start(1):].rstrip()
            para.lines.append((number, text))
            if self._open_item is not None:
                sub = _Unit(_digits(s.group(2) or s.group(3)), s.group(1), number)
                sub.lines.append((number, text))
                self._open_item.lines.append((number, text))
                self._open_item.subitems.append(sub)
                self._open_subitem = sub
        elif not _terminated(self._last_text):
            text = raw.strip()
            para.lines.append((number, text))
            if self._open_item is not None:
                self._open_item.lines.append((number, text))
            if self._open_subitem is not None:
                self._open_subitem.lines.append((number, text))
        else:
            lead = _LEAD_RE.match(raw)
            assert lead is not None  # every part of _LEAD is optional: it matches at the start of any line
            text = raw[lead.end():].rstrip()
            para = _Unit(len(self.paragraphs) + 1, "", number)
            para.lines.append((number, text))
            self.paragraphs.append(para)
            self._open_item = None
            self._open_subitem = None
        self._last_text = text

    def split_trailer(self) -> tuple[int, str] | None:
        """Detach a final one-line, unpunctuated, non-附 paragraph (a document footer)."""
        last = self.paragraphs[-1]
        if len(self.paragraphs) < 2 or last.items or len(last.lines) != 1:
            return None
        number, text = last.lines[0]
        if _terminated(text) or text.startswith("附"):
            return None
        self.paragraphs.pop()
        return number, text

    def build(self, occurrence: int, steps: tuple[str, ...]) -> Article:
        paragraphs = []
        for p in self.paragraphs:
            items = []
            for it in p.items:
                text = _join(it.lines)
                subs = tuple(SubItem(s.number, s.label, _join(s.lines), s.line, normalise(_join(s.lines), steps))
                             for s in it.subitems)
                items.append(Item(it.number, it.label, text, it.line, normalise(text, steps), subs))
            text = _join(p.lines)
            paragraphs.append(Paragraph(p.number, text, p.line, tuple(items), normalise(text, steps)))
        text = "\n".join(p.text for p in paragraphs)
        end_line = self.paragraphs[-1].lines[-1][0]
        return Article(self.number, occurrence, self.label, text, self.line, end_line,
                       tuple(paragraphs), self.chapter, normalise(text, steps))


def _join(lines: list[tuple[int, str]]) -> str:
    return "\n".join(t for _, t in lines if t)


def index_source(text: str, steps: Sequence[str] = ("whitespace",)) -> SourceIndex:
    """Parse a regulation's raw text into articles, paragraphs, items and appendices."""
    steps = _check_steps(steps)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    builders: list[_ArticleBuilder] = []
    appendix_lines: list[tuple[int, str, int, list[tuple[int, str]]]] = []
    chapter: str | None = None
    current: _ArticleBuilder | None = None
    trailer: tuple[int, str] | None = None

    lines = text.split("\n")
    for number, raw in enumerate(lines, 1):
        raw = raw.rstrip("\r")
        if appendix_lines:
            m = _APPENDIX_RE.match(raw)
            if m:
                appendix_lines.append((_digits(m.group(2)), m.group(1), number, [(number, raw)]))
            else:
                appendix_lines[-1][3].append((number, raw))
            continue
        if not raw.strip():
            continue
        m = _APPENDIX_RE.match(raw)
        if m:
            if current is not None:
                trailer = current.split_trailer()
            current = None
            appendix_lines.append((_digits(m.group(2)), m.group(1), number, [(number, raw)]))
            continue
        if _CHAPTER_RE.match(raw):
            current = None
            chapter = raw.strip()
            continue
        m = _ARTICLE_RE.match(raw)
        if m:
            first = raw[m.start(1):].rstrip()
            current = _ArticleBuilder(parse_numeral(m.group(2)), m.group(1), number, chapter, first)
            builders.append(current)
            continue
        if current is not None:
            current.add(number, raw)
    if current is not None:
        trailer = current.split_trailer()

    seen: dict[int, int] = {}
    articles = []
    for b in builders:
        seen[b.number] = seen.get(b.number, 0) + 1
        articles.append(b.build(seen[b.number], steps))

    appendices = []
    for num, label, start, body in appendix_lines:
        while body and not body[-1][1].strip():
            body.pop()
        atext = "\n".join(t for _, t in body).lstrip()
        appendices.append(Appendix(num, label, atext, start, body[-1][0], normalise(atext, steps)))

    return SourceIndex(
        text=text,
        sha256=sha,
        steps=steps,
        articles=tuple(articles),
        appendices=tuple(appendices),
        trailer=trailer[1] if trailer else None,
        trailer_line=trailer[0] if trailer else None,
        norm=normalise(text, steps),
    )


def _digits(s: str) -> int:
    return int(unicodedata.normalize("NFKC", s))


SOURCE_LIMIT = 8 << 20  # 8 MiB: larger than any regulation's text (民法典, the longest code, is under 1 MiB)


def load_source(path: str | Path, steps: Sequence[str] = ("whitespace",)) -> SourceIndex:
    """Read a UTF-8 source text (at most SOURCE_LIMIT bytes; a regular file) and index it.

    A file that cannot be read, is too large or is not UTF-8 raises PolicyError naming it
    (and the line and column of a bad byte).
    """
    from ..errors import PolicyError
    from ..textio import ReadFailure, read_text
    try:
        text = read_text(path, SOURCE_LIMIT, "source_missing", "source text", regular_only=True)
    except ReadFailure as exc:
        raise PolicyError([exc.problem]) from None
    return index_source(text, steps)
