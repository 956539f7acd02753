"""The review site: a policy version beside the text it encodes, as static HTML for lawyers.

Every page shows the regulation article by article in its own words (the source text as
received, split by policy/sources.py's structure), and beside each article what rests on it:
the policy's elements that cite it (rules, exceptions, provisions, steps ..., each with its
strength, its condition as written and the facts it reads, its exceptions, and its quote
highlighted inside the article with <mark>), the golden cases whose fixtures cite it, the
source defects the policy records for it, its coverage (the coverage JSON), and, given a diff
(the diff JSON), the article's changed wording (a character-level <del>/<ins>) and the cases
whose outcome changed because of a rule citing it.

Pages come from Jinja2 templates (templates/site/, autoescaped) and one stylesheet
(static/site.css, linked relatively): no network, no script, no clock. The same inputs give
the same bytes. The page never repairs the text: scraping debris stays where the text has it,
and a quote the checker matched only after normalisation is marked over the raw passage.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jinja2

from ..errors import OutputError, PolicyError, problem
from ..policy import sources as _sources
from ..policy.loader import DEFAULT_STEPS, OCCURRENCE, PROJECT, display
from ..policy.model import Citation, Exception_, Policy, Rule, Test
from ..report import render as _render
from ..resources import policy_dir
from ..textio import ReadFailure, read_text, write_atomic
from ..yamlio import MAX_BYTES, YamlProblem, parse

__all__ = ["Golden", "Element", "build_site", "page", "index_page", "read_goldens", "policy_source", "elements",
           "article_of", "STYLESHEET"]

STYLESHEET = "static/site.css"  # where the stylesheet is written, relative to the site's root

# The headings of the policy's sections: the decision each answers, in the renderer's words.
SECTION_DECISION = {"criteria": "entry", "term": "exit", "triggers": "exit", "grounds": "recusal",
                    "deadlines": "deadline", "sanctions": "sanction", "apportionment": "apportion",
                    "scoring": "score", "gates": "gate", "classification": "classify", "scope": "applies"}
SECTION_WORDS = {"selection": "抽取与专家组", "in_force": "施行期限", "supersedes": "废止的文件",
                 "governing": "适用版本"}
EFFECT = {"exempt": "不受此限", "may_exempt": "可以放宽"}
STATUS = {"cited": "已编码", "not_encoded": "声明不编码", "uncovered": "未覆盖"}
WAYS = {"both": "两种结果均有用例", "one": "只见一种结果", "never": "无用例"}
CHANGE = {"changed": "措辞修改", "added": "新增条文", "removed": "删除的条文"}
# model fields never walked for cited elements: conditions, vocabularies, caches, recorded defects
_SKIP = frozenset({"test", "applies_when", "show", "vocabulary", "calendar", "plans", "facts", "record_facts",
                   "defects", "applies", "where", "ends", "stops", "length", "labels"})
_N = "[〇零一二三四五六七八九十百千]+"
_LABEL = re.compile(rf"^第({_N})条(?:（文中第({_N})个）)?(?:第({_N})款)?(?:第（({_N})）项)?(?:第(\d+)目)?$")
_ARTICLE = re.compile(rf"^(第{_N}条(?:（文中第{_N}个）)?|附表\d+)")


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Golden:
    """A golden case as the page shows it: the fixture's own words and the stored result."""

    name: str  # the fixture's path under the fixtures folder, without .yaml
    policy: str
    decision: str
    as_of: str
    article: str  # the citation label the fixture names
    quote: str
    description: str
    expect: str
    outcome: str | None  # the stored verdict's or receipt's outcome, or the stored error code
    version: str | None  # the version that answered (from the stored file), None where unknown
    stored: Mapping[str, Any] | None = None  # the stored verdict or receipt (parsed JSON), for coverage
    fixture: Mapping[str, Any] | None = None  # the fixture as written (its case, pool, seed ...), for a diff's corpus
    path: str | None = None  # the fixture file, for the files it names (a pool)


