"""Deciding many cases at once: cases in, one record per case out, in input order.

The policies are loaded once (a Registry) and every case is decided against them, so a
batch pays the ~0.5 s of loading once instead of once per case.

Input (a file, or "-" for stdin), read as a stream; no line may exceed MAX_LINE bytes:

- JSON lines (`.jsonl`, `.ndjson`, `.json`, or anything whose first non-blank line starts
  with `{`): one JSON object per line, either
    * the case itself: `{"expert": {"birth_date": "1960-05-01", ...}}` (nested or dotted
      fact names, as `decide` accepts), decided with the defaults; or
    * an envelope: an object with a `case` key, and optionally `policy`, `decision`,
      `as_of` (YYYY-MM-DD) and `version`, each overriding the default for that line:
      `{"policy": "xj-iit-expert-pool", "decision": "entry", "as_of": "2026-11-23",
      "case": {...}}`. No other key is allowed in an envelope; null or "" takes the default.
  A blank line is skipped and gives no record.
- CSV (`.csv`, or a first line not starting with `{`): a header row naming the columns,
  then one case per row. A column is a dotted fact name (`expert.birth_date`) or one of
  `policy`, `decision`, `as_of`, `version` (per-row overrides of the defaults; an empty cell
  takes the default). An empty fact cell is an absent fact. A cell is converted by the type
  the row's policy declares for the fact (see vocabulary.py): integer `12`, boolean
  `true`/`false` (or 是/否), date `2026-11-23`, enum and string as written (surrounding
  spaces dropped), list items separated by `;` (or `；`), events as a JSON array. A cell
  that cannot be converted refuses its row (an error record naming the line, column and
  fact). A row of empty cells is skipped. CSV and JSON lines stating the same facts give
  the same verdicts, byte for byte.

Output: one record per case, in input order, one JSON object per line (UTF-8):

- a verdict: exactly the bytes of `decide --compact` for that case alone
  (`Verdict.dumps(compact=True)`), so each line validates against
  schemas/verdict.schema.json; it always has the key `outcome` and never the key `error`;
- an error record: `{"error": "<code>", "line": N, "problems": [...]}`, the shape of the
  command line's JSON errors (`EngineError.to_json()`) plus `line`, the input line the case
  starts on (1-based, physical lines of the file, the CSV header being line 1); each problem
  has code, message, file, line and, where known, column and path (the fact).
A consumer tells them apart by the key `error`. The n-th record answers the n-th case of
the input (blank lines and empty CSV rows are not cases); verdicts carry no line number so
they stay identical to single decisions, and error records carry one for people.
"""
from __future__ import annotations

import codecs
import csv
import datetime as _dt
import gc
import io
import json
import os
import signal
import stat
import sys
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

from .evaluate.engine import as_date, decide, decide_governing
from .evaluate.engine import decide_many as _decide_cases
from .errors import CaseError, EngineError, OutputError, Problem, problem
from .inputs import parse_json
from .selection.pool import cell_converter  # the pool's CSV cell types: one convention for both
from .policy.registry import Registry, default_policy_dir
from .textio import ReadFailure, _size, decode, display_name
from .evaluate.verdict import dumps

MAX_LINE = 1 << 20  # bytes in one input line (a JSON case or a CSV row)
CHUNK_CASES = 256  # cases sent to a worker at once
CHUNK_BYTES = 4 << 20  # ... or fewer when their lines are long
WINDOW_PER_JOB = 4  # chunks in flight per worker: bounds memory whatever the input's length

