"""Reading the documents a caller hands the engine: cases, draw and panel requests, answers, receipts.

One reader for every front end (the command line today; a batch or an HTTP service
tomorrow), so each refuses the same inputs with the same located problems:

- a path, or "-" for stdin, read through `textio` (at most `MAX_BYTES`, so /dev/zero or an
  endless pipe is refused instead of filling memory); bytes from elsewhere go to `load`;
- UTF-8 only, a bad byte located by line and column;
- JSON (a `.json` name, or text starting with `{` or `[`) or YAML (through `yamlio`);
  duplicate keys refused in both;
- nesting deeper than `yamlio.MAX_DEPTH` refused, with the line and column where it goes too deep;
- strings (keys and values) that are not Unicode text (a lone surrogate such as "\\ud800",
  which JSON and YAML escapes can spell) refused, with the path of the value;
- a receipt must be a mapping naming its policy's id and version before the policy is
  looked up.

Every refusal is a `CaseError` (exit code 4) whose problems carry the document's code:
`case_invalid` for a case, `request_invalid` for a draw or panel request or answers,
`receipt_invalid` for a receipt. Pools have their own reader (pool.py).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
from typing import Any
from typing import overload

from . import textio
from .errors import CaseError, OutputError, Problem, problem
from .yamlio import MAX_BYTES, Document, YamlProblem, check_json_nesting, parse


CASE, REQUEST, ANSWERS, RECEIPT = "case", "request", "answers", "receipt"
_CODES = {CASE: "case_invalid", REQUEST: "request_invalid", ANSWERS: "request_invalid", RECEIPT: "receipt_invalid"}
_WHAT = {CASE: "case", REQUEST: "request", ANSWERS: "answers", RECEIPT: "receipt"}


def read(source: str | os.PathLike, kind: str = REQUEST, what: str | None = None) -> Document:
    """The document at `source` (a path, or "-" for stdin), YAML or JSON, checked as described above.

    `kind` is one of CASE, REQUEST, ANSWERS, RECEIPT: it picks the error code; `what`
    names the document in messages (default: the kind, e.g. "draw request").
    """
    code, what = _CODES[kind], what or _WHAT[kind]
    try:
        raw = textio.read_bytes(source, MAX_BYTES, code, what)
    except textio.ReadFailure as exc:
        raise _refusal(code, exc.problem) from None
    return load(raw, _clean(textio.display_name(source)), kind, what)  # a name that is not UTF-8 printable


def load(raw: bytes | str, name: str, kind: str = REQUEST, what: str | None = None) -> Document:
    """`read` for a document already in memory (bytes as received, or text); `name` locates problems."""
    try:
        return _load(raw, name, kind, what)
    except CaseError as exc:
        raise CaseError([_printable(p) for p in exc.problems]) from None


def parse_json(text: str, name: str | None, code: str = "case_invalid", first_line: int = 1) -> Any:
    """One JSON text with the checks of every document (nesting, duplicate keys, lone surrogates):
    a whole file, or one line of a JSON-lines file that starts on the file's line `first_line`."""
    try:
        doc = _json(text, name, code)
        _check_text(doc, text, code)
    except CaseError as exc:
        if first_line == 1:
            raise
        raise CaseError([dataclasses.replace(p, line=(p.line or 1) + first_line - 1) for p in exc.problems]) from None
    return doc.data


def _load(raw: bytes | str, name: str, kind: str, what: str | None) -> Document:
    code, what = _CODES[kind], what or _WHAT[kind]
    try:
        if isinstance(raw, bytes):
            if len(raw) > MAX_BYTES:
                raise textio.ReadFailure(problem("file_too_large", f"the {what} is larger than "
                                                 f"{MAX_BYTES >> 20} MiB", file=name))
            text = textio.decode(raw, name, code, what)
        else:
            text = raw[1:] if raw.startswith("\ufeff") else raw
            if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
                raise textio.ReadFailure(problem("file_too_large", f"the {what} is larger than "
                                                 f"{MAX_BYTES >> 20} MiB", file=name))
    except textio.ReadFailure as exc:
        raise _refusal(code, exc.problem) from None
    if name.endswith(".json") or text.lstrip().startswith(("{", "[")):
        doc = _json(text, name, code)
    else:
        try:
            doc = parse(text, name)
        except YamlProblem as exc:
            raise _refusal(code, exc.problem) from None
    _check_text(doc, text, code)
    if kind == RECEIPT:
        _check_receipt(doc)
    elif kind == ANSWERS and not isinstance(doc.data, dict):
        raise CaseError([problem(code, "answers are a mapping of expert id to answer", **doc.where(()),
                                 hint="E0042: accepted")])
    return doc