def read_goldens(root: str | Path, policy_ids: Iterable[str] | None = None) -> tuple[list[Golden], list[str]]:
    """The golden cases under a fixtures folder (fixtures/<policy>/<decision>/<name>.yaml), with
    their stored results; and a line for each fixture that could not be read (never dropped in silence)."""
    import json
    root = Path(root)
    wanted = set(policy_ids) if policy_ids is not None else None
    goldens: list[Golden] = []
    problems: list[str] = []
    for fixture in sorted(root.rglob("*.yaml")):
        rel = fixture.relative_to(root)
        if wanted is not None and rel.parts[0] not in wanted:
            continue
        try:
            data = parse(read_text(fixture, MAX_BYTES, what="fixture", regular_only=True), display(fixture)).data
        except ReadFailure as exc:
            problems.append(f"{display(fixture)}: {exc.problem.message}")
            continue
        except YamlProblem as exc:
            problems.append(exc.problem.render())
            continue
        if not isinstance(data, dict) or not {"policy", "decision", "article", "quote", "expect"} <= set(data):
            continue  # a pool, a request or another document kept beside the fixtures
        stored: dict | None = None
        for suffix in (".verdict.json", ".receipt.json", ".rejected.json"):
            golden = fixture.with_suffix(suffix)
            if golden.is_file():
                try:
                    stored = json.loads(read_text(golden, 16 << 20, what="golden file"))
                except (ReadFailure, ValueError) as exc:
                    problems.append(f"{display(golden)}: cannot be read ({exc})")
                break
        outcome = version = None
        if isinstance(stored, dict):
            outcome = stored.get("outcome", stored.get("error"))
            pol = stored.get("policy")
            version = pol.get("version") if isinstance(pol, dict) else None
        goldens.append(Golden(
            name=rel.with_suffix("").as_posix(), policy=str(data["policy"]), decision=str(data["decision"]),
            as_of=str(data.get("as_of", "")), article=str(data["article"]), quote=str(data["quote"]),
            description=str(data.get("description", "")), expect=str(data["expect"]),
            outcome=str(outcome) if outcome is not None else None, version=version,
            stored=stored if isinstance(stored, dict) and "error" not in stored else None,
            fixture=data, path=str(fixture)))
    return goldens, problems


def _located(shown: str) -> list[Path]:
    """Where a file a policy names (as messages name files) may be: itself when absolute, else
    under the bundled policies' folder, the project, or the working directory (front ends only)."""
    path = Path(shown)
    if path.is_absolute():
        return [path]
    return [policy_dir().parent / path, PROJECT / path, Path.cwd() / path]


def policy_source(policy: Policy) -> _sources.SourceIndex:
    """The policy's source text, indexed with the normalisation its file declares: the very text
    its quotes were verified against (its SHA-256 is checked against the policy's)."""
    for candidate in _located(policy.file):
        if not candidate.is_file():
            continue
        try:
            data = parse(read_text(candidate, MAX_BYTES, what="policy file"), display(candidate)).data
        except (ReadFailure, YamlProblem):
            continue
        source = data.get("source") if isinstance(data, dict) else None
        if not isinstance(source, dict) or "file" not in source:
            continue
        index = _sources.load_source(candidate.parent / str(source["file"]),
                                     tuple(source.get("normalise", DEFAULT_STEPS)))
        if index.sha256 == policy.source_sha256:
            return index
    raise PolicyError([problem("source_missing", f"the source text of {policy.id} {policy.version} "
                                                 f"({policy.source_file}) is not where the policy was loaded from",
                               file=policy.file, hint="run the review where the policies were loaded, or name "
                                                      "their folder with --policies")])


# --------------------------------------------------------------------- cited elements


