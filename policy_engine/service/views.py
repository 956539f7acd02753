"""What the service and the command line both show of the loaded policies: the list of
policies and versions (`list --format json`), a policy's facts (`facts --format json`) and
the JSON Schema of its cases (`facts --format schema`)."""
from __future__ import annotations

from typing import Any

from ..policy.registry import Registry
from ..report.case_schema import case_schema, request_facts_schema


def policy_rows(registry: Registry, policy_id: str | None = None, *, files: bool = False) -> list[dict[str, Any]]:
    """One row per policy version (newest first within a policy); `files`: with the path it was
    loaded from (the command line; the service shows no paths of its machine)."""
    rows: list[dict[str, Any]] = []
    for pid in ([policy_id] if policy_id is not None else registry.ids()):
        for p in registry.versions(pid):
            row = {"id": p.id, "version": p.version, "title": p.title, "document_number": p.document_number,
                   "in_force": {"from": p.in_force.start.isoformat(),
                                "until": p.in_force.until.isoformat() if p.in_force.until else None},
                   "decisions": list(p.decisions()), "selection": list(p.selection_commands()),
                   "sha256": p.sha256}
            if files:
                row["file"] = p.file
            rows.append(row)
    return rows


def facts_json(policy: Any) -> dict[str, Any]:
    """The facts a case may state under `policy`: type, description, values, attested, kinds."""
    out: dict[str, Any] = {}
    for name, f in policy.vocabulary.facts.items():
        entry: dict[str, Any] = {"type": f.type, "description": f.description}
        if f.values:
            entry["values"] = list(f.values)
        if f.attested:
            entry["attested"] = True
        if f.kinds:
            entry["kinds"] = {k: {fn: {"type": fs.type, **({"values": list(fs.values)} if fs.values else {}),
                                       "required": fs.required} for fn, fs in kind.fields.items()}
                              for k, kind in f.kinds.items()}
        out[name] = entry
    return out


def case_schema_of(policy: Any) -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of the cases `policy` accepts; with the facts of draw and
    panel requests under $defs.request_facts where the policy has a selection section."""
    schema = case_schema(policy.vocabulary.facts, f"urn:policy-engine:case-schema:policy:{policy.id}",
                         f"Case for {policy.id} {policy.version}")
    if policy.selection is not None:
        schema["$defs"] = {"request_facts": request_facts_schema(policy)}
    return schema
