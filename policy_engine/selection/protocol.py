"""The draw protocol: a draw no single party can steer, and the checks that expose one that was.

Parties. The pool office (选用处室, 专家库办公室: whoever runs the draw) holds the pool and writes the
request; the supervisor the regulations require (纪检监察, 监督人员) watches; the public (or an
auditor) checks afterwards. A third source of chance may be a public value fixed in advance and
published by someone else (RFC 3797: e.g. a lottery's winning numbers on a named date).

1. The office makes its seed (`policy-engine seed`) and keeps it secret. With its SHA-256 it makes the
   commitment (`policy-engine commit`): one document binding the policy (id, version, sha256), the
   pool (sha256, number of experts), the whole request as drawn (filters, history with each earlier
   receipt's hash, relations, participants, facts, count, mode, matter and the request's id) and the
   contributions to the seed: the office's seed commitment, the supervisor (named, with the commitment
   of the supervisor's contribution, or none when the supervisor reveals only after this document is
   published) and the public value named by its source and date. The document and its hash
   (SHA-256 of the document's canonical JSON) are published: logged as a "draw_commitment" record.
2. After that, the supervisor reveals a contribution (at least 16 random bytes, hex) and, where one is
   named, the public value becomes known. Then the office reveals its seed and draws.
3. The seed of the draw is

       HMAC-SHA256(key = the commitment's hash (32 bytes),
                   message = "office=<office seed hex>\\n" ["supervisor=<contribution hex>\\n"]
                             ["public=<public value>\\n"])

   in lower-case hex (the lines present are those the commitment names, in that order; the public
   value as published, NFC, white space around it removed). The order of the pool is then the one every
   draw uses (HMAC-SHA256 of each expert id under that seed). Anyone can recompute it:
   `printf 'office=%s\\nsupervisor=%s\\n' OFFICE SUPERVISOR | openssl dgst -sha256 -mac HMAC -macopt hexkey:HASH`.

What nobody can do alone. The office is bound to its seed, the request and the pool before the other
contribution is known: trying seeds (grinding) is useless, since the final seed depends on a value it
cannot predict, and a request, history or pool rewritten afterwards no longer matches the published
commitment. The supervisor does not know the office's seed (only its hash) when revealing a
contribution, so it cannot aim at a panel either. A public value fixed in advance is chosen by neither.
What remains to one party is refusing to go on (withholding a seed and starting again): every attempt
is logged as a "draw" record under its commitment, so a second attempt under one commitment, or an
attempt not in the log, is exposed.

Nothing here reads the clock or the environment; log records are given as plain dicts (the fields of
an audit-log record: seq, kind, at, request, answer, ...).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..errors import CaseError, problem
from ..policy.model import Policy
from .pool import Pool

COMMITMENT_FORMAT = "policy-engine/draw-commitment/1"
DERIVATION = ("HMAC-SHA256 with the commitment's hash (32 bytes) as key and, as message, the lines "
              "office=<office seed hex>, supervisor=<supervisor contribution hex>, public=<public value> "
              "(those the commitment names, in that order, each ending in a line feed); lower-case hex")
MIN_CONTRIBUTION_BYTES = 16

# the kinds of protocol violation verify-draw reports (stable codes)
VIOLATIONS = {
    "commitment_missing": "the receipt was not drawn under a published commitment",
    "commitment_mismatch": "the commitment in the receipt does not hash to the published commitment",
    "policy_changed_after_commitment": "the policy drawn under is not the one committed to",
    "pool_changed_after_commitment": "the pool drawn from is not the one committed to",
    "request_changed_after_commitment": "the request drawn is not the one committed to",
    "matter_relabelled": "the receipt names another request or matter than the commitment",
    "seed_mismatch": "a seed contribution does not match its commitment, or the seed is not the one they give",
    "history_unreferenced": "a history entry does not name the receipt of that earlier draw",
    "history_mismatch": "a history entry does not match the receipt it names, or that receipt was not given",
    "history_dropped": "an earlier draw of this policy's pool, among the receipts given, is missing from the history",
    "commitment_not_logged": "the commitment is not in the log before the draw",
    "attempt_not_logged": "this draw is not in the log",
    "attempts_repeated": "the log holds several draw attempts under one commitment",
}


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 (the audit log's form)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def receipt_sha256(receipt: Mapping) -> str:
    """The hash a later draw's history names a receipt by: SHA-256 of its canonical JSON."""
    return digest(receipt)