@dataclass(frozen=True, slots=True)
class Element:
    """A passage of the policy that cites the text: a rule, an exception, a provision, a step ..."""

    id: str
    title: str | None
    section: str  # the model's section (criteria, triggers, sanctions, selection ...)
    label: str  # the citation as verdicts write it
    key: tuple | None  # the unit: ("article", number, occurrence, paragraph, item, subitem) | ("appendix", n)
    quote: str
    strength: str | None = None
    test: Test | None = None
    effect: str | None = None  # an exception's effect: exempt | may_exempt
    applies: Test | None = None
    unless: tuple[Exception_, ...] = ()
    note: str | None = None
    parent: str | None = None  # the rule an exception qualifies
    other_text: str | None = None  # a text other than the policy's source (texts:)


def _key(cite: Citation | str) -> tuple[tuple | None, str, str | None]:
    """(unit key, label, other text id) of a citation object or of a label string."""
    if isinstance(cite, Citation):
        if cite.text is not None:
            return None, cite.label, cite.text
        return ("article", cite.article, cite.occurrence, cite.paragraph, cite.item, cite.subitem), cite.label, None
    if cite.startswith("附表") and cite[2:].isdigit():
        return ("appendix", int(cite[2:])), cite, None
    m = _LABEL.match(cite)
    if m is None:
        return None, cite, cite  # 《title》第七条: another text
    num = [None if g is None else int(g) if g.isdigit() else _sources.parse_numeral(g) for g in m.groups()]
    return ("article", *num), cite, None


def elements(policy: Policy) -> list[Element]:
    """Every element of the policy that carries a citation and a quote, in the policy's order."""
    out: dict[tuple[str, str, str], Element] = {}

    def add(e: Element) -> None:
        k = (e.id, e.label, e.quote)
        if k not in out or (out[k].test is None and e.test is not None):
            out[k] = e

    def walk(obj: Any, section: str, name: str, parent: str | None) -> None:
        if isinstance(obj, (tuple, list)):
            for x in obj:
                walk(x, section, name, parent)
            return
        if isinstance(obj, Mapping):  # supersedes: the entries as written
            cite, quote = obj.get("cite"), obj.get("quote")
            if isinstance(cite, Mapping) and isinstance(quote, str):
                c = Citation(cite["article"], cite.get("occurrence"), cite.get("paragraph"), cite.get("item"),
                             _sources.cite_label(cite["article"], cite.get("paragraph"), cite.get("item"),
                                                 subitem=cite.get("subitem")),
                             cite.get("subitem"), cite.get("text"))
                key, label, other = _key(c)
                add(Element(str(obj.get("doc_number") or name), obj.get("title"), section, label, key, quote,
                            other_text=other))
            return
        if not dataclasses.is_dataclass(obj) or isinstance(obj, (type, Test)):
            return
        ident = getattr(obj, "id", None) or getattr(obj, "fact", None) or getattr(obj, "decision", None)
        ident = str(ident) if ident else (parent if isinstance(obj, Exception_) else None) or name
        quote = getattr(obj, "quote", None)
        cite = getattr(obj, "cite", None) or getattr(obj, "label", None)
        if isinstance(quote, str) and quote and isinstance(cite, (Citation, str)) and cite:
            key, label, other = _key(cite)
            rule = obj if isinstance(obj, Rule) else None
            test = rule.test if rule else getattr(obj, "test", None)
            add(Element(
                id=ident, title=getattr(obj, "title", None), section=section, label=label, key=key, quote=quote,
                strength=getattr(obj, "strength", None), test=test if isinstance(test, Test) else None,
                effect=obj.effect if isinstance(obj, Exception_) else None,
                applies=rule.applies_when if rule else None, unless=rule.unless if rule else (),
                note=getattr(obj, "note", None), parent=parent if isinstance(obj, Exception_) else None,
                other_text=other))
        for f in dataclasses.fields(obj):
            if f.name in _SKIP:
                continue
            value = getattr(obj, f.name)
            if f.name == "period_start" and value is not None:  # (date fact, cite label, quote)
                key, label, other = _key(value[1])
                add(Element(f"{ident}.period_start" if ident != name else "period_start", None, section, label, key,
                            value[2], other_text=other))
                continue
            walk(value, section, f"{ident}.{f.name}" if f.name in ("period", "renews", "combine") else ident,
                 ident)

    for f in dataclasses.fields(policy):
        if f.name in _SKIP:
            continue
        walk(getattr(policy, f.name), f.name, f.name, None)
    return list(out.values())


