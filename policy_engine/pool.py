"""Expert pools: the experts a draw or a panel check reads, from CSV or JSON lines.

A pool file holds one expert per row, in the shared vocabulary's `expert.*` facts:

- CSV (UTF-8, a BOM is allowed): the header names the facts, with or without the
  `expert.` prefix (`id`, `birth_date`, `records.misconduct`, `expert.fields`). An empty
  cell is an absent fact. Lists are separated by `;` (or `；`). Booleans are `true`/`false`
  (or 是/否). Event histories need JSON lines.
- JSON lines (`.jsonl`, `.ndjson`): one JSON object per line, its keys the same names
  (nested mappings allowed: `{"id": "E1", "records": {"misconduct": false}}`).

Every row is validated against the vocabulary; every problem names the file and line.
`expert.id` is required and unique.

Digests, so a receipt can prove which pool a draw read without depending on row order
or file format:
- a row's digest is SHA-256 of its facts as canonical JSON (flat dotted names, keys
  sorted, UTF-8, no spaces: `json.dumps(facts, sort_keys=True, ensure_ascii=False,
  separators=(",", ":"))`);
- the pool's digest is SHA-256 of the row digests (lower-case hex), sorted, each
  followed by a newline.
Shuffling the rows or converting CSV to JSON lines changes neither; editing any fact does.
"""
from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from .errors import CaseError, Problem, problem
from .dates import DateError, canonical
from .vocabulary import Fact, Vocabulary, check_case
from .yamlio import check_json_nesting

MAX_PROBLEMS = 100  # reported one by one; the rest are counted
LIST_SEPARATORS = (";", "；")
BOOLEANS = {"true": True, "false": False, "是": True, "否": False}


@dataclass(frozen=True, slots=True)
class PoolExpert:
    id: str
    facts: Mapping[str, Any]  # flat `expert.*` fact name -> validated value
    digest: str  # SHA-256 of the facts as canonical JSON
    line: int  # where the row is in its file


@dataclass(frozen=True, slots=True)
class Pool:
    file: str
    experts: tuple[PoolExpert, ...]  # in file order
    by_id: Mapping[str, PoolExpert]
    sha256: str  # of the sorted row digests: independent of row order and file format

    def __len__(self) -> int:
        return len(self.experts)


