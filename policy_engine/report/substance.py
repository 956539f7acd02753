"""What in a stored answer is substance and what is identity, and how two answers differ.

A verdict, a draw receipt or a rejected input's problems (the three kinds of golden file, and
what `policy-engine diff` compares across two versions of a policy) carry two kinds of content:

- **substance**: what the answer says: the outcome (a receipt's selected experts and backups
  with it; a rejection's error code), every finding's rule, result, strength, citation, quote,
  values, exception and ruling, the missing facts, the version a case was decided under, a
  receipt's request, pool, seed, commitment, findings, provisions and candidates, a rejection's
  problem codes and paths;
- **identity**: what names or explains the answer without changing it: the policy's digest,
  the engine's release, the trace (the text of each condition as written and its value), and
  the wording the policy gives its rules (a finding's `title` and `note`, a receipt rule's
  `title`, a problem's `message` and `hint`, the version choice's `note`).

`compare(before, after)` sorts a difference into one of four levels, the first that applies:
``outcome`` (the outcome, a receipt's selection or a rejection's code changed), ``findings``
(other substance changed), ``identity`` (only identity changed) or ``same`` (equal documents).
Its lines put the outcome first, then each finding whose result changed with its rule and
citation (the rules that made the difference), then every other substance path that changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

LEVELS = ("same", "identity", "findings", "outcome")  # in increasing order of weight

# Paths (keys; "*" = every element of a list) whose content is identity, not substance.
IDENTITY: tuple[tuple[str, ...], ...] = (
    ("policy", "sha256"),
    ("engine",),
    ("trace",),
    ("findings", "*", "title"),
    ("findings", "*", "note"),
    ("rules", "*", "title"),
    ("problems", "*", "message"),
    ("problems", "*", "hint"),
    ("version", "note"),
)
# Top-level keys whose change is a change of outcome.
OUTCOME_KEYS = ("outcome", "selected", "backups", "error")


@dataclass(frozen=True, slots=True)
class Change:
    """How `after` differs from `before`: its level, the substance lines (outcome first), and
    the identity paths that differ (for a summary; their values are not substance)."""
    level: str
    lines: tuple[str, ...] = ()
    identity: tuple[str, ...] = ()

    @property
    def substantive(self) -> bool:
        return self.level in ("findings", "outcome")

    def to_json(self) -> dict:
        return {"level": self.level, "lines": list(self.lines), "identity": list(self.identity)}


def _strip(value: Any, paths: tuple[tuple[str, ...], ...]) -> Any:
    if not paths:
        return value
    if () in paths:
        return _GONE
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = tuple(p[1:] for p in paths if p[0] == k)
            stripped = _strip(v, sub)
            if stripped is not _GONE:
                out[k] = stripped
        return out
    if isinstance(value, list):
        sub = tuple(p[1:] for p in paths if p[0] == "*")
        return [_strip(v, sub) for v in value]
    return value


_GONE = object()


def substance(doc: Any) -> Any:
    """The document without its identity (a new object; `doc` is not changed)."""
    return _strip(doc, IDENTITY)


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _finding_key(findings: list) -> list[tuple[str, int]]:
    """Each finding's rule and its occurrence among findings of that rule (a rule judged per act
    appears once per act, in the act's order)."""
    seen: dict[str, int] = {}
    keys = []
    for f in findings:
        rule = str(f.get("rule")) if isinstance(f, dict) else repr(f)
        seen[rule] = seen.get(rule, 0) + 1
        keys.append((rule, seen[rule]))
    return keys


def _name(key: tuple[str, int], counts: dict[str, int]) -> str:
    rule, n = key
    return f"rule {rule}" + (f" (#{n})" if counts.get(rule, 1) > 1 else "")


def _walk(before: Any, after: Any, path: str) -> Iterator[str]:
    """One line per leaf path whose value differs."""
    if isinstance(before, dict) and isinstance(after, dict):
        for k in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in after:
                yield f"{sub}: {_label(before[k])} → (absent)"
            elif k not in before:
                yield f"{sub}: (absent) → {_label(after[k])}"
            else:
                yield from _walk(before[k], after[k], sub)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after)):
            yield from _walk(b, a, f"{path}[{i}]")
    elif before != after:
        yield f"{path}: {_label(before)} → {_label(after)}"


def _findings_lines(before: list, after: list) -> tuple[list[str], list[str]]:
    """(lines for findings whose result changed, lines for other changes of findings)."""
    kb, ka = _finding_key(before), _finding_key(after)
    counts: dict[str, int] = {}
    for rule, n in kb + ka:
        counts[rule] = max(counts.get(rule, 0), n)
    b, a = dict(zip(kb, before)), dict(zip(ka, after))
    results: list[str] = []
    others: list[str] = []
    for key in kb + [k for k in ka if k not in b]:
        old, new = b.get(key), a.get(key)
        name = _name(key, counts)
        if new is None:
            results.append(f"{name} ({_cite(old)}): removed (was {_result(old)})")
        elif old is None:
            results.append(f"{name} ({_cite(new)}): added, {_result(new)}")
        else:
            if _result(old) != _result(new):
                results.append(f"{name} ({_cite(new)}): {_result(old)} → {_result(new)}")
            others.extend(f"{name}: {line}" for line in _walk(
                {k: v for k, v in old.items() if k != "result"} if isinstance(old, dict) else old,
                {k: v for k, v in new.items() if k != "result"} if isinstance(new, dict) else new, ""))
    if [k for k in kb if k in a] != [k for k in ka if k in b]:
        others.append("findings: the same rules in another order")
    return results, others


def _cite(finding: Any) -> str:
    return str(finding.get("cite", "")) if isinstance(finding, dict) else ""


def _result(finding: Any) -> str:
    return str(finding.get("result", "")) if isinstance(finding, dict) else _label(finding)


def compare(before: Any, after: Any) -> Change:
    """The change from `before` to `after` (two parsed golden documents of the same kind)."""
    if before == after:
        return Change("same")
    sb, sa = substance(before), substance(after)
    identity = tuple(line.split(":", 1)[0] for line in _walk(before, after, "")
                     if not _is_substance_path(line.split(":", 1)[0]))
    if sb == sa:
        return Change("identity", (), identity)
    lines: list[str] = []
    outcome = False
    if isinstance(sb, dict) and isinstance(sa, dict):
        for key in OUTCOME_KEYS:
            if sb.get(key) != sa.get(key):
                outcome = True
                lines.append(f"{key}: {_label(sb.get(key, '(absent)'))} → {_label(sa.get(key, '(absent)'))}")
        results: list[str] = []
        others: list[str] = []
        if isinstance(sb.get("findings"), list) and isinstance(sa.get("findings"), list):
            results, others = _findings_lines(sb["findings"], sa["findings"])
        lines += results + others
        rest_b = {k: v for k, v in sb.items() if k not in OUTCOME_KEYS and k != "findings"}
        rest_a = {k: v for k, v in sa.items() if k not in OUTCOME_KEYS and k != "findings"}
        lines += list(_walk(rest_b, rest_a, ""))
    else:
        outcome = True
        lines += list(_walk(sb, sa, ""))
    return Change("outcome" if outcome else "findings", tuple(lines), identity)


def _is_substance_path(path: str) -> bool:
    import re
    parts = tuple("*" if re.fullmatch(r"\d+", p) else p
                  for p in re.split(r"[.\[\]]+", path) if p)
    return not any(parts[:len(p)] == p for p in IDENTITY)