def contribution(value: str, name: str) -> str:
    """A seed contribution as lower-case hex of at least 16 bytes; refused otherwise."""
    text = str(value).strip().lower()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise CaseError([problem("request_invalid", f"the {name} is not hexadecimal", path=name,
                                 hint="write it as hex digits, e.g. from `policy-engine seed`")]) from None
    if len(raw) < MIN_CONTRIBUTION_BYTES:
        raise CaseError([problem("request_invalid", f"the {name} has {len(raw)} bytes; at least "
                                 f"{MIN_CONTRIBUTION_BYTES} are needed", path=name,
                                 hint="use `policy-engine seed` (32 random bytes)")])
    return raw.hex()


def _hex64(value: str, name: str) -> str:
    text = str(value).strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise CaseError([problem("request_invalid", f"the {name} is not a SHA-256 in hex (64 digits)", path=name,
                                 hint="give the commitment `policy-engine seed` printed")])
    return text


def public_text(value: str) -> str:
    return unicodedata.normalize("NFC", str(value)).strip()


def committed_request(data: Mapping) -> dict:
    """The request as the commitment binds it: everything but the candidates' later answers."""
    return {k: v for k, v in data.items() if k != "answers"}


# -- making the commitment ------------------------------------------------------------------------

def commit(policy: Policy, pool: Pool, request: Any, office_commitment: str, *, supervisor: str | None = None,
           supervisor_commitment: str | None = None, public_source: str | None = None,
           public_date: str | None = None, request_file: str | None = None) -> dict:
    """The commitment document for a draw of `request` under `policy` from `pool`.

    The request is validated as the draw will (a request the draw would refuse cannot be committed
    to). A second source of chance is required: the supervisor (named here or by the request's
    `supervisor`), a public value (`public_source` and `public_date`), or both.
    """
    from .draw import parse_request
    from .selection import in_force_on
    req = parse_request(request, policy, request_file)
    in_force_on(policy, req.date, "request")
    data = committed_request(json.loads(req.text))
    for i, h in enumerate(data.get("history") or ()):
        if not h.get("receipt"):
            raise CaseError([problem("request_invalid", f"history[{i}] ({h.get('date')}) names no receipt",
                                     path=f"history[{i}].receipt",
                                     hint="under the draw protocol each earlier draw is named by its receipt's hash "
                                          "(receipt_sha256 in `verify-draw --format json`), so the history can be "
                                          "checked against the receipts")])
    who = supervisor if supervisor is not None else req.supervisor
    if supervisor_commitment is not None and not who:
        raise CaseError([problem("request_invalid", "a supervisor's commitment is given but no supervisor is named",
                                 path="supervisor", hint="name the supervisor (--supervisor), or the request's "
                                                         "supervisor is used")])
    if (public_source is None) != (public_date is None):
        raise CaseError([problem("request_invalid", "a public value is named by its source and its date, both",
                                 path="public", hint="--public-source '…' --public-date YYYY-MM-DD")])
    if not who and public_source is None:
        raise CaseError([problem("request_invalid", "the office's seed alone would decide the panel", path="supervisor",
                                 hint="name the supervisor who reveals a contribution after the commitment "
                                      "(--supervisor, or supervisor: in the request), a public value fixed in "
                                      "advance (--public-source and --public-date), or both")])
    if public_date is not None and str(public_date) < req.date:
        raise CaseError([problem("request_invalid", f"the public value of {public_date} is known before the "
                                 f"draw's date {req.date}", path="public.date",
                                 hint="name a public value published on or after the day of the draw")])
    seed: dict[str, Any] = {"office": {"commitment": _hex64(office_commitment, "seed commitment")}}
    if who:
        seed["supervisor"] = {"party": str(who), "commitment": _hex64(supervisor_commitment, "supervisor commitment")
                              if supervisor_commitment is not None else None}
    if public_source is not None:
        seed["public"] = {"source": public_text(public_source), "date": str(public_date)}
    return {
        "format": COMMITMENT_FORMAT,
        "policy": {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        "pool": {"sha256": pool.sha256, "experts": len(pool)},
        "request_id": data.get("id"),
        "matter": (data.get("matter") or {}).get("id"),
        "request": data,
        "seed": seed,
        "derivation": DERIVATION,
    }


# -- the seed of the draw -------------------------------------------------------------------------

def final_seed(document: Mapping, office: str, supervisor: str | None = None, public: str | None = None) -> str:
    """The seed the draw uses, from the commitment and the contributions revealed after it.

    Each contribution is checked against the commitment (the office's and, when committed, the
    supervisor's by SHA-256); one the commitment names must be given, one it does not name is refused.
    """
    key = bytes.fromhex(digest(document))
    named = document.get("seed") or {}
    lines = []
    office_hex = contribution(office, "seed")
    if hashlib.sha256(bytes.fromhex(office_hex)).hexdigest() != (named.get("office") or {}).get("commitment"):
        raise CaseError([problem("request_invalid", "the office's seed does not match its commitment", path="seed",
                                 hint="use the seed whose SHA-256 the commitment names")])
    lines.append(f"office={office_hex}\n")
    if "supervisor" in named:
        if supervisor is None:
            raise CaseError([problem("request_invalid", f"the commitment names the supervisor "
                                     f"({named['supervisor'].get('party')}): their contribution is needed",
                                     path="supervisor_seed", hint="--supervisor-seed HEX, revealed by the supervisor")])
        sup = contribution(supervisor, "supervisor_seed")
        expected = named["supervisor"].get("commitment")
        if expected is not None and hashlib.sha256(bytes.fromhex(sup)).hexdigest() != expected:
            raise CaseError([problem("request_invalid", "the supervisor's contribution does not match its commitment",
                                     path="supervisor_seed", hint="use the value whose SHA-256 the commitment names")])
        lines.append(f"supervisor={sup}\n")
    elif supervisor is not None:
        raise CaseError([problem("request_invalid", "the commitment names no supervisor's contribution",
                                 path="supervisor_seed", hint="leave --supervisor-seed out")])
    if "public" in named:
        if public is None or not public_text(public):
            raise CaseError([problem("request_invalid", f"the commitment names a public value "
                                     f"({named['public'].get('source')}, {named['public'].get('date')}): it is needed",
                                     path="public_value", hint="--public-value '…' as published")])
        lines.append(f"public={public_text(public)}\n")
    elif public is not None:
        raise CaseError([problem("request_invalid", "the commitment names no public value", path="public_value",
                                 hint="leave --public-value out")])
    return hmac.new(key, "".join(lines).encode("utf-8"), hashlib.sha256).hexdigest()


def contributions_of(office: str, supervisor: str | None, public: str | None) -> dict:
    out = {"office": contribution(office, "seed")}
    if supervisor is not None:
        out["supervisor"] = contribution(supervisor, "supervisor_seed")
    if public is not None:
        out["public"] = public_text(public)
    return out


# -- drawing under a commitment -------------------------------------------------------------------

def departures(document: Mapping, policy: Any, pool: Any, request_data: Mapping) -> list[tuple[str, str]]:
    """How a draw departs from the commitment: (kind, message) for each. `policy` and `pool` are as a
    receipt records them ({id, version, sha256}; {sha256, experts})."""
    out = []
    if document.get("format") != COMMITMENT_FORMAT:
        out.append(("commitment_mismatch", f"the commitment's format is not {COMMITMENT_FORMAT}"))
    if document.get("policy") != policy:
        out.append(("policy_changed_after_commitment", "the policy (id, version or sha256) differs from the committed one"))
    if document.get("pool") != pool:
        out.append(("pool_changed_after_commitment", "the pool's digest differs from the committed one"))
    mine = committed_request(request_data)
    if document.get("request_id") != mine.get("id") or document.get("matter") != (mine.get("matter") or {}).get("id") \
            or (document.get("request") or {}).get("id") != mine.get("id") \
            or ((document.get("request") or {}).get("matter") or {}).get("id") != (mine.get("matter") or {}).get("id"):
        out.append(("matter_relabelled", f"the commitment is for request {document.get('request_id')!r}, matter "
                                         f"{document.get('matter')!r}; this is request {mine.get('id')!r}, matter "
                                         f"{(mine.get('matter') or {}).get('id')!r}"))
    if document.get("request") != mine:
        changed = sorted(k for k in set(mine) | set(document.get("request") or {})
                         if mine.get(k) != (document.get("request") or {}).get(k))
        out.append(("request_changed_after_commitment", "the request differs from the committed one in: "
                    + ", ".join(changed)))
    return out


def draw_committed(policy: Policy, pool: Pool, request: Any, document: Mapping, office: str,
                   supervisor: str | None = None, public: str | None = None, *, request_file: str | None = None):
    """Draw under a published commitment: refused when the policy, pool or request is not the committed
    one, or a contribution does not match; the receipt records the commitment and the contributions."""
    from .draw import draw, parse_request
    req = parse_request(request, policy, request_file)
    found = departures(document, {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
                       {"sha256": pool.sha256, "experts": len(pool)}, json.loads(req.text))
    if found:
        raise CaseError([problem("request_invalid", f"{kind}: {message}", file=req.file, path="commitment",
                                 hint="draw exactly what was committed to; a changed request needs a new "
                                      "commitment, published before any seed is revealed")
                         for kind, message in found])
    seed = final_seed(document, office, supervisor, public)
    block = {"commitment": dict(document), "sha256": digest(document),
             "contributions": contributions_of(office, supervisor, public)}
    return draw(policy, pool, req, seed, protocol=block)


# -- log records (Contract P) ---------------------------------------------------------------------

def commitment_record(document: Mapping) -> tuple[str, dict, dict, dict]:
    """(kind, request, answer, policy) to append to the audit log when the commitment is published."""
    return ("draw_commitment", {"request_id": document.get("request_id"), "matter": document.get("matter")},
            {"commitment": digest(document), "document": dict(document)}, dict(document["policy"]))


def attempt_record(request: Mapping, answer: Mapping, policy: Mapping | None = None) -> tuple[str, dict, dict, dict | None]:
    """(kind, request, answer, policy) for one draw attempt (the receipt, or the error JSON as answer).

    `request` holds what was asked; its top-level `commitment` (the hash, under the protocol) lets the
    log find every attempt under one commitment."""
    req = dict(request)
    if "commitment" not in req:
        block = answer.get("protocol") if isinstance(answer, Mapping) else None
        req["commitment"] = block.get("sha256") if isinstance(block, Mapping) else None
    return "draw", req, dict(answer), dict(policy) if policy is not None else None


# -- verification ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # one of VIOLATIONS
    message: str
    path: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "path": self.path, "message": self.message}


def check(receipt: Mapping, *, receipts: Iterable[Mapping] | None = None, records: Iterable[Mapping] | None = None,
          require: bool = False) -> tuple[list[Violation], list[str]]:
    """The protocol's violations in a receipt, and warnings.

    The receipt's own policy and pool are compared with the committed ones (whether the policy and
    pool files are still those is the recomputation's business, draw.verify). A receipt drawn without the protocol (format /1, or no `protocol`) gives a warning, or the
    violation commitment_missing when `require`. `receipts` are the earlier receipts a history may
    name; `records` the audit log's records (dicts), when given.
    """
    out: list[Violation] = []
    warnings: list[str] = []
    block = receipt.get("protocol")
    raw = receipt.get("request")
    request: Mapping = raw if isinstance(raw, Mapping) else {}
    if not isinstance(block, Mapping):
        text = (f"receipt {receipt.get('format')} made without the draw protocol: no published commitment "
                "binds its seed, request and pool")
        if require:
            out.append(Violation("commitment_missing", text, "protocol"))
        else:
            warnings.append(text)
        out.extend(_history(receipt, request, receipts, strict=False, warnings=warnings))
        return out, warnings
    found = block.get("commitment")
    document: Mapping = found if isinstance(found, Mapping) else {}
    if digest(document) != block.get("sha256"):
        out.append(Violation("commitment_mismatch", "SHA-256 of the commitment document is "
                             f"{digest(document)}, the receipt says {block.get('sha256')}", "protocol.sha256"))
    for kind, message in departures(document, receipt.get("policy"), receipt.get("pool"), request):
        out.append(Violation(kind, message, "protocol.commitment"))
    revealed = block.get("contributions")
    given: Mapping = revealed if isinstance(revealed, Mapping) else {}
    try:
        seed = final_seed(document, given.get("office", ""), given.get("supervisor"), given.get("public"))
    except CaseError as exc:
        out.append(Violation("seed_mismatch", "; ".join(p.message for p in exc.problems), "protocol.contributions"))
    else:
        if seed != receipt.get("seed"):
            out.append(Violation("seed_mismatch", f"the contributions give the seed {seed}, the receipt says "
                                 f"{receipt.get('seed')}", "seed"))
    out.extend(_history(receipt, request, receipts, strict=True, warnings=warnings))
    if records is not None:
        out.extend(_log(receipt, block.get("sha256"), list(records)))
    return out, warnings


def _draw_of(receipt: Mapping) -> Any:
    """What makes receipts one draw: its commitment, or else its request's id, day and seed (the receipts of one
    draw before and after answers were recorded are one draw)."""
    block = receipt.get("protocol")
    if isinstance(block, Mapping) and block.get("sha256"):
        return block["sha256"]
    req = receipt.get("request")
    return ((req.get("id") if isinstance(req, Mapping) else None), receipt.get("as_of"), receipt.get("seed"))


def _history(receipt: Mapping, request: Mapping, receipts: Iterable[Mapping] | None, strict: bool,
             warnings: list[str]) -> list[Violation]:
    history = request.get("history") or []
    known = {receipt_sha256(r): r for r in (receipts or ())}
    out = []
    named = set()
    for i, h in enumerate(history):
        ref = h.get("receipt") if isinstance(h, Mapping) else None
        if ref is None:
            if strict:
                out.append(Violation("history_unreferenced", f"history[{i}] ({h.get('date')}) names no receipt",
                                     f"request.history[{i}]"))
            continue
        named.add(ref)
        if receipts is None:
            continue
        earlier = known.get(ref)
        if earlier is None:
            out.append(Violation("history_mismatch", f"history[{i}] names receipt {ref}, which is not among "
                                 "the receipts given", f"request.history[{i}].receipt"))
            continue
        if earlier.get("as_of") != h.get("date") or list(earlier.get("selected") or []) != list(h.get("selected") or []):
            out.append(Violation("history_mismatch", f"history[{i}] says {h.get('date')} {h.get('selected')}; its "
                                 f"receipt says {earlier.get('as_of')} {earlier.get('selected')}",
                                 f"request.history[{i}]"))
    if receipts is None and named:
        warnings.append(f"the history names {len(named)} earlier receipt(s), not checked: give them "
                        "(verify-draw --receipts) to check the history against them")
    if receipts is not None:
        policy_id = (receipt.get("policy") or {}).get("id")
        date = receipt.get("as_of") or ""
        draws = {_draw_of(receipt)} | {_draw_of(known[ref]) for ref in named if ref in known}
        for ref, earlier in sorted(known.items()):
            if ref in named or (earlier.get("policy") or {}).get("id") != policy_id or _draw_of(earlier) in draws:
                continue  # named, another policy's pool, this draw, or a draw named by another of its receipts
            if str(earlier.get("as_of") or "") < date and earlier.get("selected"):
                out.append(Violation("history_dropped", f"the draw of {earlier.get('as_of')} (receipt {ref}, "
                                     f"selected {earlier.get('selected')}) is not in the history", "request.history"))
    return out


def _field(record: Mapping, part: str, key: str) -> Any:
    value = record.get(part)
    return value.get(key) if isinstance(value, Mapping) else None


def _seq(record: Mapping) -> int:
    seq = record.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


def _log(receipt: Mapping, sha: Any, records: list[Mapping]) -> list[Violation]:
    out = []
    commits = [r for r in records if r.get("kind") == "draw_commitment" and _field(r, "answer", "commitment") == sha]
    attempts = [r for r in records if r.get("kind") == "draw" and _field(r, "request", "commitment") == sha]
    if not commits:
        out.append(Violation("commitment_not_logged", f"no draw_commitment record for {sha}", "protocol.sha256"))
    mine = [r for r in attempts if _field(r, "answer", "seed") == receipt.get("seed")]
    if not mine:
        out.append(Violation("attempt_not_logged", f"no draw record under commitment {sha} with this receipt's seed",
                             "seed"))
    elif commits and min(_seq(c) for c in commits) > min(_seq(r) for r in mine):
        out.append(Violation("commitment_not_logged", "the commitment was logged only after the draw", "protocol.sha256"))
    if len(attempts) > 1:
        seqs = ", ".join(str(r.get("seq")) for r in attempts)
        out.append(Violation("attempts_repeated", f"{len(attempts)} draw attempts under commitment {sha} "
                             f"(records {seqs})", "protocol.sha256"))
    return out