def article_of(label: str) -> str | None:
    """The article a citation label belongs to (第五条第（五）项 -> 第五条; 附表3); None for another text."""
    m = _ARTICLE.match(label)
    return m.group(1) if m else None


# ----------------------------------------------------------------------------- the text


@dataclass
class _Block:
    """An article or appendix: its label, raw text, and where each of its units lies in it."""

    key: tuple
    label: str  # as citations name it: 第六条（文中第一个）, 附表3
    written: str  # as the text writes it: 第六条, 附表１
    chapter: str | None
    text: str
    line: int
    units: dict[tuple, tuple[int, int]]  # (paragraph, item, subitem) -> span in text; () the whole
    starts: dict[int, str]  # offset -> para | item | sub (what begins a line there)
    spans: list[tuple[int, int, str, str, str]]  # start, end, css class, quote id, whose quote (shown on hover)


def _blocks(index: _sources.SourceIndex) -> dict[tuple, _Block]:
    out: dict[tuple, _Block] = {}
    for art in index.articles:
        label = _sources.cite_label(art.number)
        if len(index.articles_numbered(art.number)) > 1:
            label = label.replace("条", "条" + OCCURRENCE.get(art.occurrence, f"（文中第{art.occurrence}个）"), 1)
        units: dict[tuple, tuple[int, int]] = {(): (0, len(art.text))}
        starts: dict[int, str] = {}
        at = 0
        for p in art.paragraphs:
            units[(p.number,)] = (at, at + len(p.text))
            starts[at] = "para"
            cursor = at
            for it in p.items:
                s = art.text.find(it.text, cursor, at + len(p.text))
                if s < 0:
                    continue
                units[(p.number, it.number)] = (s, s + len(it.text))
                units.setdefault((None, it.number), (s, s + len(it.text)))
                starts.setdefault(s, "item")
                cursor = s + len(it.label)
                sub_cursor = cursor
                for sub in it.subitems:
                    t = art.text.find(sub.text, sub_cursor, s + len(it.text))
                    if t >= 0:
                        units[(p.number, it.number, sub.number)] = (t, t + len(sub.text))
                        units.setdefault((None, it.number, sub.number), (t, t + len(sub.text)))
                        starts.setdefault(t, "sub")
                        sub_cursor = t + len(sub.label)
            at += len(p.text) + 1
        key: tuple = ("article", art.number, art.occurrence)
        out[key] = _Block(key, label, art.label, art.chapter, art.text, art.line, units, starts, [])
    for ap in index.appendices:
        key = ("appendix", ap.number)
        out[key] = _Block(key, f"附表{ap.number}", ap.label, None, ap.text, ap.line, {(): (0, len(ap.text))}, {0: "para"},
                          [])
    return out


def _block_of(blocks: dict[tuple, _Block], key: tuple) -> tuple[_Block | None, tuple]:
    """The block a unit key lies in, and the unit within it."""
    if key[0] == "appendix":
        return blocks.get(key), ()
    _, number, occurrence, paragraph, item, subitem = key
    block = blocks.get(("article", number, occurrence or 1))
    unit: tuple = ()
    if paragraph is not None or item is not None:
        unit = (paragraph,) if item is None else (paragraph, item) if subitem is None else (paragraph, item, subitem)
    return block, unit


def _locate(block: _Block, unit: tuple, quote: str, steps: Sequence[str]) -> tuple[int, int] | None:
    """The raw span of `quote` in the unit (matched as the checker matches: after normalisation)."""
    nq = _sources.normalise(quote, steps)
    if not nq:
        return None
    for span in (block.units.get(unit), block.units[()]):
        if span is None:
            continue
        s, e = span
        norm, pos = _sources._normalise_with_map(block.text[s:e], steps)
        i = norm.find(nq)
        if i >= 0:
            return s + pos[i], s + pos[i + len(nq) - 1] + 1
    return None


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    marks: tuple[str, ...] = ()  # quote ids covering it
    classes: tuple[str, ...] = ()
    title: str = ""  # whose quotes cover it (rule ids, 例外, 文本缺陷)


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # para | item | sub | cont
    segments: tuple[Segment, ...]


