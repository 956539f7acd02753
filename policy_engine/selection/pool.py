"""Expert pools: the experts a draw or a panel check reads, from CSV or JSON lines.

A pool file holds one expert per row, in the shared vocabulary's `expert.*` facts:

- CSV (UTF-8, a BOM is allowed; RFC 4180): the header names the facts, with or without
  the `expert.` prefix (`id`, `birth_date`, `records.misconduct`, `expert.fields`). An
  empty cell is an absent fact. Lists are separated by `;` (or `；`). Booleans are
  `true`/`false` (or 是/否). Event histories need JSON lines.
- JSON lines (`.jsonl`, `.ndjson`): one JSON object per line, its keys the same names
  (nested mappings allowed: `{"id": "E1", "records": {"misconduct": false}}`). A key given
  twice in one object (or once nested and once dotted) is refused, as are NaN/Infinity,
  lone surrogate escapes (`"\\ud800"`) and nesting deeper than MAX_JSON_DEPTH.

Every row is validated against the vocabulary; every problem names the file and line.
`expert.id` is required and unique.

Reading is strict, so a damaged file is refused rather than read as fewer rows:
- at most MAX_POOL_BYTES bytes, MAX_POOL_ROWS rows, MAX_LINE_CHARS characters a line and
  MAX_CELL_CHARS characters a value; no NUL character anywhere;
- lines end at `\\r\\n`, `\\r` or `\\n` (the same in both formats); line numbers count those;
- CSV: a cell is quoted as a whole (`"a ""b"" c"`), text after a closing quote or a quote
  inside an unquoted cell is refused, and a quote left open at the end of the file too;
- a line break inside a cell is allowed only in a quoted free-text cell (a `string` fact
  other than the id), and only when no line of the cell would read as a row of its own
  (the header's number of cells and an id where the id column is): that is what a stray
  quote produces when it swallows the rows after it.

Every value is read the same way in both formats, so the same pool written as CSV or as
JSON lines gives the same rows and the same digest:

| value                          | surrounding white space | refused anywhere in it                   |
|--------------------------------|-------------------------|------------------------------------------|
| id (`expert.id`)               | refused                 | white space, control, format (zero-width, BOM, bidi) and other invisible characters |
| enum, boolean, integer, date, list items | spaces removed | control, format and line/paragraph separator characters |
| free text (other `string` facts) | removed               | control characters other than tab and line break; zero-width space, BOM, word joiner, bidi controls, line/paragraph separators |

All text is put in Unicode NFC form (after the checks), so two ids that differ only in how
an accented letter is encoded are the same id, and two such rows a duplicate-id refusal.
Line breaks in free text are kept as `\\n` (`\\r\\n` and `\\r` become `\\n`). A value that is
empty after removing its surrounding white space is an absent fact, and empty list items
are dropped, in both formats; a JSON list item cannot contain `;` or `；` (in CSV it
would be two items).

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
import dataclasses
import gc
import hashlib
import json
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from ..errors import CaseError, Problem, problem
from ..dates import DateError, canonical, canonical_datetime
from ..textio import ReadFailure, decode, read_bytes
from ..policy.vocabulary import Fact, Vocabulary, check_case
from ..yamlio import check_json_nesting

MAX_PROBLEMS = 100  # reported one by one; the rest are counted
MAX_POOL_BYTES = 64 << 20  # the 100,000-expert benchmark pool is about 15 MB as CSV
MAX_POOL_ROWS = 500_000
MAX_LINE_CHARS = 1 << 20  # one JSON-lines row with a long event history fits many times over
MAX_CELL_CHARS = 10_000  # one value (a cell, a list, a JSON string)
MAX_JSON_DEPTH = 16  # a row, its events and their fields need 3
MAX_INTEGER_DIGITS = 18
LIST_SEPARATORS = (";", "；")
BOOLEANS = {"true": True, "false": False, "是": True, "否": False}
ID = "expert.id"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Invisible characters refused in free text (other format characters, such as the zero-width
# joiners some scripts need, are kept): zero-width space, word joiner and invisible operators,
# BOM, bidirectional controls.
_TEXT_REFUSED = frozenset("\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u200e\u200f\u061c"
                          "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_TEXT_KEPT_CONTROLS = frozenset("\t\n\r")


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
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise CaseError([problem("pool_invalid", f"a pool is a .csv or .jsonl file, not '{path.suffix or path.name}'",
                                 file=name, hint="export the pool as CSV with a header row, or as JSON lines")])
    try:
        data = read_bytes(path, MAX_POOL_BYTES, "pool_invalid", "pool")
    except ReadFailure as exc:
        found = exc.problem
        if found.code == "file_too_large":
            found = dataclasses.replace(found, hint=f"check it is the right file: a pool file may hold at most "
                                                    f"{MAX_POOL_BYTES >> 20} MiB (about 400,000 experts as CSV)")
        # one code for every pool refusal (a pool too large included), the file named as given
        raise CaseError([dataclasses.replace(found, code="pool_invalid", file=name)]) from None
    try:
        text = decode(data, name, "pool_invalid", "pool")
    except ReadFailure as exc:
        raise CaseError([dataclasses.replace(exc.problem, hint="save the file as UTF-8 (in Excel: CSV UTF-8)")]) from None
    with no_gc():  # building many small acyclic objects: collections would only rescan them
        return (pool_from_csv if suffix == ".csv" else pool_from_json_lines)(text, vocabulary, name)


# -- values: the same rules for both formats ---------------------------------------------------

def _char_name(c: str) -> str:
    names = {"Cc": "a control character", "Cs": "half of a surrogate pair", "Co": "a private-use character",
             "Cn": "an unassigned code point"}
    return f"U+{ord(c):04X} {unicodedata.name(c, '') or names.get(unicodedata.category(c), 'no name')}"


def clean_id(raw: str) -> str | None:
    """An expert id in NFC; None when empty; ValueError for white space or invisible characters."""
    if raw.isprintable() and " " not in raw:
        return unicodedata.normalize("NFC", raw) if raw else None
    if not raw.strip():
        return None
    if raw != raw.strip():
        raise ValueError(f"the id {raw!r} has white space around it")
    bad = next(c for c in raw if c == " " or not c.isprintable())
    what = "white space" if bad.isspace() else "an invisible or control character"
    raise ValueError(f"the id {raw!r} contains {what} ({_char_name(bad)})")


_ID_HINT = ("ids are compared exactly: remove white space and invisible characters (retype the id), "
            "or two ids that look alike would be two experts")


def clean_token(raw: str) -> str | None:
    """An enum, boolean, integer, date or list item: spaces around removed, NFC; None when empty."""
    if not raw.isprintable():
        for c in raw:
            if not c.isprintable() and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
                what = "a line break" if c in "\r\n" else "an invisible or control character"
                raise ValueError(f"{raw!r} contains {what} ({_char_name(c)})")
    raw = raw.strip()
    return unicodedata.normalize("NFC", raw) if raw else None


def clean_text(raw: str) -> str | None:
    """Free text: tabs and line breaks (as \\n) kept inside, white space around removed, NFC."""
    if not raw.isprintable():
        for c in raw:
            if c in _TEXT_KEPT_CONTROLS or c.isprintable():
                continue
            if c in _TEXT_REFUSED or unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp"):
                raise ValueError(f"{raw!r} contains an invisible or control character ({_char_name(c)})")
        if "\r" in raw:
            raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    raw = raw.strip()
    return unicodedata.normalize("NFC", raw) if raw else None


def _too_long(value: str) -> None:
    if len(value) > MAX_CELL_CHARS:
        raise ValueError(f"the value has {len(value):,} characters, more than the {MAX_CELL_CHARS:,} a pool value may have")


_HINTS = {
    "date": "write dates as YYYY-MM-DD",
    "datetime": "write times as YYYY-MM-DDTHH:MM, local time without a zone",
    "boolean": "write true or false (or 是/否)",
    "integer": "write a whole number",
    "list": "separate the items with ;",
    "enum": "write one of the values listed, exactly",
    "string": "remove the control or invisible characters (retype the text)",
}


# -- JSON lines ---------------------------------------------------------------------------------

class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _json_integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise ValueError(f"a whole number of {digits:,} digits; at most {MAX_INTEGER_DIGITS} are read")
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _shown(key: str) -> str:
    """A key as it can be printed: lone surrogates as \\udxxx escapes."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first key or string holding a lone surrogate ("" for the row itself), or None."""
    if isinstance(value, str):
        return path if _has_surrogate(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{_shown(k)}" if path else _shown(k)
            if _has_surrogate(k):
                return sub
            found = _lone_surrogate(v, sub)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _lone_surrogate(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _parse_json_line(line: str, n: int, file: str, problems: list) -> Any:
    """The JSON value of one line, or _BAD with a located problem."""
    def refuse(message: str, column: int | None = None, hint: str | None = None, path: str | None = None):
        problems.append(problem("pool_invalid", message, file=file, line=n, column=column, path=path, hint=hint))
        return _BAD
    try:
        check_json_nesting(line, file, "pool_invalid", first_line=n, limit=MAX_JSON_DEPTH,
                           hint="a row is an object of facts; only event histories hold lists of objects")
    except CaseError as exc:
        problems.extend(exc.problems)
        return _BAD
    try:
        row = json.loads(line, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                         parse_int=_json_integer)
    except _DuplicateKey as exc:
        return refuse(f"key '{_shown(exc.key)}' appears twice in one object", path=_shown(exc.key),
                      hint="give each fact once: with two values, which one holds?")
    except json.JSONDecodeError as exc:
        return refuse(f"not valid JSON: {exc.msg}", column=exc.colno, hint="each line holds one JSON object")
    except (ValueError, RecursionError) as exc:
        return refuse(f"not valid JSON: {exc}", hint="each line holds one JSON object")
    if _SURROGATE_ESCAPE.search(line):
        where = _lone_surrogate(row, "")
        if where is not None:
            return refuse("a \\u escape names half of a surrogate pair, which is not a character", path=where or None,
                          hint="write the character itself (UTF-8), or both halves of the pair (\\ud83d\\ude00)")
    return row


def pool_from_json_lines(text: str, vocabulary: Vocabulary, file: str) -> Pool:
    lines = _physical_lines(text, file)
    experts: list[PoolExpert] = []
    problems: list[Problem] = []
    rows = 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rows += 1
        if rows > MAX_POOL_ROWS:
            problems.append(_too_many_rows(file, n))
            break
        row = _parse_json_line(line, n, file, problems)
        if row is not _BAD:
            expert = _json_row(row, vocabulary, file, n, problems)
            if expert is not None:
                experts.append(expert)
        if len(problems) > MAX_PROBLEMS:
            break
    return _finish(experts, problems, file)


def pool_from_rows(rows: Iterable[tuple[int, Mapping[str, Any]]], vocabulary: Vocabulary, file: str = "<rows>") -> Pool:
    """A pool from (line, row) pairs, each row a mapping of expert facts (library use, JSON lines)."""
    experts: list[PoolExpert] = []
    problems: list[Problem] = []
    for line, row in rows:
        expert = _json_row(row, vocabulary, file, line, problems)
        if expert is not None:
            experts.append(expert)
    return _finish(experts, problems, file)


def _json_row(row: Any, vocabulary: Vocabulary, file: str, line: int, problems: list) -> PoolExpert | None:
    if not isinstance(row, Mapping):
        problems.append(problem("pool_invalid", "a row is a JSON object of the expert's facts", file=file, line=line))
        return None
    flat: dict[str, Any] = {}
    bad: list[Problem] = []

    def refuse(message: str, path: str, hint: str | None = None) -> None:
        bad.append(problem("pool_invalid", message, file=file, line=line, path=path, hint=hint))

    def walk(data: Mapping, prefix: str) -> None:
        for key, value in data.items():
            if not isinstance(key, str):
                refuse(f"key {key!r} is not text", prefix)
                continue
            rel = key[len("expert."):] if prefix == "expert" and key.startswith("expert.") else key
            name = f"{prefix}.{rel}"
            if name not in vocabulary.facts and name in vocabulary.prefixes and isinstance(value, Mapping):
                walk(value, name)
                continue
            if name in flat:
                refuse("the fact is given twice in the row (as 'x' and 'expert.x', or nested and dotted)", name,
                       "give each fact once")
                continue
            flat[name] = value

    walk(row, "expert")
    for name, value in list(flat.items()):
        fact = vocabulary.facts.get(name)
        if fact is None or value is None:
            continue  # unknown names are reported by check_case, with suggestions
        try:
            flat[name] = _clean_json_value(fact, value, name, refuse)
        except ValueError as exc:
            refuse(str(exc), name, _ID_HINT if name == ID else _HINTS.get(fact.type))
    if bad:
        problems.extend(bad)
        return None
    try:
        facts = check_case(flat, vocabulary)
    except CaseError as exc:
        problems.extend(Problem(p.code if p.code != "case_invalid" else "pool_invalid", p.message, file, line,
                                None, p.path, p.hint) for p in exc.problems)
        return None
    return _expert(facts, file, line, problems)


def _clean_json_value(fact: Fact, value: Any, name: str, refuse: Callable) -> Any:
    """A JSON value with its text cleaned like a CSV cell of the same fact (types are checked later)."""
    if isinstance(value, str):
        _too_long(value)
        if name == ID:
            return clean_id(value)
        if fact.type == "string":
            return clean_text(value)
        if fact.type == "list":
            return value  # check_case says a list is expected
        return clean_token(value)
    if fact.type == "list" and isinstance(value, list):
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                items.append(item)  # check_case names the item
                continue
            _too_long(item)
            if any(sep in item for sep in LIST_SEPARATORS):
                raise ValueError(f"item {i + 1} ({item!r}) contains a list separator (; or ；), "
                                 "which the CSV form of the pool would read as two items")
            try:
                item = clean_token(item)
            except ValueError as exc:
                raise ValueError(f"item {i + 1}: {exc}") from None
            if item is not None:
                items.append(item)
        return items
    if fact.type == "events" and isinstance(value, list):
        events = []
        for i, event in enumerate(value):
            if not isinstance(event, Mapping):
                events.append(event)
                continue
            kind_name = event.get("kind")
            kind = fact.kinds.get(kind_name) if isinstance(kind_name, str) else None
            clean = {}
            for key, field_value in event.items():
                if isinstance(field_value, str):
                    spec = kind.fields.get(key) if kind is not None else None
                    try:
                        _too_long(field_value)
                        field_value = (clean_text if spec is not None and spec.type == "string"
                                       else clean_token)(field_value)
                    except ValueError as exc:
                        refuse(str(exc), f"{name}[{i}].{key}")
                clean[key] = field_value
            events.append(clean)
        return events
    return value


# -- CSV ----------------------------------------------------------------------------------------

class _CsvSyntax(Exception):
    def __init__(self, line: int, cell: int, message: str, hint: str, end: int):
        super().__init__(message)
        self.line, self.cell, self.message, self.hint, self.end = line, cell, message, hint, end


_QUOTE_HINT = ('a stray " probably: remove it, or quote the whole cell and write a quote inside it twice '
               '("a ""b"" c")')


def _physical_lines(text: str, file: str, nul: bool = True) -> list[str]:
    """The file's lines (ending at \\r\\n, \\r or \\n); CaseError for an overlong line, and for a NUL
    when `nul` (CSV checks every cell instead, so the refusal names the column)."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    if nul and "\0" in text:
        n, line = next((n, line) for n, line in enumerate(lines, start=1) if "\0" in line)
        raise CaseError([problem("pool_invalid", "the pool contains a NUL character (byte 0x00)", file=file, line=n,
                                 column=line.index("\0") + 1,
                                 hint="the file is binary or damaged: export the pool again as UTF-8 text")])
    if lines and max(map(len, lines)) > MAX_LINE_CHARS:
        n = next(n for n, line in enumerate(lines, start=1) if len(line) > MAX_LINE_CHARS)
        raise CaseError([problem("pool_invalid", f"line {n} is longer than {MAX_LINE_CHARS:,} characters",
                                 file=file, line=n, hint="check it is the right file: one line holds one expert")])
    return lines


def _too_many_rows(file: str, line: int) -> Problem:
    return problem("pool_invalid", f"the pool has more than {MAX_POOL_ROWS:,} rows", file=file, line=line,
                   hint="check it is the right file, or split the pool")


def _record(lines: list[str], i: int) -> tuple[list[str], int]:
    """The cells of the CSV record that starts at lines[i] (0-based) and the index after it.

    RFC 4180: a cell is quoted as a whole, a quote inside it written twice; a quoted cell may
    run over lines (its line breaks become \\n). _CsvSyntax for anything else."""
    line = lines[i]
    if '"' not in line:
        return line.split(","), i + 1
    cells: list[str]
    start, cells, pos = i, [], 0
    while True:
        if line.startswith('"', pos):
            parts, pos = [], pos + 1
            while True:
                q = line.find('"', pos)
                if q < 0:
                    parts.append(line[pos:])
                    i += 1
                    if i == len(lines):
                        raise _CsvSyntax(start + 1, len(cells) + 1, "the quote that opens the cell is never closed "
                                         "(the file ends inside it)", _QUOTE_HINT, i)
                    parts.append("\n")
                    line, pos = lines[i], 0
                    continue
                parts.append(line[pos:q])
                if line.startswith('"', q + 1):
                    parts.append('"')
                    pos = q + 2
                    continue
                pos = q + 1
                break
            cells.append("".join(parts))
            if pos == len(line):
                return cells, i + 1
            if line[pos] != ",":
                raise _CsvSyntax(start + 1, len(cells), f"text after the closing quote of the cell (line {i + 1})",
                                 _QUOTE_HINT, i + 1)
            pos += 1
            continue
        comma = line.find(",", pos)
        cell = line[pos:] if comma < 0 else line[pos:comma]
        if '"' in cell:
            raise _CsvSyntax(start + 1, len(cells) + 1, f"a quote inside an unquoted cell (line {i + 1})",
                             _QUOTE_HINT, i + 1)
        cells.append(cell)
        if comma < 0:
            return cells, i + 1
        pos = comma + 1


def _reads_as_row(line: str, width: int, id_index: int, shape: str) -> str | None:
    """The id when `line` on its own would be a row of the pool: the header's number of cells,
    and where the id column is, an id shaped like the record's own (see _shape)."""
    if '"' in line:
        try:
            cells = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            return None
    else:
        cells = line.split(",")
    if len(cells) != width:
        return None
    try:
        found = clean_id(cells[id_index].strip())
    except ValueError:
        return None
    return found if found is not None and _shape(found) == shape else None


def _shape(eid: str) -> str:
    """An id's shape: runs of digits as 9, runs of letters as A, other characters as they are
    ('E06' and 'E123' are both A9), to tell a swallowed row from a line of free text."""
    return _DIGITS.sub("9", _LETTERS.sub("A", eid))


_DIGITS = re.compile(r"[0-9]+")
_LETTERS = re.compile(r"[^\W\d_]+")


def pool_from_csv(text: str, vocabulary: Vocabulary, file: str) -> Pool:
    lines = _physical_lines(text, file, nul=False)
    problems: list[Problem] = []
    if not lines or not lines[0].strip():
        raise CaseError([problem("pool_invalid", "the pool is empty" if not lines else "the header (line 1) is empty",
                                 file=file, line=1, hint="the first line names the columns: id,name,birth_date,...")])
    try:
        header, after = _record(lines, 0)
    except _CsvSyntax as exc:
        raise CaseError([problem("pool_invalid", f"the header: {exc.message}", file=file, line=1, column=exc.cell,
                                 hint=exc.hint)]) from None
    if after != 1:
        raise CaseError([problem("pool_invalid", "the header runs over several lines", file=file, line=1,
                                 hint="the first line names the columns, each on that line: id,name,birth_date,...")])
    columns: list[tuple[str, Fact] | None] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header, start=1):
        column = raw.strip()
        name = column if column.startswith("expert.") else f"expert.{column}"
        fact = vocabulary.facts.get(name)
        if len(problems) > MAX_PROBLEMS:
            break
        if not column:
            problems.append(problem("pool_invalid", f"column {i} has no name", file=file, line=1, column=i))
            columns.append(None)
            continue
        if fact is None:
            close = vocabulary.closest(name, 1)
            problems.append(problem("pool_invalid", f"column {column!r} is not an expert fact", file=file, line=1,
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
        columns.append((name, fact))
    if ID not in seen:
        problems.append(problem("pool_invalid", "the header has no id column", file=file, line=1,
                                hint="every row needs a unique expert id: add a column `id`"))
    if problems:
        raise _refusal(problems, file)
    specs = [(name, fact, *_converter(fact, name == ID)) for name, fact in columns]  # type: ignore[misc]
    width, id_index = len(specs), seen[ID] - 1
    experts: list[PoolExpert] = []
    rows, i = 0, 1
    while i < len(lines):
        start = i + 1  # 1-based line where the record starts
        try:
            row, i = _record(lines, i)
        except _CsvSyntax as exc:
            # the column is named by the problem's path (its fact) and number
            where = "" if exc.cell <= width else f"cell {exc.cell} (the header has {width}): "
            problems.append(problem("pool_invalid", f"{where}{exc.message}", file=file, line=exc.line,
                                    column=exc.cell, path=specs[exc.cell - 1][0] if exc.cell <= width else None,
                                    hint=exc.hint))
            i = exc.end
            if len(problems) > MAX_PROBLEMS:
                break
            continue
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if rows > MAX_POOL_ROWS:
            problems.append(_too_many_rows(file, start))
            break
        if len(row) != width:
            problems.append(problem("pool_invalid", f"the row has {len(row)} cells, the header {width}"
                                    + (f" (it runs over lines {start}-{i})" if i > start else ""),
                                    file=file, line=start, hint=_QUOTE_HINT if i > start else
                                    "check for an unquoted comma inside a cell"))
        elif i > start and _swallowing(lines, start, i, row, specs, width, id_index, file, problems):
            pass
        else:
            text = lines[start - 1]
            plain = i == start and text.isprintable() and (text.isascii() or unicodedata.is_normalized("NFC", text))
            expert = _csv_row(row, specs, file, start, problems, plain)
            if expert is not None:
                experts.append(expert)
        if len(problems) > MAX_PROBLEMS:
            break
    return _finish(experts, problems, file)


def _swallowing(lines: list[str], start: int, end: int, row: list[str], specs: list,
                width: int, id_index: int, file: str, problems: list) -> bool:
    """Check a record over lines start..end (1-based, both included); True when it is refused:
    a line break outside free text, or a line inside a quoted cell that reads as a row of its own."""
    for k, (cell, (name, fact, _, _)) in enumerate(zip(row, specs)):
        if "\n" in cell and (fact.type != "string" or name == ID):
            problems.append(problem(
                "pool_invalid", f"the cell runs over lines {start}-{end}; a line break is allowed only "
                                f"in a quoted free-text cell", file=file, line=start, column=k + 1, path=name,
                hint=_QUOTE_HINT))
            return True
    try:
        shape = _shape(clean_id(row[id_index].strip()) or "")
    except ValueError:
        shape = ""
    for n in range(start + 1, end + 1):
        eid = _reads_as_row(lines[n - 1], width, id_index, shape)
        if eid is not None:
            k = next((k for k, cell in enumerate(row) if "\n" in cell), 0)
            problems.append(problem(
                "pool_invalid", f"the quoted cell runs over lines {start}-{end} and takes in line {n}, "
                                f"which reads as a row of its own (id '{eid}')", file=file, line=start, column=k + 1,
                path=specs[k][0], hint=_QUOTE_HINT + "; a line break in free text must not leave a line that "
                                                     "reads as a row (else give the pool as JSON lines)"))
            return True
    return False


def _csv_row(row: list[str], specs: list, file: str, line: int, problems: list, plain: bool) -> PoolExpert | None:
    """The expert of one record; `plain` when the record is one line of printable NFC text, so the
    cells need no character checks (the common case, and the fast one)."""
    facts: dict[str, Any] = {}
    if sum(map(len, row)) <= MAX_CELL_CHARS:  # the common case: no cell can be too long
        try:
            for cell, (name, fact, convert, quick) in zip(row, specs):
                if cell or fact.type == "list":  # an empty list cell is an empty list
                    value = (quick if plain else convert)(cell)
                    if value is not None:
                        facts[name] = value
            return _expert(facts, file, line, problems)
        except ValueError:
            pass  # the slow pass below names every bad cell
    bad = False
    for k, (cell, (name, fact, convert, _)) in enumerate(zip(row, specs)):
        try:
            _too_long(cell)
            convert(cell)
        except ValueError as exc:
            problems.append(problem("pool_invalid", str(exc), file=file, line=line, column=k + 1,
                                    path=name, hint=_ID_HINT if name == ID else _HINTS.get(fact.type)))
            bad = True
    return None if bad else _csv_row_unchecked(row, specs, file, line, problems)


def _csv_row_unchecked(row: list[str], specs: list, file: str, line: int, problems: list) -> PoolExpert | None:
    facts = {}
    for cell, (name, fact, convert, _) in zip(row, specs):
        if cell or fact.type == "list":
            value = convert(cell)
            if value is not None:
                facts[name] = value
    return _expert(facts, file, line, problems)


def _expert(facts: dict, file: str, line: int, problems: list) -> PoolExpert | None:
    eid = facts.get(ID)
    if not eid:
        problems.append(problem("pool_invalid", "the row has no expert id", file=file, line=line, path=ID,
                                hint="every row needs a unique id (column `id`)"))
        return None
    return PoolExpert(eid, MappingProxyType(facts), row_digest(facts), line)


def _quick_id(cell: str) -> str | None:
    return clean_id(cell) if " " in cell else cell


def _quick_text(cell: str) -> str | None:
    return cell.strip() or None


def cell_converter(fact: Fact) -> Callable[[str], Any]:
    """How a CSV cell of `fact` becomes a value (None for an absent fact; ValueError with a
    message otherwise): pools and batch CSV inputs read cells alike."""
    return _converter(fact, False)[0]


def _converter(fact: Fact, is_id: bool) -> tuple[Callable[[str], Any], Callable[[str], Any]]:
    """Two ways from cell text to value (None for an absent fact; ValueError with a message
    otherwise): the full one, and a quick one for cells of a line already known to be printable
    NFC text (a piece of an NFC line cut at a comma, quote or line break is NFC too)."""
    if is_id:
        return clean_id, _quick_id
    if fact.type == "string":
        return clean_text, _quick_text

    def typed(parse: Callable[[str], Any]) -> tuple[Callable[[str], Any], Callable[[str], Any]]:
        def convert(cell: str) -> Any:
            value = clean_token(cell)
            return None if value is None else parse(value)

        def quick(cell: str) -> Any:
            value = cell.strip()
            return parse(value) if value else None
        return convert, quick
    if fact.type == "date":
        return typed(_date)
    if fact.type == "datetime":
        return typed(_datetime)
    if fact.type == "integer":
        return typed(_integer)
    if fact.type == "boolean":
        def boolean(cell: str) -> bool:
            try:
                return BOOLEANS[cell.lower()]
            except KeyError:
                raise ValueError(f"expected true or false, got {cell!r}") from None
        return typed(boolean)
    if fact.type == "enum":
        values = frozenset(fact.values)

        def enum(cell: str) -> str:
            if cell not in values:
                import difflib
                close = difflib.get_close_matches(cell, fact.values, n=1)
                raise ValueError(f"{cell!r} is not one of {', '.join(fact.values)}"
                                 + (f" (did you mean '{close[0]}'?)" if close else ""))
            return cell
        return typed(enum)
    item = {"date": _date, "datetime": _datetime}.get(fact.items or "string", str)

    def parts(cell: str) -> list[str]:
        for sep in LIST_SEPARATORS[1:]:
            if sep in cell:
                cell = cell.replace(sep, LIST_SEPARATORS[0])
        return cell.split(LIST_SEPARATORS[0])

    def as_list(cell: str) -> list:
        out = []
        for i, part in enumerate(parts(cell) if cell else (), start=1):
            try:
                token = clean_token(part)
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
            if token is not None:
                out.append(item(token))
        return out

    def quick_list(cell: str) -> list:
        if not cell:
            return []
        return [item(part) for part in map(str.strip, parts(cell)) if part]
    return as_list, quick_list


def _date(cell: str) -> str:
    try:
        return canonical(cell)
    except DateError:
        raise ValueError(f"expected a date written YYYY-MM-DD, got {cell!r}") from None


def _datetime(cell: str) -> str:
    try:
        return canonical_datetime(cell)
    except DateError as exc:
        raise ValueError(str(exc)) from None  # names the form (YYYY-MM-DDTHH:MM[:SS]) or what is wrong


def _integer(cell: str) -> int:
    body = cell[1:] if cell[:1] in "+-" else cell
    if not body.isascii() or not body.isdigit():
        raise ValueError(f"expected a whole number, got {cell!r}")
    if len(body) > MAX_INTEGER_DIGITS:
        raise ValueError(f"a whole number of {len(body):,} digits; at most {MAX_INTEGER_DIGITS} are read")
    return int(cell)


_BAD = object()


def _refusal(problems: list[Problem], file: str) -> CaseError:
    """The problems sorted by position, the first MAX_PROBLEMS shown and the rest counted."""
    shown = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(problem("pool_invalid", f"... and more problems after line {shown[-1].line}; "
                                             f"fix these and check again", file=file))
    return CaseError(shown)


def _finish(experts: list[PoolExpert], problems: list[Problem], file: str) -> Pool:
    by_id: dict[str, PoolExpert] = {}
    for e in experts:
        if e.id in by_id:
            problems.append(problem("pool_invalid", f"expert id '{e.id}' is also on line {by_id[e.id].line}",
                                    file=file, line=e.line, path=ID,
                                    hint="ids must be unique in a pool (they are compared after Unicode NFC "
                                         "normalisation)"))
        else:
            by_id[e.id] = e
    if problems:
        raise _refusal(problems, file)
    return Pool(file, tuple(experts), MappingProxyType(by_id), pool_digest(e.digest for e in experts))