def read_case(source) -> Document:
    return read(source, CASE)


def read_request(source, what: str = "request") -> Document:
    return read(source, REQUEST, what)


def read_answers(source) -> Document:
    return read(source, ANSWERS)


def read_receipt(source) -> Document:
    return read(source, RECEIPT)


def receipt_policy(doc: Document) -> tuple[str, str]:
    """The policy id and version a receipt read by `read_receipt` names."""
    return doc.data["policy"]["id"], doc.data["policy"]["version"]


def fixture_case(doc: Document) -> Document:
    """A golden fixture (a mapping with `case` and `expect`) stands for its case; any other document for itself."""
    data = doc.data
    if isinstance(data, dict) and "case" in data and "expect" in data:
        return doc.sub("case")
    return doc


def locate(exc: CaseError, doc: Document) -> CaseError:
    """The same problems, with the file, line and column of their path in `doc` filled in where known."""
    out = []
    for p in exc.problems:
        if p.file is None and p.path:
            p = Problem(p.code, p.message, doc.file, p.line, p.column, p.path, p.hint)
        if p.line is None and p.path and p.file == doc.file:
            mark = doc.mark(_path_parts(p.path))
            if mark is not None:
                p = Problem(p.code, p.message, p.file, mark.line, mark.column, p.path, p.hint)
        out.append(p)
    return type(exc)(out)


def _path_parts(path: str) -> tuple:
    return tuple(int(piece[1:-1]) if piece.startswith("[") else piece
                 for piece in re.findall(r"[^.\[\]]+|\[\d+\]", path))


# ---------------------------------------------------------------------------------------------
# JSON

def _json(text: str, name: str | None, code: str) -> Document:
    def pairs(items):
        out = {}
        for key, value in items:
            if key in out:
                raise _Duplicate(key)
            out[key] = value
        return out

    check_json_nesting(text, name, code)  # before json.loads, which recurses
    try:
        return Document(json.loads(text, object_pairs_hook=pairs), {}, name)
    except json.JSONDecodeError as exc:
        raise CaseError([problem(code, f"not valid JSON: {exc.msg}", file=name, line=exc.lineno,
                                 column=exc.colno)]) from None
    except _Duplicate as exc:
        raise CaseError([problem(code, f"key {_shown(exc.key)} appears twice in one object", file=name,
                                 hint="JSON keeps only one of them; merge the two entries or rename one")]) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise CaseError([problem(code, f"not valid JSON: {_clean(str(exc))}", file=name)]) from None


class _Duplicate(Exception):
    def __init__(self, key: str):
        self.key = key


# ---------------------------------------------------------------------------------------------
# Values: nesting depth and Unicode text

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]|\\U0000[dD][89a-fA-F]")


def _check_text(doc: Document, text: str, code: str) -> None:
    """Refuse strings (keys or values) holding lone surrogates, located at the first in the text.

    A lone surrogate can only come from an escape (\\ud800 in JSON or YAML, \\U0000d800 in
    YAML): the text itself was decoded from UTF-8. So the walk runs only when the text has one.
    Nesting needs no walk: both parsers refuse documents nested beyond yamlio.MAX_DEPTH.
    """
    if _SURROGATE_ESCAPE.search(text) is None:
        return
    stack: list[tuple[bool, Any, tuple]] = [(False, doc.data, ())]
    while stack:
        is_key, value, path = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise _not_text(doc, text, path, code, is_key)
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                stack.append((False, item, path + (key,)))
                stack.append((True, key, path + (key,)))
        elif isinstance(value, list):
            stack.extend((False, value[i], path + (i,)) for i in range(len(value) - 1, -1, -1))