@contextmanager
def no_gc():
    """Pause the cyclic garbage collector while building many small acyclic objects (a pool,
    a draw order): a collection then would only rescan them. Its state is restored after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def row_digest(facts: Mapping[str, Any]) -> str:
    text = json.dumps(facts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pool_digest(row_digests: Iterable[str]) -> str:
    return hashlib.sha256("".join(d + "\n" for d in sorted(row_digests)).encode("ascii")).hexdigest()


def load_pool(path, vocabulary: Vocabulary, display: str | None = None) -> Pool:
    """Read and validate a pool file; CaseError listing every problem (file and line) otherwise."""
    path = Path(path)
    name = display or str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise CaseError([problem("pool_invalid", f"cannot read the pool: {exc.strerror or exc}", file=name)]) from None
    except UnicodeDecodeError:
        raise CaseError([problem("pool_invalid", "the pool is not UTF-8 text", file=name,
                                 hint="save the file as UTF-8 (in Excel: CSV UTF-8)")]) from None
    suffix = path.suffix.lower()
    if suffix in (".csv", ".jsonl", ".ndjson"):
        with no_gc():  # building many small acyclic objects: collections would only rescan them
            return (pool_from_csv if suffix == ".csv" else pool_from_json_lines)(text, vocabulary, name)
    raise CaseError([problem("pool_invalid", f"a pool is a .csv or .jsonl file, not '{path.suffix or path.name}'",
                             file=name, hint="export the pool as CSV with a header row, or as JSON lines")])


def pool_from_rows(rows: Iterable[tuple[int, Mapping[str, Any]]], vocabulary: Vocabulary, file: str = "<rows>") -> Pool:
    """A pool from (line, row) pairs, each row a mapping of expert facts (library use, JSON lines)."""
    experts, problems = [], []
    for line, row in rows:
        expert = _json_row(row, vocabulary, file, line, problems)
        if expert is not None:
            experts.append(expert)
    return _finish(experts, problems, file)


def pool_from_json_lines(text: str, vocabulary: Vocabulary, file: str) -> Pool:
    rows, problems = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        check_json_nesting(line, file, "pool_invalid", first_line=n)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(problem("pool_invalid", f"not valid JSON: {exc.msg}", file=file, line=n, column=exc.colno))
            continue
        rows.append((n, row))
    experts = []
    for n, row in rows:
        expert = _json_row(row, vocabulary, file, n, problems)
        if expert is not None:
            experts.append(expert)
    return _finish(experts, problems, file)


def _json_row(row: Any, vocabulary: Vocabulary, file: str, line: int, problems: list) -> PoolExpert | None:
    if not isinstance(row, Mapping):
        problems.append(problem("pool_invalid", "a row is a JSON object of the expert's facts", file=file, line=line))
        return None
    nested: dict[str, Any] = {}
    for key, value in row.items():
        name = key[len("expert."):] if isinstance(key, str) and key.startswith("expert.") else key
        nested[name] = value
    try:
        facts = check_case({"expert": nested}, vocabulary)
    except CaseError as exc:
        problems.extend(Problem(p.code if p.code != "case_invalid" else "pool_invalid", p.message, file, line,
                                None, p.path, p.hint) for p in exc.problems)
        return None
    return _expert(facts, file, line, problems)


def _expert(facts: dict, file: str, line: int, problems: list) -> PoolExpert | None:
    eid = facts.get("expert.id")
    if not eid or not str(eid).strip():
        problems.append(problem("pool_invalid", "the row has no expert id", file=file, line=line, path="expert.id",
                                hint="every row needs a unique id (column `id`)"))
        return None
    return PoolExpert(eid, MappingProxyType(facts), row_digest(facts), line)


def pool_from_csv(text: str, vocabulary: Vocabulary, file: str) -> Pool:
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Problem] = []
    try:
        header = next(reader)
    except StopIteration:
        raise CaseError([problem("pool_invalid", "the pool is empty", file=file, line=1,
                                 hint="the first line names the columns: id,name,birth_date,...")]) from None
    except csv.Error as exc:
        raise CaseError([problem("pool_invalid", f"not valid CSV: {exc}", file=file, line=1)]) from None
    columns: list[tuple[str, Callable[[str], Any]] | None] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header, start=1):
        column = raw.strip()
        name = column if column.startswith("expert.") else f"expert.{column}"
        fact = vocabulary.facts.get(name)
        if not column:
            problems.append(problem("pool_invalid", f"column {i} has no name", file=file, line=1, column=i))
            columns.append(None)
            continue
        if fact is None:
            close = vocabulary.closest(name, 1)
            problems.append(problem("pool_invalid", f"column '{column}' is not an expert fact", file=file, line=1,
                                    column=i, hint=(f"did you mean '{close[0].removeprefix('expert.')}'?" if close else
                                                    "see `policy-engine facts --policy ID` for the expert.* facts")))
            columns.append(None)
            continue
        if fact.type == "events":
            problems.append(problem("pool_invalid", f"column '{column}' is an event history, which CSV cannot hold",
                                    file=file, line=1, column=i, hint="give histories in a JSON lines pool"))
            columns.append(None)
            continue
        if name in seen:
            problems.append(problem("pool_invalid", f"column '{column}' appears twice (also column {seen[name]})",
                                    file=file, line=1, column=i))
            columns.append(None)
            continue
        seen[name] = i
        columns.append((name, _converter(fact)))
    if "expert.id" not in seen:
        problems.append(problem("pool_invalid", "the header has no id column", file=file, line=1,
                                hint="every row needs a unique expert id: add a column `id`"))
    if problems:
        raise CaseError(problems)
    lists = {spec[0] for spec in columns if spec is not None and vocabulary.facts[spec[0]].type == "list"}
    experts = []
    width = len(columns)
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != width:
                problems.append(problem("pool_invalid", f"the row has {len(row)} cells, the header {width}",
                                        file=file, line=line, hint="check for an unquoted comma inside a cell"))
                continue
            facts: dict[str, Any] = {}
            bad = False
            for cell, spec in zip(row, columns):
                cell = cell.strip()
                if spec is None:
                    continue
                name, convert = spec
                if not cell:
                    if name in lists:
                        facts[name] = []  # the column is kept and the cell left empty: none recorded
                    continue
                try:
                    facts[name] = convert(cell)
                except ValueError as exc:
                    problems.append(problem("pool_invalid", str(exc), file=file, line=line, column=seen[name],
                                            path=name, hint=_HINTS.get(vocabulary.facts[name].type)))
                    bad = True
            if not bad:
                expert = _expert(facts, file, line, problems)
                if expert is not None:
                    experts.append(expert)
            if len(problems) > MAX_PROBLEMS:
                break
    except csv.Error as exc:
        problems.append(problem("pool_invalid", f"not valid CSV: {exc}", file=file, line=reader.line_num))
    return _finish(experts, problems, file)


_HINTS = {
    "date": "write dates as YYYY-MM-DD",
    "boolean": "write true or false (or 是/否)",
    "integer": "write a whole number",
    "list": "separate the items with ;",
}


def _converter(fact: Fact) -> Callable[[str], Any]:
    if fact.type == "string":
        return str
    if fact.type == "date":
        return _date
    if fact.type == "integer":
        return _integer
    if fact.type == "boolean":
        def boolean(cell: str) -> bool:
            try:
                return BOOLEANS[cell.lower()]
            except KeyError:
                raise ValueError(f"expected true or false, got {cell!r}") from None
        return boolean
    if fact.type == "enum":
        values = frozenset(fact.values)

        def enum(cell: str) -> str:
            if cell not in values:
                import difflib
                close = difflib.get_close_matches(cell, fact.values, n=1)
                raise ValueError(f"{cell!r} is not one of {', '.join(fact.values)}"
                                 + (f" (did you mean '{close[0]}'?)" if close else ""))
            return cell
        return enum
    item = _date if fact.items == "date" else str

    def as_list(cell: str) -> list:
        for sep in LIST_SEPARATORS[1:]:
            cell = cell.replace(sep, LIST_SEPARATORS[0])
        return [item(part.strip()) for part in cell.split(LIST_SEPARATORS[0]) if part.strip()]
    return as_list


def _date(cell: str) -> str:
    try:
        return canonical(cell)
    except DateError:
        raise ValueError(f"expected a date written YYYY-MM-DD, got {cell!r}") from None


def _integer(cell: str) -> int:
    body = cell[1:] if cell[:1] in "+-" else cell
    if not body.isascii() or not body.isdigit():
        raise ValueError(f"expected a whole number, got {cell!r}")
    return int(cell)


def _finish(experts: list[PoolExpert], problems: list[Problem], file: str) -> Pool:
    by_id: dict[str, PoolExpert] = {}
    for e in experts:
        if e.id in by_id:
            problems.append(problem("pool_invalid", f"expert id '{e.id}' is also on line {by_id[e.id].line}",
                                    file=file, line=e.line, path="expert.id", hint="ids must be unique in a pool"))
        else:
            by_id[e.id] = e
    if problems:
        shown = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(problem("pool_invalid", f"... and more problems after line {shown[-1].line}; "
                                                 f"fix these and check again", file=file))
        raise CaseError(shown)
    return Pool(file, tuple(experts), MappingProxyType(by_id), pool_digest(e.digest for e in experts))
