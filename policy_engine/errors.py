"""Errors a user can act on: a stable code, where, what is wrong, and how to fix it.

Nothing here imports from the rest of the package. Errors are collected as values
(`Problem`) and raised at the edge wrapped in one of the exception classes below, so a
loader can report every problem in a file at once, sorted by position.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

# Stable codes other systems may branch on (see README, "Error codes").
CODES = {
    # policy files
    "file_unreadable": "the file cannot be read",
    "file_too_large": "the file is larger than the loader accepts",
    "yaml_syntax": "the file is not well-formed YAML",
    "yaml_alias_bomb": "YAML aliases expand beyond the loader's limit",
    "yaml_tag": "a value or key carries an explicit YAML tag (!!int, !!binary, !foo ...); documents are plain data",
    "yaml_nesting": "collections are nested deeper than the loader accepts (100 levels)",
    "yaml_not_mapping": "the document is not a mapping",
    "duplicate_key": "a key appears twice in one mapping",
    "schema": "the document does not match its JSON Schema",
    "source_missing": "the policy's source text cannot be found",
    "source_sha256": "the source text's digest differs from the one the policy records",
    "source_path": "the policy's source.file leaves the policy's folder (an absolute path, .., or a symbolic link "
                   "that resolves outside)",
    "calendar": "a policy counts working days, but its policies folder's _shared/cn-workdays.calendar.yaml is "
                "missing, invalid or outside the policies folder",
    "no_policies": "a folder given holds nothing to check (no policy, vocabulary or calendar file)",
    "citation": "a citation names an article, paragraph or item the source does not have",
    "quote_not_found": "a quote is not found verbatim in the cited passage",
    "unknown_fact": "an expression names a fact the vocabulary does not declare",
    "unknown_function": "an expression calls a function the engine does not provide",
    "unknown_identifier": "an expression names something that is neither a fact nor a bound variable",
    "cel_syntax": "an expression is not valid CEL",
    "expression_too_large": "a policy condition is longer, or nests deeper, than the engine evaluates safely",
    "vocabulary": "the fact vocabulary is inconsistent",
    "duplicate_rule": "two rules in one policy share an id",
    "version": "a policy's version or in-force window is inconsistent",
    "score_sheet": "a score sheet's maxima, bands or grades disagree with each other or with the quoted form",
    "reference": "an element names a rule or decision the policy does not have",
    "not_encoded": "a declaration of a passage not encoded has no reason, or names a passage an element cites",
    # cases
    "case_invalid": "the case does not match the policy's fact vocabulary",
    "pool_invalid": "a pool file (CSV or JSON lines) has a bad row, column or value",
    "request_invalid": "a draw or panel request is malformed or names what the policy or pool lacks",
    "receipt_invalid": "a draw receipt is malformed",
    # lookups
    "unknown_policy": "no policy has that id",
    "unknown_version": "the policy has no such version",
    "not_in_force": "no version of the policy is in force on the date asked",
    "unsupported_decision": "the policy has no rules for that decision",
    # the HTTP service (policy-engine serve)
    "bad_request": "an HTTP request lacks a parameter or field, or has one malformed (the body is not an object ...)",
    "not_found": "no such endpoint or schema",
    "method_not_allowed": "the endpoint does not answer that HTTP method",
    "request_timeout": "the request took longer than the service's time limit",
    "internal_error": "a defect of policy-engine itself; the answer carries no traceback",
    # output
    "output_unwritable": "an output file or stream cannot be written (missing or read-only folder, full disk)",
    # the audit log
    "log_unavailable": "the audit log cannot be opened, read or written (a bad URL, a missing folder or server, "
                       "a file that is not a log, the PostgreSQL driver not installed, a full disk)",
    "log_broken": "the audit log's hash chain is broken: a record was edited, deleted, moved, or the log cut short",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, located as precisely as the input allows."""

    code: str
    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    path: str | None = None  # path inside the document, e.g. entry_criteria[3].quote
    hint: str | None = None  # how to fix it

    def location(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def render(self) -> str:
        head = f"{self.location()}: "
        if self.path:
            head += f"{self.path}: "
        text = head + self.message
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict:
        out = {"code": self.code, "message": self.message}
        for key in ("file", "line", "column", "path", "hint"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.column or 0, p.code, p.message))


class EngineError(Exception):
    """Base of every error the library raises on purpose. Carries problems, never a traceback."""

    exit_code = 1

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(sort_problems(problems))
        super().__init__("\n".join(p.render() for p in self.problems))

    @property
    def code(self) -> str:
        return self.problems[0].code if self.problems else "error"

    def to_json(self) -> dict:
        return {"error": self.code, "problems": [p.to_json() for p in self.problems]}


class PolicyError(EngineError):
    """A policy file (or its vocabulary or source text) is invalid."""

    exit_code = 3


class CaseError(EngineError):
    """A case does not match the facts the policy declares."""

    exit_code = 4


class LookupFailure(EngineError):
    """Unknown policy, unknown version, or no version in force on the date asked."""

    exit_code = 5


class OutputError(EngineError):
    """An output file or stream cannot be written (missing or read-only folder, full disk)."""

    exit_code = 73


class LogError(EngineError):
    """The audit log cannot be opened, read or written; nothing was appended."""

    exit_code = 74  # EX_IOERR


def problem(code: str, message: str, **where) -> Problem:
    assert code in CODES, code
    return Problem(code, message, **where)


@dataclass
class ProblemList:
    """Collects problems while a file is checked; raise once at the end."""

    items: list[Problem] = field(default_factory=list)

    def add(self, code: str, message: str, **where) -> None:
        self.items.append(problem(code, message, **where))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)