def _not_text(doc: Document, text: str, path: tuple, code: str, key: bool) -> CaseError:
    where = doc.where(path, key=key)
    if "line" not in where:  # JSON: the first string whose escapes spell a lone surrogate
        for m in re.finditer(r'"(?:[^"\\]|\\.)*"', text):
            if "\\u" in m.group() and _SURROGATE.search(_string(m.group())):
                before = text[:m.start()]
                where["line"] = before.count("\n") + 1
                where["column"] = m.start() - (before.rfind("\n") + 1) + 1
                break
    what = "key" if key else "value"
    return CaseError([problem(code, f"the {what} is not Unicode text (an escape spells a lone surrogate, "
                                    f"such as \\ud800)", **where,
                              hint="a surrogate escape must come in a pair (\\ud83d\\ude00) or be written "
                                   "as the character itself")])


def _string(token: str) -> str:
    try:
        return json.loads(token)
    except ValueError:
        return ""


# ---------------------------------------------------------------------------------------------
# Receipts

def _check_receipt(doc: Document) -> None:
    """Enough of a receipt's shape to look its policy up: the rest is checked against its schema by verify."""
    code = "receipt_invalid"
    data = doc.data
    if not isinstance(data, dict):
        raise CaseError([problem(code, f"a receipt is a JSON object, not {_kind(data)}", **doc.where(()),
                                 hint="give the file `policy-engine draw --out` wrote")])
    named = data.get("policy")
    if not isinstance(named, dict):
        raise CaseError([problem(code, "the receipt does not name its policy (policy: {id, version, sha256})",
                                 **doc.where(("policy",) if "policy" in data else ()),
                                 hint="give the file `policy-engine draw --out` wrote")])
    for key in ("id", "version"):
        if not isinstance(named.get(key), str):
            at = ("policy", key) if key in named else ("policy",)
            raise CaseError([problem(code, f"the receipt's policy.{key} is missing or not text", **doc.where(at),
                                     hint="give the file `policy-engine draw --out` wrote")])


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty document"
    return f"a single value ({type(value).__name__})"


# ---------------------------------------------------------------------------------------------
# Problems

@overload
def _clean(text: str) -> str: ...
@overload
def _clean(text: None) -> None: ...
@overload
def _clean(text: str | None) -> str | None: ...


def _clean(text: str | None) -> str | None:
    """Text safe to print: a lone surrogate (from input or a file name) shown as its escape."""
    if text is None or not _SURROGATE.search(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _shown(key: Any) -> str:
    return repr(key) if isinstance(key, str) else str(key)


def _printable(p: Problem) -> Problem:
    return Problem(p.code, _clean(p.message), _clean(p.file), p.line, p.column, _clean(p.path), _clean(p.hint))


def _refusal(code: str, found: Problem) -> CaseError:
    """A reader's or parser's problem under the document's code, its text safe to print."""
    return CaseError([_printable(Problem(code, found.message, found.file, found.line, found.column,
                                         found.path, found.hint))])


# ---------------------------------------------------------------------------------------------
# Writing back: a receipt to --out

def write_output(target: str | os.PathLike, data: bytes | str) -> None:
    """Write a document the caller asked for (a receipt to --out) whole or not at all.

    A regular file (or a new one) is replaced atomically by `textio.write_atomic`: a failed
    write (missing or read-only folder, full disk) leaves the previous file byte for byte.
    A symbolic link is followed, so the link stays and its target is replaced. A device or
    pipe (/dev/stdout, a FIFO) is written in place: renaming over it would replace the device
    node. Raises OutputError (exit code 73, `output_unwritable`).
    """
    path = os.path.realpath(target)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None or stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        textio.write_atomic(path if os.path.islink(target) else target, data)
        return
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(path, "wb") as fh:
            fh.write(raw)
            fh.flush()
    except OSError as exc:
        raise OutputError([problem("output_unwritable", f"cannot write the file: {exc.strerror or exc}",
                                   file=_clean(str(target)))]) from None