ENVELOPE = ("policy", "decision", "as_of", "version")
DECIDED, UNDETERMINED, REFUSED = "decided", "undetermined", "refused"
EXIT_REFUSED = 4  # some line was refused (an error record)
EXIT_INTERRUPTED = 130  # SIGINT: 128 + 2
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away: 128 + SIGPIPE


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a line that names no policy, decision, date or version is decided with."""

    policy: str | None = None
    decision: str | None = None
    as_of: str | None = None  # YYYY-MM-DD; the library never reads the clock
    version: str | None = None


class Record(NamedTuple):
    """One output line: `text` (JSON, ending in a newline), its case's input `line`, and
    `status`: decided, undetermined (a verdict whose outcome is undetermined) or refused."""

    line: int
    text: str
    status: str


# ---------------------------------------------------------------------------------------
# Policies, once per process


_REGISTRIES: dict[tuple[str, ...], Registry] = {}


def policy_dirs(dirs: Iterable[str | os.PathLike] | str | os.PathLike | None) -> tuple[str, ...]:
    """Policy folders as text, as given (the key of the per-process cache); the bundled
    policies/ when none. Give absolute paths to workers that may run in another folder."""
    if dirs is None:
        dirs = ()
    elif isinstance(dirs, (str, os.PathLike)):
        dirs = (dirs,)
    return tuple(os.fspath(d) for d in dirs) or (str(default_policy_dir()),)


def registry_for(dirs: Iterable[str | os.PathLike] | str | os.PathLike | None) -> Registry:
    """The policies under `dirs`, loaded once per process (PolicyError if they do not load).

    Worker processes (a multiprocessing pool, Dask workers) call this on their first task;
    a process forked after the parent loaded them finds them already here."""
    key = policy_dirs(dirs)
    registry = _REGISTRIES.get(key)
    if registry is None:
        registry = _REGISTRIES[key] = Registry.load(*key)
    return registry


# ---------------------------------------------------------------------------------------
# One case -> one record


def _refuse(message: str, **where) -> CaseError:
    return CaseError([problem("case_invalid", message, **where)])


class Decider:
    """Decides the cases of one input: its defaults, its file name and (CSV) its header.

    `record(line, payload)` turns one input item into one output line. A payload is a
    mapping (the case, or an envelope), JSON text or bytes (a JSON line), a list of CSV
    cells (with `columns` set), or a Problem found while reading the line."""

    def __init__(self, registry: Registry, defaults: Defaults = Defaults(), file: str | None = None,
                 columns: tuple[str, ...] | None = None):
        self.registry = registry
        self.defaults = defaults
        self.file = file
        self.columns = columns
        self._converters: dict[tuple[int, str], Callable[[str], Any] | None] = {}
        self._policies: dict[tuple[str, str | None, str], Any] = {}

    # -- reading one item

    def _json(self, line: int, payload: Any) -> tuple[dict, Any]:
        if isinstance(payload, (bytes, bytearray)):
            try:
                payload = decode(bytes(payload), self.file or "<input>", "case_invalid", "line")
            except ReadFailure as exc:
                p = exc.problem
                raise CaseError([Problem(p.code, p.message, self.file, line, p.column, None, p.hint)]) from None
        if isinstance(payload, str):
            payload = parse_json(payload, self.file, "case_invalid", first_line=line)
        if not isinstance(payload, Mapping):
            raise _refuse("a line is a JSON object: the case, or {\"case\": {...}} with policy, decision, as_of",
                          file=self.file, line=line, path="(case)")
        if "case" not in payload:
            named = [k for k in ENVELOPE if k in payload]
            if named:
                raise _refuse(f"the line names its {', '.join(named)} but has no \"case\"", file=self.file, line=line,
                              path=named[0], hint='put the facts under "case": {"policy": ..., "case": {"expert": ...}}')
            return {}, payload
        meta = {}
        for key, value in payload.items():
            if key == "case":
                continue
            if key not in ENVELOPE:
                raise _refuse(f"'{key}' is not a field of a batch line", file=self.file, line=line, path=str(key),
                              hint="a line is {\"case\": {...}} with optional policy, decision, as_of, version")
            if value is not None and not isinstance(value, str) and not (key == "as_of" and isinstance(value, _dt.date)):
                raise _refuse(f"{key} must be text, got {value!r}", file=self.file, line=line, path=key,
                              hint="as_of and version are quoted: \"2026-11-23\"")
            if value is not None and value != "":
                meta[key] = value
        return meta, payload["case"]

    def _converter(self, policy, name: str):
        key = (id(policy), name)
        try:
            return self._converters[key]
        except KeyError:
            pass
        fact = policy.vocabulary.facts.get(name)
        convert: Callable[[str], Any] | None
        if fact is None:
            convert = None  # left as text: the case check names the unknown fact
        elif fact.type == "events":
            def convert(cell: str) -> Any:
                try:
                    value = json.loads(cell)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"an event history is a JSON array; not valid JSON: {exc.msg}") from None
                if not isinstance(value, list):
                    raise ValueError("an event history is a JSON array of {\"kind\": ..., \"date\": ...}")
                return value
        else:
            convert = cell_converter(fact)
        self._converters[key] = convert
        return convert

    def _csv(self, line: int, cells: list[str]) -> tuple[dict[str, str], list[tuple[int, str, str]]]:
        columns = self.columns or ()
        if len(cells) != len(columns):
            raise _refuse(f"the row has {len(cells)} cells, the header {len(columns)}", file=self.file, line=line,
                          hint="check for an unquoted comma inside a cell")
        meta: dict[str, str] = {}
        facts: list[tuple[int, str, str]] = []
        for i, (name, cell) in enumerate(zip(columns, cells), start=1):
            cell = cell.strip()
            if not cell:
                continue
            if name in ENVELOPE:
                meta[name] = cell
            else:
                facts.append((i, name, cell))
        return meta, facts

    def _convert_row(self, line: int, policy, facts: list[tuple[int, str, str]]) -> dict:
        case: dict[str, Any] = {}
        problems = []
        for column, name, cell in facts:
            convert = self._converter(policy, name)
            if convert is None:
                case[name] = cell
                continue
            try:
                case[name] = convert(cell)
            except ValueError as exc:
                kind = policy.vocabulary.facts[name].type
                problems.append(problem("case_invalid", str(exc), file=self.file, line=line, column=column, path=name,
                                        hint=_CELL_HINTS.get(kind)))
        if problems:
            raise CaseError(problems)
        return case

    # -- deciding

    def _policy(self, policy_id: str, version: str | None, day: _dt.date):
        key = (policy_id, version, day.isoformat())
        found = self._policies.get(key)
        if found is None:
            found = (self.registry.get(policy_id, version) if version else self.registry.in_force(policy_id, day))
            if len(self._policies) > 4096:
                self._policies.clear()
            self._policies[key] = found
        return found

    def verdict(self, line: int, payload: Any):
        """The Verdict for one item (EngineError, located at `line`, when it is refused)."""
        policy, decision, case, day, governed = self._prepare(line, payload)
        if governed:  # the version that governs the case
            return decide_governing(self.registry, policy.id, decision, case, day, case_file=self.file)[0]
        return decide(policy, decision, case, day, case_file=self.file)

    def _prepare(self, line: int, payload: Any) -> tuple:
        """(policy, decision, case, day, whether a governing_version rule chooses the version) of
        one item; EngineError, located at `line`, when it is refused before any deciding."""
        if isinstance(payload, Problem):
            raise CaseError([payload])
        rows = None
        if isinstance(payload, list):
            meta, rows = self._csv(line, payload)
            case = None
        else:
            meta, case = self._json(line, payload)
        d = self.defaults
        policy_id = meta.get("policy", d.policy)
        decision = meta.get("decision", d.decision)
        as_of = meta.get("as_of", d.as_of)
        version = meta.get("version", d.version)
        missing = [n for n, v in (("policy", policy_id), ("decision", decision), ("as_of", as_of)) if not v]
        if missing:
            raise _refuse(f"no {', '.join(missing)} for this case", file=self.file, line=line, path=missing[0],
                          hint=f"give --{missing[0].replace('_', '-')} for every line, or a \"{missing[0]}\" "
                               "on the line (a column in CSV)")
        assert policy_id is not None  # refused above when missing
        day = as_date(as_of)
        policy = self._policy(policy_id, version, day)
        if rows is not None:
            case = self._convert_row(line, policy, rows)
        governed = not version and decision is not None and policy.version_rule(decision) is not None
        return policy, decision, case, day, governed

    def record(self, line: int, payload: Any) -> Record:
        try:
            verdict = self.verdict(line, payload)
        except EngineError as exc:
            return Record(line, error_record(exc, line, self.file), REFUSED)
        return self._record(line, verdict)

    def _record(self, line: int, verdict: Any) -> Record:
        if isinstance(verdict, EngineError):
            return Record(line, error_record(verdict, line, self.file), REFUSED)
        return Record(line, verdict.dumps(compact=True), UNDETERMINED if verdict.outcome == "undetermined" else DECIDED)

    def records(self, items: list[tuple[int, Any]]) -> list[Record]:
        """record() for each item, in order: runs of items with the same policy version, decision
        and date (and no governing_version rule to apply) are decided together by
        engine.decide_many; the records are the same as record() gives one by one."""
        out: list[Record | None] = [None] * len(items)
        run: list[tuple[int, int, Any]] = []  # (index, line, case) of the run being gathered
        shared: list = [None, None, None]  # the run's policy, decision and day

        def flush() -> None:
            if not run:
                return
            policy, decision, day = shared
            try:
                verdicts = list(_decide_cases(policy, decision, [c for _, _, c in run], day, case_file=self.file))
            except EngineError as exc:  # the version or the decision: every case of the run is refused alike
                verdicts = [exc] * len(run)
            for (i, line, _), verdict in zip(run, verdicts):
                out[i] = self._record(line, verdict)
            run.clear()

        for i, (line, payload) in enumerate(items):
            try:
                policy, decision, case, day, governed = self._prepare(line, payload)
            except EngineError as exc:
                flush()
                out[i] = Record(line, error_record(exc, line, self.file), REFUSED)
                continue
            if governed:
                flush()
                try:
                    out[i] = self._record(line, decide_governing(self.registry, policy.id, decision, case, day,
                                                                 case_file=self.file)[0])
                except EngineError as exc:
                    out[i] = self._record(line, exc)
                continue
            if run and (policy is not shared[0] or decision != shared[1] or day != shared[2]):
                flush()
            shared[:] = [policy, decision, day]
            run.append((i, line, case))
        flush()
        return [r for r in out if r is not None]  # every slot is filled

    def chunk(self, items: list[tuple[int, Any]]) -> tuple[bytes, int, int, int, int | None]:
        """Several items at once: their lines joined (UTF-8), counts (decided, undetermined,
        refused) and the first refused line."""
        texts = []
        counts = {DECIDED: 0, UNDETERMINED: 0, REFUSED: 0}
        first = None
        for r in self.records(items):
            line = r.line
            texts.append(r.text)
            counts[r.status] += 1
            if first is None and r.status == REFUSED:
                first = line
        return "".join(texts).encode("utf-8"), counts[DECIDED], counts[UNDETERMINED], counts[REFUSED], first


_CELL_HINTS = {
    "date": "write dates as YYYY-MM-DD",
    "datetime": "write times as YYYY-MM-DDTHH:MM, local time without a zone",
    "boolean": "write true or false (or 是/否)",
    "integer": "write a whole number",
    "list": "separate the items with ;",
    "events": 'a JSON array in the cell: [{"kind": ..., "date": "2026-01-05"}]',
}


def error_record(exc: EngineError, line: int, file: str | None = None) -> str:
    """`{"error": code, "line": N, "problems": [...]}` as one line; every problem is located
    in `file` at `line` unless it already says where it is."""
    problems = []
    for p in exc.problems:
        out = p.to_json()
        if p.file is None and file is not None:
            out["file"] = file
        if p.line is None:
            out["line"] = line
        problems.append(_ordered(out))
    return dumps({"error": exc.code, "line": line, "problems": problems}, compact=True)


def _ordered(p: dict) -> dict:
    return {k: p[k] for k in ("code", "message", "file", "line", "column", "path", "hint") if k in p}


def decide_many(items: Iterable[Any], registry: Registry, defaults: Defaults = Defaults(), *,
                file: str | None = None, start: int = 1) -> Iterator[Record]:
    """Decide every item, in order: a case (mapping), an envelope {"case": ..., "policy": ...,
    "decision": ..., "as_of": ..., "version": ...}, or a JSON line (str or bytes). The n-th item
    is numbered `start + n` in error records. A blank text item gives no record."""
    decider = Decider(registry, defaults, file)
    numbered = ((n, item) for n, item in enumerate(items, start=start)
                if not (isinstance(item, (str, bytes, bytearray)) and not item.strip()))
    for run in _runs(numbered):
        yield from decider.records(run)


def _runs(items: Iterable[tuple[int, Any]], size: int = 256) -> Iterator[list[tuple[int, Any]]]:
    """The items in lists of at most `size`, in order (each decided together, Decider.records)."""
    run: list[tuple[int, Any]] = []
    for item in items:
        run.append(item)
        if len(run) >= size:
            yield run
            run = []
    if run:
        yield run


# ---------------------------------------------------------------------------------------
# Reading an input: a stream of (line, payload), bounded in line length


class Input:
    """A cases file (or stdin) read line by line; `items()` yields (line, payload)."""

    def __init__(self, source: str | os.PathLike, fmt: str | None = None):
        self.name = display_name(source)
        self.total: int | None = None  # bytes, when the input is a regular file
        self.consumed = 0
        if str(source) == "-":
            self._fh, self._close = sys.stdin.buffer, False
        else:
            try:
                self._fh, self._close = open(source, "rb"), True
            except OSError as exc:
                raise _refuse(f"cannot read the cases: {exc.strerror or exc}", file=self.name) from None
        try:
            st = os.fstat(self._fh.fileno())
            if stat.S_ISREG(st.st_mode):
                self.total = st.st_size
        except (OSError, ValueError):  # a stream without a descriptor: size unknown
            pass
        self._lines = self._raw_lines()
        self._pushed: list[tuple[int, bytes | Problem]] = []
        suffix = Path(str(source)).suffix.lower()
        self.format = fmt or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(suffix)
        if self.format is None:
            self.format = self._sniff()
        self.columns: tuple[str, ...] | None = None
        self.header_line = 0
        if self.format == "csv":
            self._csv = self._csv_records()
            self.columns = self._header()

    def close(self) -> None:
        if self._close:
            self._fh.close()

    def _raw_lines(self) -> Iterator[tuple[int, bytes | Problem]]:
        read = self._fh.readline
        n = 0
        while True:
            raw = read(MAX_LINE + 1)
            if not raw:
                return
            n += 1
            self.consumed += len(raw)
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                while True:  # skip the rest of the line without holding it
                    more = read(1 << 16)
                    self.consumed += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                yield n, problem("case_invalid", f"the line is longer than {_size(MAX_LINE)}", file=self.name,
                                 line=n, hint="one case per line; split what is not one case")
                continue
            yield n, raw

    def _sniff(self) -> str:
        for n, raw in self._lines:
            self._pushed.append((n, raw))
            if isinstance(raw, bytes) and raw.strip():
                return "jsonl" if raw.lstrip(codecs.BOM_UTF8).lstrip().startswith(b"{") else "csv"
        return "jsonl"

    def _all_lines(self) -> Iterator[tuple[int, bytes | Problem]]:
        while self._pushed:
            yield self._pushed.pop(0)
        yield from self._lines

    # -- JSON lines

    def _jsonl(self) -> Iterator[tuple[int, Any]]:
        for n, raw in self._all_lines():
            if isinstance(raw, bytes) and not raw.strip():
                continue
            yield n, raw

    # -- CSV

    def _text_lines(self, bad: dict[int, Problem]) -> Iterator[str]:
        """The lines as text for the CSV reader; a line that is too long or not UTF-8 is
        given as an empty line and noted in `bad`, to refuse the row it belongs to."""
        for n, raw in self._all_lines():
            if isinstance(raw, Problem):
                bad[n] = raw
                yield "\n"
                continue
            try:
                yield decode(raw, self.name, "case_invalid", "line")
            except ReadFailure as exc:
                p = exc.problem
                bad[n] = Problem(p.code, p.message, self.name, n, p.column, None, p.hint)
                yield "\n"

    def _csv_records(self) -> Iterator[tuple[int, list[str] | Problem]]:
        bad: dict[int, Problem] = {}
        reader = csv.reader(self._text_lines(bad))
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, problem("case_invalid", f"not valid CSV: {exc}", file=self.name, line=start)
                continue
            if bad:
                found = [(k, bad.pop(k)) for k in sorted(bad) if k <= reader.line_num]  # k: the problem's line
                if found:
                    yield found[0]
                    continue
            if not any(cell.strip() for cell in row):
                continue
            yield start, row

    def _header(self) -> tuple[str, ...] | None:
        for n, row in self._csv:
            if isinstance(row, Problem):
                raise CaseError([row])
            self.header_line = n
            columns = tuple(cell.strip() for cell in row)
            problems = []
            seen: dict[str, int] = {}
            for i, name in enumerate(columns, start=1):
                if not name:
                    problems.append(problem("case_invalid", f"column {i} has no name", file=self.name, line=n,
                                            column=i, hint="the header names a fact (expert.birth_date) or policy, "
                                                           "decision, as_of, version"))
                elif name in seen:
                    problems.append(problem("case_invalid", f"column '{name}' appears twice (also column {seen[name]})",
                                            file=self.name, line=n, column=i))
                else:
                    seen[name] = i
            if problems:
                raise CaseError(problems)
            return columns
        return None

    def items(self) -> Iterator[tuple[int, Any]]:
        """(line, payload) for every case: bytes (a JSON line), a list of cells (CSV) or a Problem."""
        if self.format == "csv":
            return self._csv
        return self._jsonl()


def decide_file(source: str | os.PathLike, registry: Registry, defaults: Defaults = Defaults(),
                fmt: str | None = None) -> Iterator[Record]:
    """Decide every case of a JSON lines or CSV file ("-" for stdin), in one process, in order.

    CaseError when the input cannot be read at all (a missing file, a bad CSV header)."""
    inp = Input(source, fmt)
    try:
        decider = Decider(registry, defaults, inp.name, inp.columns)
        for run in _runs(inp.items()):
            yield from decider.records(run)
    finally:
        inp.close()


# ---------------------------------------------------------------------------------------
# The command line's batch: processes, ordered output, progress, summary, Ctrl-C


_WORKER: Decider | None = None


def _worker_init(dirs: tuple[str, ...], defaults: Defaults, file: str, columns) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the batch and ends its workers
    global _WORKER
    _WORKER = Decider(registry_for(dirs), defaults, file, columns)
    gc.freeze()  # the loaded policies: out of the collector's scans


def _worker_chunk(items):
    return _WORKER.chunk(items)


def _chunks(items: Iterable[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    chunk: list = []
    size = 0
    for item in items:
        chunk.append(item)
        payload = item[1]
        size += len(payload) if isinstance(payload, (bytes, str)) else sum(map(len, payload)) if isinstance(payload, list) else 0
        if len(chunk) >= CHUNK_CASES or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Shield:
    """SIGINT raises KeyboardInterrupt, except while a chunk of output is written: then it
    is held until the write is whole, so stdout always ends with a complete line."""

    def __init__(self):
        self.inside = False
        self.held = False
        self.previous = None

    def handler(self, signum, frame):
        if self.inside:
            self.held = True
            return
        raise KeyboardInterrupt

    def install(self) -> bool:
        try:
            self.previous = signal.signal(signal.SIGINT, self.handler)
            return True
        except ValueError:  # not the main thread: leave signals alone
            return False

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    @contextmanager
    def whole(self):
        self.inside = True
        try:
            yield
        finally:
            self.inside = False
        if self.held:
            raise KeyboardInterrupt


class _Progress:
    """A one-line display on stderr, only when stderr is a terminal."""

    def __init__(self, err, total: int | None, enabled: bool):
        self.err, self.total, self.enabled = err, total, enabled
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, done: int, consumed: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        text = f"{done:,} cases, {done / elapsed:,.0f}/s"
        if self.total and consumed:
            share = min(consumed / self.total, 1.0)
            left = elapsed * (1 - share) / share if share > 0 else 0
            text += f", {share:.0%} of the input, about {_duration(left)} left"
        self.err.write("\r" + text + "\x1b[K")
        self.err.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.err.write("\r\x1b[K")
            self.err.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


@dataclass
class Summary:
    decided: int = 0
    undetermined: int = 0
    refused: int = 0
    first_refused: int | None = None
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def cases(self) -> int:
        return self.decided + self.undetermined + self.refused

    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_REFUSED if self.refused else 0

    def render(self) -> str:
        rate = self.cases / self.seconds if self.seconds > 0 else 0.0
        head = "interrupted after" if self.interrupted else "done:"
        text = (f"policy-engine: {head} {self.cases:,} cases: {self.decided:,} decided, "
                f"{self.undetermined:,} undetermined, {self.refused:,} refused")
        if self.first_refused is not None:
            text += f" (first refused: line {self.first_refused})"
        return text + f"; {self.seconds:.1f} s, {rate:,.0f} cases/s"


POOL_STOP_SECONDS = 10


def _end_pool(pool) -> None:
    """Stop the workers of a batch that ends early (interrupted, its reader gone, an output error).

    multiprocessing's Pool.terminate() stops the workers, then waits for its task feeder thread;
    that thread can be blocked for good writing a large chunk into the workers' pipe (no worker
    reads it any more, and this process still holds the pipe's read end). So terminate() runs in a
    daemon thread and is given POOL_STOP_SECONDS: the workers are stopped by then, and a feeder
    still blocked is a daemon thread that does not keep the process from ending.
    """
    import threading
    stopper = threading.Thread(target=pool.terminate, name="end-batch-workers", daemon=True)
    stopper.start()
    stopper.join(POOL_STOP_SECONDS)
    if not stopper.is_alive():
        pool.join()


def run_batch(source: str, dirs: Iterable[str] | None, defaults: Defaults, jobs: int | None = None,
              out=None, err=None, progress: bool | None = None) -> int:
    """Decide every case of `source` and write the records to `out` (binary); return the exit
    code: 0 all decided (undetermined included), 4 some line refused, 130 interrupted, or the
    code of an error that stops the whole batch (3 policies, 4 input, 5 unknown --policy or
    --version, 73 output). The summary (and, on a terminal, progress) go to `err`."""
    out = out if out is not None else _binary_stdout()
    err = err if err is not None else sys.stderr
    jobs = jobs or default_jobs()
    started = time.monotonic()
    summary = Summary()
    shield = _Shield()
    shielded = shield.install()
    inp = pool = show = None

    def emit(result) -> None:
        data, decided, undetermined, refused, first = result
        try:
            if shielded:
                with shield.whole():
                    out.write(data)
                    out.flush()
            else:
                out.write(data)
                out.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError([problem("output_unwritable", f"cannot write the records: {exc.strerror or exc}",
                                       hint="check the disk has room")]) from None
        summary.decided += decided
        summary.undetermined += undetermined
        summary.refused += refused
        if summary.first_refused is None and first is not None:
            summary.first_refused = first
        assert show is not None and inp is not None  # results come only once the input and progress are open
        show.update(summary.cases, inp.consumed)

    # A reader that goes away must reach this function as BrokenPipeError, so the workers are
    # ended with it; the command line lets SIGPIPE kill the process, which would orphan them.
    sigpipe = _ignore_sigpipe()
    try:
        try:
            dirs = policy_dirs(dirs)
            registry = registry_for(dirs)
            if defaults.policy:
                registry.versions(defaults.policy)
                if defaults.version:
                    registry.get(defaults.policy, defaults.version)
            if defaults.as_of:
                as_date(defaults.as_of)
            inp = Input(source)
        except EngineError as exc:
            return _stop(exc, out, err)
        show = _Progress(err, inp.total, err.isatty() if progress is None else progress)
        if jobs <= 1:
            decider = Decider(registry, defaults, inp.name, inp.columns)
            gc.freeze()  # the loaded policies: out of the collector's scans while the batch runs
            try:
                for chunk in _chunks(inp.items()):
                    emit(decider.chunk(chunk))
            finally:
                gc.unfreeze()
        else:
            import multiprocessing
            # fork: the workers start with the policies already loaded; elsewhere each loads them
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            pool = context.Pool(jobs, _worker_init, (dirs, defaults, inp.name, inp.columns))
            pending: deque = deque()
            window = jobs * WINDOW_PER_JOB
            for chunk in _chunks(inp.items()):
                pending.append(pool.apply_async(_worker_chunk, (chunk,)))
                while pending and (len(pending) >= window or pending[0].ready()):
                    emit(pending.popleft().get())
            while pending:
                emit(pending.popleft().get())
            pool.close()
            pool.join()
            pool = None
    except KeyboardInterrupt:
        summary.interrupted = True
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OutputError as exc:
        if show is not None:
            show.clear()
        return _stop(exc, None, err)
    finally:
        if pool is not None:
            _end_pool(pool)
        shield.restore()
        if sigpipe is not None:
            signal.signal(signal.SIGPIPE, sigpipe)
        if inp is not None:
            inp.close()
    if show is not None:
        show.clear()
    summary.seconds = time.monotonic() - started
    err.write(summary.render() + "\n")
    err.flush()
    return summary.exit_code()


def _ignore_sigpipe():
    """SIGPIPE ignored while the batch runs (main thread only); the previous handler, or None."""
    import threading
    if not hasattr(signal, "SIGPIPE") or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def _binary_stdout():
    sys.stdout.flush()
    return getattr(sys.stdout, "buffer", sys.stdout)


def _silence_stdout() -> None:
    try:  # the reader went away: nothing more can be written, and exiting must not try again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _stop(exc: EngineError, out, err) -> int:
    """An error that stops the whole batch: JSON on stdout (one line), the problems on stderr."""
    if out is not None:
        out.write(dumps(exc.to_json(), compact=True).encode("utf-8"))
        out.flush()
    for p in exc.problems:
        err.write(p.render() + "\n")
    err.write("policy-engine: nothing decided\n")
    err.flush()
    return exc.exit_code


# ---------------------------------------------------------------------------------------
# Dask


def _decide_partition(items: Iterable[Any], start: int, dirs: tuple[str, ...], defaults: Defaults,
                      file: str | None) -> list[str]:
    decider = Decider(registry_for(dirs), defaults, file)
    numbered = [(n, item) for n, item in enumerate(items, start=start)
                if not (isinstance(item, (str, bytes, bytearray)) and not item.strip())]
    out = [r.text[:-1] for r in decider.records(numbered)]
    return out


def _decide_path(path: str, dirs: tuple[str, ...], defaults: Defaults) -> list[str]:
    return [r.text[:-1] for r in decide_file(path, registry_for(dirs), defaults)]


def _count(items) -> list[int]:
    return [sum(1 for _ in items)]


def dask_decide(source, policies_dir=None, *, policy: str | None = None, decision: str | None = None,
                as_of: str | None = None, version: str | None = None):
    """Decide cases on a Dask cluster: a `dask.bag.Bag` of records, in input order.

    `source` is either
      - a path, or a list of paths, of JSON lines or CSV files: one partition per file, its
        records exactly those of `policy-engine decide --cases FILE` (error records name the
        file and its line); or
      - a `dask.bag.Bag` whose items are JSON lines (str, as `dask.bag.read_text` gives) or
        cases and envelopes (mappings): one output partition per input partition; the `line`
        of an error record is the item's 1-based position in the whole bag (the partition
        lengths are counted first, one extra pass).
    Every record is one JSON text without its newline: a verdict exactly as
    `Verdict.dumps(compact=True)` (without the final newline) or an error record. Write them
    with `.to_textfiles("out.*.jsonl", last_endline=True)`, or `"\\n".join(bag.compute())`.

    Each worker process loads the policies itself, once, on its first partition (a cache in
    this module keyed by the policy folders): nothing loaded is pickled or sent. The policy
    folders must be readable at the same paths on every worker. The defaults (policy,
    decision, as_of YYYY-MM-DD, version) apply to records that do not name their own.
    """
    import dask
    import dask.bag as db

    dirs = policy_dirs(policies_dir)
    defaults = Defaults(policy, decision, as_of, version)
    if isinstance(source, db.Bag):
        counts = source.map_partitions(_count).compute()
        parts, start = [], 1
        for part, count in zip(source.to_delayed(), counts, strict=True):
            parts.append(dask.delayed(_decide_partition, pure=True)(part, start, dirs, defaults, None))
            start += count
        return db.from_delayed(parts)
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    return db.from_delayed([dask.delayed(_decide_path, pure=True)(str(p), dirs, defaults) for p in paths])
