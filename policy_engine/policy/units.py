"""The citable units of a source text in text order, and which unit a citation names.

A unit is an article (条), a paragraph (款) of an article that has more than one, an item
(项), a sub-item (目) or an appended form (附表N). A paragraph of a one-paragraph article is
the article itself, so it is not a unit of its own: a cite of 第五条第一款 there names 第五条.

Keys identify units independently of how a citation was written (第五条第（五）项 and
第五条第一款第（五）项 name one item): ``(article position, paragraph, item, subitem)`` with
``None`` for the levels above the unit, the paragraph ``None`` in a one-paragraph article,
and ``("form", N)`` for an appended form. Used by the loader (a part declared not encoded must
not be cited) and by the coverage report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .model import Citation
    from .sources import SourceIndex

Key = tuple

OCCURRENCE = {1: "（文中第一个）", 2: "（文中第二个）", 3: "（文中第三个）"}


@dataclass(frozen=True, slots=True)
class Unit:
    key: Key
    label: str  # as verdicts write citations: 第五条第（五）项
    article: str  # the label of the article it belongs to (or the form's): 第五条
    level: str  # article | paragraph | item | subitem | form
    line: int  # 1-based line in the source text
    parent: Key | None  # the unit it is part of


def _article_label(index: SourceIndex, pos: int) -> str:
    from .sources import cite_label
    art = index.articles[pos]
    label = cite_label(art.number)
    if len(index.articles_numbered(art.number)) > 1:
        label = label.replace("条", "条" + OCCURRENCE.get(art.occurrence, f"（文中第{art.occurrence}个）"), 1)
    return label


def units(index: SourceIndex) -> list[Unit]:
    """Every unit of the text, in text order (a unit before the units inside it)."""
    from .sources import cite_label
    out: list[Unit] = []
    for a, art in enumerate(index.articles):
        head = _article_label(index, a)
        marker = head[len(cite_label(art.number)):]
        akey: Key = (a, None, None, None)
        out.append(Unit(akey, head, head, "article", art.line, None))
        several = len(art.paragraphs) > 1
        for para in art.paragraphs:
            p = para.number if several else None
            pkey: Key = (a, p, None, None) if several else akey
            if several:
                out.append(Unit(pkey, _with(cite_label(art.number, para.number), marker), head, "paragraph",
                                para.line, akey))
            for item in para.items:
                unique = sum(1 for q in art.paragraphs for x in q.items if x.number == item.number) == 1
                ilabel = _with(cite_label(art.number, None if unique else para.number, item.number), marker)
                ikey: Key = (a, p, item.number, None)
                out.append(Unit(ikey, ilabel, head, "item", item.line, pkey))
                for sub in item.subitems:
                    out.append(Unit((a, p, item.number, sub.number), ilabel + f"第{sub.number}目", head, "subitem",
                                    sub.line, ikey))
    for form in index.appendices:
        label = cite_label(form.number, appendix=True)
        out.append(Unit(("form", form.number), label, label, "form", form.line, None))
    return out


def _with(label: str, marker: str) -> str:
    """A label of a part of an article whose number two articles share: the occurrence after 条."""
    return label.replace("条", "条" + marker, 1) if marker else label


def key_of(index: SourceIndex, cite: Citation) -> Key:
    """The key of the unit a citation of the policy's own text names (LookupError if it names none)."""
    art = index.article(cite.article, cite.occurrence)
    a = index.articles.index(art)
    several = len(art.paragraphs) > 1
    _, unit, _ = index._unit(cite.article, cite.occurrence, cite.paragraph, cite.item, cite.subitem)
    if cite.item is None:
        if cite.paragraph is None or not several:
            return (a, None, None, None)
        return (a, cite.paragraph, None, None)
    for para in art.paragraphs:
        for item in para.items:
            if item is unit or any(sub is unit for sub in item.subitems):
                return (a, para.number if several else None, item.number, cite.subitem)
    raise LookupError(f"{cite.label}: not found")  # _unit found it, so this is not reached


def form_key(number: int) -> Key:
    return ("form", number)


def range_keys(index: SourceIndex, first: int, last: int) -> list[Key]:
    """The keys of the articles numbered first..last (every occurrence), in text order."""
    return [(a, None, None, None) for a, art in enumerate(index.articles) if first <= art.number <= last]


def ancestors(key: Key) -> Iterator[Key]:
    """The units containing `key`, nearest first (a paragraph key is also its article's in a one-paragraph article)."""
    if key[0] == "form":
        return
    a, p, i, s = key
    if s is not None:
        yield (a, p, i, None)
    if i is not None and p is not None:
        yield (a, p, None, None)
    if i is not None or p is not None:
        yield (a, None, None, None)


def within(key: Key, outer: Key) -> bool:
    """Whether unit `key` is `outer` or inside it."""
    return key == outer or outer in set(ancestors(key))