def _lines(block: _Block) -> list[Line]:
    """The block's text as lines of segments, each segment under the marks covering it."""
    cuts = {0, len(block.text)}
    for s, e, *_ in block.spans:
        cuts.update((s, e))
    at = 0
    for line in block.text.split("\n"):
        cuts.update((at, at + len(line)))
        at += len(line) + 1
    points = sorted(cuts)
    lines: list[Line] = []
    at = 0
    for raw in block.text.split("\n"):
        end = at + len(raw)
        segs = []
        for a, b in zip(points, points[1:]):
            if a < at or b > end or a == b:
                continue
            cover = [(q, c, who) for s, e, c, q, who in block.spans if s <= a and b <= e]
            segs.append(Segment(block.text[a:b], tuple(q for q, _, _ in cover), tuple(sorted({c for _, c, _ in cover})),
                                "；".join(dict.fromkeys(who for _, _, who in cover))))
        lines.append(Line(block.starts.get(at, "cont"), tuple(segs)))
        at = end + 1
    return lines


def _char_diff(before: str, after: str) -> list[tuple[str, str]]:
    """(op, text) with op equal | del | ins: a character-level diff of two wordings."""
    out: list[tuple[str, str]] = []
    sm = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, a, b, c, d in sm.get_opcodes():
        if op == "equal":
            out.append(("equal", before[a:b]))
        else:
            if b > a:
                out.append(("del", before[a:b]))
            if d > c:
                out.append(("ins", after[c:d]))
    return out


