"""The hash chain of the audit log: canonical JSON, a record's hash, and the check of a chain.

Kept apart from the storage so the same check runs over a database (AuditLog.verify) and over
an exported JSON-lines file (`policy-engine log verify FILE`), offline, with nothing but this.

A record's hash is SHA-256 over the canonical JSON (keys sorted, UTF-8, no spaces, no NaN) of
{seq, kind, at, request, answer, policy, engine, prev}; `prev` is the hash of the record before
(64 zeros for the first), so a record deleted, edited or moved breaks the chain where it was.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64
SCHEMA_VERSION = 1  # of the stored records (tables and export lines); raised on any change of layout
FIELDS = ("seq", "kind", "at", "request", "answer", "policy", "engine", "prev")


def canonical(value: Any) -> str:
    """The one JSON text of a value: keys sorted, no spaces, UTF-8 characters as they are."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def record_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a record's hashed fields."""
    return hashlib.sha256(canonical({k: fields[k] for k in FIELDS}).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LogProblem:
    """One break of the chain. `kind` says what is wrong:

    edited    the record's content does not give its stored hash (changed after it was written)
    chain     the record's `prev` is not the hash of the record before it (one before was deleted,
              replaced or moved, or this one was)
    missing   sequence numbers are skipped (records deleted)
    order     sequence numbers go backwards or repeat (records moved or copied)
    malformed a record cannot be read (not JSON, a field missing or of the wrong type)
    anchor    a record published elsewhere (--anchor SEQ:HASH, --expect-head) is not there as published
    header    an export's first line disagrees with the records that follow it
    """

    seq: int | None  # the record where the break shows (None: the log as a whole)
    kind: str
    message: str
    record_kind: str | None = None  # the kind of the record, when it can be read

    def render(self) -> str:
        where = f"record {self.seq}" if self.seq is not None else "log"
        if self.record_kind:
            where += f" ({self.record_kind})"
        return f"{where}: {self.kind}: {self.message}"

    def to_json(self) -> dict:
        out: dict[str, Any] = {"seq": self.seq, "kind": self.kind, "message": self.message}
        if self.record_kind is not None:
            out["record_kind"] = self.record_kind
        return out


def _malformed(seq: Any, why: str) -> LogProblem:
    return LogProblem(seq if isinstance(seq, int) else None, "malformed", why)


def check_fields(row: Any) -> str | None:
    """Why a record (a mapping of the Record fields) cannot be checked, or None."""
    if not isinstance(row, Mapping):
        return "not a JSON object"
    if "_error" in row:
        return str(row["_error"])
    absent = [k for k in (*FIELDS, "hash") if k not in row]
    if absent:
        return "missing " + ", ".join(absent)
    if not isinstance(row["seq"], int) or isinstance(row["seq"], bool):
        return "seq is not a whole number"
    for key in ("kind", "at", "prev", "hash"):
        if not isinstance(row[key], str):
            return f"{key} is not a string"
    if row["policy"] is not None and not isinstance(row["policy"], Mapping):
        return "policy is neither an object nor null"
    return None


def verify_chain(rows: Iterable[Any], anchors: Mapping[int, str] | None = None,
                 head: str | None = None) -> tuple[list[LogProblem], int, str | None]:
    """Check records in the order given; return (problems, records read, hash of the last one).

    anchors: {seq: hash} published elsewhere; each must be there with that hash (detects a tail cut
    below it, and a chain rewritten up to it). head: the hash the last record must have.
    """
    problems: list[LogProblem] = []
    prev_hash: str | None = GENESIS  # None: the record before could not be read
    prev_seq, count, last_hash = 0, 0, None
    seen: dict[int, str] = {}
    for row in rows:
        count += 1
        why = check_fields(row)
        if why:
            seq = row.get("seq") if isinstance(row, Mapping) else None
            problems.append(_malformed(seq, why))
            prev_hash, last_hash = None, None
            prev_seq = seq if isinstance(seq, int) else prev_seq
            continue
        seq, kind = row["seq"], row["kind"]
        if seq <= prev_seq:
            problems.append(LogProblem(seq, "order", f"comes after record {prev_seq}", kind))
        elif seq != prev_seq + 1:
            gone = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1} to {seq - 1}"
            problems.append(LogProblem(seq, "missing", f"record(s) {gone} are not there", kind))
        try:
            actual = record_hash(row)
        except (TypeError, ValueError) as exc:
            problems.append(_malformed(seq, f"cannot be hashed: {exc}"))
            actual = None
        if actual is not None and actual != row["hash"]:
            problems.append(LogProblem(seq, "edited", f"its content hashes to {actual}, not to the stored "
                                                      f"{row['hash']}", kind))
        if prev_hash is not None and row["prev"] != prev_hash:
            problems.append(LogProblem(seq, "chain", f"prev is {row['prev']}, but the record before it "
                                                     f"(seq {prev_seq}) has hash {prev_hash}", kind))
        seen.setdefault(seq, row["hash"])
        prev_hash = row["hash"]
        prev_seq = max(prev_seq, seq)
        last_hash = row["hash"]
    for seq, expected in sorted((anchors or {}).items()):
        got = seen.get(seq)
        if got is None:
            problems.append(LogProblem(seq, "anchor", f"record {seq} (published with hash {expected}) is not in "
                                                      f"the log: the log was cut short (it has {count} records)"))
        elif got != expected:
            problems.append(LogProblem(seq, "anchor", f"record {seq} has hash {got}, but {expected} was published"))
    if head is not None and last_hash != head:
        problems.append(LogProblem(None, "anchor", f"the last record's hash is {last_hash or 'none (empty log)'}, "
                                                   f"not the expected head {head}"))
    return problems, count, last_hash