# ----------------------------------------------------------------------------- the page


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("policy_engine.review", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.globals.update(strength_words=_render.STRENGTH, effect_words=EFFECT, status_words=STATUS, ways_words=WAYS,
                       change_words=CHANGE, result_words=_render.RESULT, decision_words=_render.DECISION)
    return env


def _outcome_words(policy: Policy, decision: str, code: str | None) -> str:
    """An outcome code in the renderer's words (a sanction outcome by the ladder's labels)."""
    if code is None:
        return "（无存档结果）"
    if decision == "sanction" and policy.sanctions is not None and code not in ("none", "undetermined"):
        return _render._labels(policy, code)
    if decision == "score" and policy.scoring is not None:
        label = next((b.label for b in policy.scoring.grade_bands if b.grade == code), None)
        if label is not None:
            return label
    if decision == "draw":
        return _render.DRAW_OUTCOME.get(code, code)
    words = _render.OUTCOME_BY_DECISION.get(decision, {}).get(code) or _render.OUTCOME.get(code)
    return words.format(name=policy.self_name) if words else "引擎拒绝作答" if code not in _render.OUTCOME else code


def _for_version(data: Any, policy: Policy, side: str | None = None) -> Mapping | None:
    """The one contract document (coverage or diff) about this version, from one or several."""
    docs = [data] if isinstance(data, Mapping) else list(data or ())
    for doc in docs:
        ident = doc.get(side) if side else doc.get("policy")
        if isinstance(ident, Mapping) and ident.get("id") == policy.id and ident.get("version") == policy.version:
            return doc
    return None


def _goldens_of(policy: Policy, versions: Sequence[Policy], goldens: Iterable[Golden]) -> list[Golden]:
    """The golden cases answered by this version (by their stored result, else by their date)."""
    out = []
    for g in goldens:
        if g.policy != policy.id:
            continue
        if g.version is not None:
            if g.version == policy.version:
                out.append(g)
            continue
        covering = [p for p in versions if _covers(p, g.as_of)]
        if policy in covering or (not covering and g.quote == policy.in_force.quote):
            out.append(g)
    return out


def _covers(policy: Policy, day: str) -> bool:
    import datetime as _dt
    try:
        return policy.in_force.covers(_dt.date.fromisoformat(day))
    except ValueError:
        return False


def page(policy: Policy, goldens: Iterable[Golden] = (), coverage: Any = None, diff: Any = None,
         versions: Sequence[Policy] = (), index: _sources.SourceIndex | None = None,
         css: str = "../" + STYLESHEET) -> str:
    """The review page of one policy version (HTML).

    `coverage`: the coverage JSON (Contract 1) of this version, or several (the one naming this
    version is used); `diff`: the diff JSON (Contract 2) whose `after` is this version, or several.
    """
    index = index if index is not None else policy_source(policy)
    versions = versions or (policy,)
    blocks = _blocks(index)
    elems = elements(policy)
    steps = index.steps
    placed: dict[tuple, list[tuple[Element, str]]] = {k: [] for k in blocks}
    other: list[Element] = []
    unplaced: list[Element] = []
    for n, e in enumerate(elems, 1):
        q = f"q{n}"
        if e.key is None:
            other.append(e)
            continue
        block, unit = _block_of(blocks, e.key)
        span = _locate(block, unit, e.quote, steps) if block is not None else None
        if block is None or span is None:
            unplaced.append(e)
            continue
        block.spans.append((span[0], span[1], "exception" if e.parent else "rule", q,
                            f"{e.parent}（例外）" if e.parent else e.id))
        placed[block.key].append((e, q))
    defects: dict[tuple, list[tuple[Any, str | None]]] = {k: [] for k in blocks}
    for n, d in enumerate(policy.defects, 1):
        key, _, _ = _key(d.cite)
        block, unit = _block_of(blocks, key) if key else (None, ())
        if block is None:
            continue
        dq: str | None = None
        if d.quote:
            span = _locate(block, unit, d.quote, steps)
            if span is not None:
                dq = f"d{n}"
                block.spans.append((span[0], span[1], "defect", dq, "文本缺陷"))
        defects[block.key].append((d, dq))
    mine = _goldens_of(policy, versions, goldens)
    cases: dict[str, list[Golden]] = {}
    for g in mine:
        art = article_of(g.article)
        cases.setdefault(art or "", []).append(g)
    cov = _for_version(coverage, policy)
    cov_units: dict[str, list[Mapping]] = {}
    cov_rules: dict[str, Mapping] = {}
    if cov is not None:
        for a in cov.get("articles", ()):
            cov_units.setdefault(str(a.get("article")), []).append(a)
        cov_rules = {str(r.get("rule")): r for r in cov.get("rules", ())}
    dif = _for_version(diff, policy, "after")
    changed: dict[str, Mapping] = {}
    verdicts: dict[str, list[dict]] = {}
    quotes_lost: dict[str, list[Mapping]] = {}
    rules_changed: dict[str, list[Mapping]] = {}
    removed: list[Mapping] = []
    if dif is not None:
        for a in dif.get("articles", ()):
            if a.get("change") == "removed":
                removed.append({**a, "diff": _char_diff(a.get("before") or "", "")})
            else:
                changed[str(a.get("article"))] = {**a, "diff": _char_diff(a.get("before") or "", a.get("after") or "")}
        for group in dif.get("outcome_changes", ()):
            arts = dict.fromkeys(article_of(str(r.get("cite", ""))) or "" for r in group.get("rules", ()))
            for art in arts:
                verdicts.setdefault(art, []).append(group)
        for qd in dif.get("quotes", ()):
            quotes_lost.setdefault(article_of(str(qd.get("cite", ""))) or "", []).append(qd)
        for rc in dif.get("rules", {}).get("changed", ()):
            rules_changed.setdefault(article_of(str(rc.get("cite", ""))) or "", []).append(rc)
    labels = {b.label for b in blocks.values()}
    views = []
    for key, block in blocks.items():
        views.append({
            "label": block.label, "written": block.written, "chapter": block.chapter, "anchor": _anchor(key),
            "appendix": key[0] == "appendix", "line": block.line, "lines": _lines(block),
            "elements": placed[key], "defects": defects[key], "cases": cases.get(block.label, []),
            "coverage": cov_units.get(block.label, []), "change": changed.get(block.label),
            "verdicts": verdicts.get(block.label, []), "quotes_lost": quotes_lost.get(block.label, []),
            "rules_changed": rules_changed.get(block.label, []),
        })
    loose = {"cases": [g for k, v in cases.items() if k not in labels for g in v],
             "verdicts": [g for k, v in verdicts.items() if k not in labels for g in v],
             "quotes_lost": [g for k, v in quotes_lost.items() if k not in labels for g in v]}
    preamble = index.text[:_offset(index.text, index.articles[0].line)].strip() if index.articles else ""
    facts = policy.vocabulary.facts
    env = _environment()
    return env.get_template("site/page.html").render(
        policy=policy, css=css, articles=views, other=other, unplaced=unplaced, preamble=preamble,
        trailer=index.trailer, goldens=mine, coverage=cov, cov_rules=cov_rules, diff=dif, removed=removed,
        loose=loose, facts=facts, condition_facts=_condition_facts,
        outcome_words=lambda decision, code: _outcome_words(policy, decision, code),
        section_words=_section_words, versions=versions)


def _offset(text: str, line: int) -> int:
    at = 0
    for _ in range(line - 1):
        at = text.index("\n", at) + 1
    return at


def _anchor(key: tuple) -> str:
    return "appendix-%d" % key[1] if key[0] == "appendix" else "article-%d-%d" % (key[1], key[2])


def _section_words(section: str) -> str:
    decision = SECTION_DECISION.get(section)
    return _render.DECISION.get(decision, decision) if decision else SECTION_WORDS.get(section, section)


def _condition_facts(e: Element) -> list[str]:
    """The facts an element's condition and exceptions read, sorted."""
    found: set[str] = set()
    for t in (e.test, e.applies, *(u.test for u in e.unless)):
        if t is not None:
            found |= t.facts()
    return sorted(found)


def index_page(policies: Sequence[Policy], built: Iterable[tuple[str, str]]) -> str:
    """The site's index: every policy and version, linked where its page was built."""
    env = _environment()
    rows = [{"policy": p, "href": _href(p) if (p.id, p.version) in set(built) else None} for p in policies]
    return env.get_template("site/index.html").render(rows=rows, css=STYLESHEET)


def _href(policy: Policy) -> str:
    return f"{policy.id}/{policy.version}.html"


def build_site(policies: Sequence[Policy] | Policy, goldens: Iterable[Golden], out_dir: str | Path,
               coverage: Any = None, diff: Any = None) -> list[Path]:
    """Write the site: index.html, static/site.css, and <id>/<version>.html for every version given.

    `coverage` and `diff` are the coverage (Contract 1) and diff (Contract 2) JSON documents,
    one or several; each is laid over the page of the version it names. Returns the files written.
    """
    chosen = [policies] if isinstance(policies, Policy) else list(policies)
    goldens = list(goldens)
    out = Path(out_dir)
    written: list[Path] = []
    try:
        (out / "static").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError([problem("output_unwritable", f"cannot create the folder: {exc.strerror or exc}",
                                   file=str(out))]) from None

    def write(rel: str, text: str) -> None:
        target = out / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError([problem("output_unwritable", f"cannot create the folder: {exc.strerror or exc}",
                                       file=str(target.parent))]) from None
        write_atomic(target, text)
        written.append(target)

    write(STYLESHEET, resources.files("policy_engine.review").joinpath(STYLESHEET).read_text(encoding="utf-8"))
    ordered = sorted(chosen, key=lambda p: (p.id, p.in_force.start, p.version))
    for p in ordered:
        versions = tuple(v for v in ordered if v.id == p.id)
        write(_href(p), page(p, goldens, coverage, diff, versions=versions))
    write("index.html", index_page(ordered, [(p.id, p.version) for p in ordered]))
    return written
