"""The service's OpenAPI 3.1 document, assembled here around the project's own JSON Schemas.

OpenAPI 3.1 uses JSON Schema Draft 2020-12, the draft of schemas/*.schema.json, so the
request and response bodies reference those files as they are: each is read from the
package's schemas/ folder at start and embedded under components.schemas, its references
rebased onto the document (`#/$defs/x` -> `#/components/schemas/<name>/$defs/x`, and
receipt's `verdict.schema.json#/$defs/finding` -> `#/components/schemas/verdict/$defs/finding`),
so every reference resolves inside the document. The files themselves are also served as
they are, at /v1/schemas/<name>.schema.json. No schema of the project is written a second time here; what is written
here is only the service's own envelopes (a draw's body holds a draw request and a pool, ...),
whose members reference the project's schemas.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from .. import resources
from ..batch import CHUNK_CASES, MAX_LINE
from ..version import __version__

# The project's schemas the service's bodies use (components.schemas key = file name without .schema.json).
EMBEDDED = ("verdict", "receipt", "draw-request", "panel-request")
SCHEMA_PATH = "/v1/schemas/{name}"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


@functools.cache
def project_schemas() -> dict[str, bytes]:
    """Every schemas/*.schema.json of the package, by file name, as the bytes of the file."""
    folder = resources.schema_dir()
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.schema.json"))}


def project_schema_bytes(name: str) -> bytes | None:
    """The file `name` (e.g. verdict.schema.json) of schemas/, or None: only names of that folder."""
    return project_schemas().get(name)


def _embedded() -> dict[str, dict]:
    """The schemas of EMBEDDED (and those they reference), as components.schemas entries.

    A schema's references are rebased onto the document, mechanically: `#/$defs/x` in
    verdict.schema.json becomes `#/components/schemas/verdict/$defs/x`, and
    `verdict.schema.json#/$defs/finding` in receipt.schema.json becomes
    `#/components/schemas/verdict/$defs/finding`; nothing else of the file changes."""
    out: dict[str, dict] = {}
    todo = list(EMBEDDED)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        schema = json.loads(project_schemas()[f"{name}.schema.json"])
        schema.pop("$id", None)  # the document is the base of every reference now

        def rebase(node: Any, here: str = name) -> Any:
            if isinstance(node, dict):
                return {k: (_rebased(v, here, todo) if k == "$ref" and isinstance(v, str) else rebase(v))
                        for k, v in node.items()}
            if isinstance(node, list):
                return [rebase(v) for v in node]
            return node
        out[name] = rebase(schema)
    return out


def _rebased(ref: str, here: str, todo: list[str]) -> str:
    file, _, fragment = ref.partition("#")
    target = here if not file else file.removesuffix(".schema.json")
    if file and f"{target}.schema.json" not in project_schemas():
        raise ValueError(f"{here}.schema.json refers to {ref}, not a schema of the project")
    todo.append(target)
    return f"#/components/schemas/{target}{fragment}"


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": "The request cannot be read: not JSON, a field or parameter missing or malformed (error bad_request, "
           "case_invalid, request_invalid)",
    "404": "No such policy, version, policy in force on the date, or decision (unknown_policy, unknown_version, "
           "not_in_force, unsupported_decision)",
    "413": "The body is larger than the service accepts (file_too_large)",
    "422": "The content is refused: a fact of the wrong type, an unknown fact, a bad pool row, a malformed "
           "request or receipt (case_invalid, pool_invalid, request_invalid, receipt_invalid)",
    "500": "A defect of the service (internal_error); no traceback",
    "503": "The request took longer than the service's time limit (request_timeout)",
}


def _errors(*statuses: str) -> dict:
    return {s: _json(_ref("error"), _ERRORS[s]) for s in statuses}


def _param(name: str, where: str, description: str, required: bool = False, pattern: str | None = None) -> dict:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema}


DATE = r"^\d{4}-\d{2}-\d{2}$"
POLICY = _param("policy_id", "path", "A policy id (GET /v1/policies)")
VERSION = _param("version", "query", "A version of the policy instead of the one in force")
AS_OF_PICK = _param("as_of", "query", "Pick the version in force on this date (YYYY-MM-DD); default the newest",
                    pattern=DATE)


def _service_components() -> dict:
    """The service's own envelopes; their members reference the project's schemas."""
    problem = {
        "type": "object", "required": ["code", "message"],
        "properties": {k: {"type": "string"} for k in ("code", "message", "file", "path", "hint")}
        | {"line": {"type": "integer"}, "column": {"type": "integer"}},
    }
    pool = {
        "description": "The pool drawn from, in the request (never a path): CSV text with a header row, JSON "
                       "lines text, or an array of rows (objects of expert facts, id first)",
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
    }
    return {
        "error": {
            "type": "object", "required": ["error", "problems"],
            "description": "The command line's error JSON: the first problem's code, and every problem",
            "properties": {"error": {"type": "string"}, "problems": {"type": "array", "items": problem},
                           "line": {"type": "integer"}, "differences": {"type": "array", "items": {"type": "object"}}},
        },
        "pool": pool,
        "policy_version": {
            "type": "object", "required": ["id", "version", "title", "in_force", "decisions", "selection", "sha256"],
            "properties": {"id": {"type": "string"}, "version": {"type": "string"}, "title": {"type": "string"},
                           "document_number": {"type": ["string", "null"]},
                           "in_force": {"type": "object", "required": ["from", "until"],
                                        "properties": {"from": {"type": "string"},
                                                       "until": {"type": ["string", "null"]}}},
                           "decisions": {"type": "array", "items": {"type": "string"}},
                           "selection": {"type": "array", "items": {"type": "string"}},
                           "sha256": {"type": "string"}},
        },
        "facts": {
            "type": "object", "description": "Fact name -> type, description, values, attested, kinds "
                                             "(as `policy-engine facts --format json`)",
            "additionalProperties": {"type": "object", "required": ["type", "description"]},
        },
        "draw_body": {
            "type": "object", "required": ["request", "pool"], "additionalProperties": False,
            "properties": {"request": _ref("draw-request"), "pool": _ref("pool"),
                           "seed": {"type": "string", "description": "Hex, at least 16 bytes; default a new one, "
                                                                     "recorded in the receipt"},
                           "commitment": {"type": "string", "description": "SHA-256 of the seed, published before"},
                           "version": {"type": "string", "description": "A version instead of the one in force on "
                                                                        "the request's date"}},
        },
        "replenish_body": {
            "type": "object", "required": ["receipt", "pool", "answers"], "additionalProperties": False,
            "properties": {"receipt": _ref("receipt"), "pool": _ref("pool"),
                           "answers": {"type": "object", "additionalProperties": {"type": "string"},
                                       "description": "Expert id -> accepted | declined | no_answer | recused"}},
        },
        "verify_body": {
            "type": "object", "required": ["receipt", "pool"], "additionalProperties": False,
            "properties": {"receipt": _ref("receipt"), "pool": _ref("pool")},
        },
        "verification": {
            "type": "object", "required": ["ok", "differences", "violations", "kinds"],
            "properties": {"ok": {"type": "boolean"},
                           "differences": {"type": "array", "items": {
                               "type": "object", "required": ["kind", "path", "receipt", "recomputed", "message"]}},
                           "violations": {"type": "array", "description": "Breaches of the draw protocol, by kind",
                                          "items": {"type": "object", "required": ["kind", "path", "message"]}},
                           "kinds": {"type": "array", "items": {"type": "string"}},
                           "warnings": {"type": "array", "items": {"type": "string"},
                                        "description": "e.g. a receipt made without the draw protocol"},
                           "receipt_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                                              "description": "The receipt's hash, for a later draw's history"}},
        },
        "panel_body": {
            "type": "object", "required": ["panel"], "additionalProperties": False,
            "properties": {"panel": _ref("panel-request"), "pool": _ref("pool"),
                           "version": {"type": "string"}},
        },
        "status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
        "log_record": {
            "type": "object", "description": "One record of the audit log (policy_engine/audit/log.py): hash = "
            "SHA-256 of the canonical JSON of {seq, kind, at, request, answer, policy, engine, prev}",
            "required": ["seq", "kind", "at", "request", "answer", "policy", "engine", "prev", "hash"],
            "properties": {"seq": {"type": "integer", "minimum": 1}, "kind": {"type": "string"},
                           "at": {"type": "string"}, "request": {}, "answer": {},
                           "policy": {"type": ["object", "null"]}, "engine": {"type": "object"},
                           "prev": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                           "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
        },
        "log_records": {"type": "object", "required": ["records"], "additionalProperties": False,
                        "properties": {"records": {"type": "array", "items": {"$ref": "#/components/schemas/log_record"}}}},
        "log_verification": {
            "type": "object", "required": ["ok", "records", "head", "problems"], "additionalProperties": False,
            "properties": {"ok": {"type": "boolean"}, "records": {"type": "integer", "minimum": 0},
                           "head": {"type": ["string", "null"], "description": "The last record's hash: publish it "
                                    "(an anchor) so a log cut short is caught later"},
                           "problems": {"type": "array", "items": {
                               "type": "object", "required": ["seq", "kind", "message"],
                               "properties": {"seq": {"type": ["integer", "null"]},
                                              "kind": {"enum": ["edited", "chain", "missing", "order", "malformed",
                                                                "anchor", "header"]},
                                              "record_kind": {"type": ["string", "null"]},
                                              "message": {"type": "string"}}}}},
        },
    }


def document() -> dict:
    comps = _embedded() | _service_components()
    verdict = _json(_ref("verdict"), "The verdict (schemas/verdict.schema.json)")
    receipt = _json(_ref("receipt"), "The receipt (schemas/receipt.schema.json)")
    paths = {
        "/healthz": {"get": {"operationId": "health", "summary": "The process answers",
                             "responses": {"200": _json(_ref("status"), "ok")}}},
        "/readyz": {"get": {"operationId": "ready", "summary": "The policies are loaded and verified",
                            "responses": {"200": _json(_ref("status"), "ready, with the number of policies")}}},
        "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                  "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
        "/v1/schemas/{name}": {"get": {
            "operationId": "schema", "summary": "One of the project's JSON Schemas (schemas/<name>)",
            "parameters": [_param("name", "path", "A file name of schemas/, e.g. verdict.schema.json")],
            "responses": {"200": {"description": "The schema file",
                                  "content": {"application/schema+json": {"schema": {"type": "object"}}}},
                          **_errors("404")}}},
        "/v1/policies": {"get": {
            "operationId": "listPolicies", "summary": "Every policy version loaded",
            "responses": {"200": _json({"type": "array", "items": _ref("policy_version")}, "Newest first per policy")}}},
        "/v1/policies/{policy_id}": {"get": {
            "operationId": "getPolicy", "summary": "The versions of one policy", "parameters": [POLICY],
            "responses": {"200": _json({"type": "array", "items": _ref("policy_version")}, "Newest first"),
                          **_errors("404")}}},
        "/v1/policies/{policy_id}/facts": {"get": {
            "operationId": "getFacts", "summary": "The facts a case may state", "parameters": [POLICY, AS_OF_PICK, VERSION],
            "responses": {"200": _json(_ref("facts"), "The facts"), **_errors("400", "404")}}},
        "/v1/policies/{policy_id}/case-schema": {"get": {
            "operationId": "getCaseSchema", "summary": "The JSON Schema (Draft 2020-12) of the policy's cases",
            "parameters": [POLICY, AS_OF_PICK, VERSION],
            "responses": {"200": _json({"type": "object"}, "As `policy-engine facts --format schema`"),
                          **_errors("400", "404")}}},
        "/v1/policies/{policy_id}/decisions/{decision}": {"post": {
            "operationId": "decide", "summary": "Decide one case",
            "parameters": [POLICY, _param("decision", "path", "entry, exit, recusal, deadline, sanction, ... "
                                          "(GET /v1/policies lists each policy's)"),
                           _param("as_of", "query", "The date the question is asked for (YYYY-MM-DD)", True, DATE),
                           VERSION],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "description": "The case: facts by namespace; its schema at "
                                                 "/v1/policies/{policy_id}/case-schema"}}}},
            "responses": {"200": verdict, **_errors("400", "404", "413", "422", "500", "503")}}},
        "/v1/decisions": {"post": {
            "operationId": "decideMany",
            "summary": "Decide many cases: JSON lines in, one record a line out, streamed, in order",
            "description": "Each line is a case or an envelope {case, policy, decision, as_of, version}; the query "
                           "gives the defaults, as `decide --cases`. A record is a verdict or an error record "
                           f"{{error, line, problems}}. Lines at most {MAX_LINE >> 20} MiB; decided by chunks of "
                           f"{CHUNK_CASES} lines, each within the time limit.",
            "parameters": [_param("policy", "query", "Default policy id"),
                           _param("decision", "query", "Default decision"),
                           _param("as_of", "query", "Default date (YYYY-MM-DD)", pattern=DATE),
                           _param("version", "query", "Default version")],
            "requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
            "responses": {"200": {"description": "One record a line: a verdict (schemas/verdict.schema.json) or "
                                                 "an error record",
                                  "content": {"application/x-ndjson": {
                                      "schema": {"type": "string"},
                                      "x-item-schema": {"oneOf": [_ref("verdict"), _ref("error")]}}}},
                          **_errors("400", "413")}}},
        "/v1/policies/{policy_id}/draws": {"post": {
            "operationId": "draw", "summary": "Draw a panel at random, verifiably", "parameters": [POLICY],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("draw_body")}}},
            "responses": {"200": receipt, **_errors("400", "404", "413", "422", "500", "503")}}},
        "/v1/draws/replenish": {"post": {
            "operationId": "replenish", "summary": "Record answers and replace those who cannot serve",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("replenish_body")}}},
            "responses": {"200": receipt,
                          "409": _json(_ref("error"), "The receipt does not verify against the pool (receipt_invalid, "
                                                      "with the differences)"),
                          **_errors("400", "404", "413", "422", "500", "503")}}},
        "/v1/draws/verify": {"post": {
            "operationId": "verifyDraw", "summary": "Recompute a draw from its receipt and the pool",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("verify_body")}}},
            "responses": {"200": _json(_ref("verification"), "ok, and every difference named"),
                          **_errors("400", "404", "413", "422", "500", "503")}}},
        "/v1/log/records": {"get": {
            "operationId": "logRecords", "summary": "The audit log's records, read-only (serve --log URL)",
            "parameters": [_param("kind", "query", "Only records of this kind (repeatable)"),
                           _param("since", "query", "Records after this seq (default 0)", pattern=r"^\d+$"),
                           _param("limit", "query", "At most this many (default 100, at most 1000)",
                                  pattern=r"^\d+$")],
            "responses": {"200": _json({"$ref": "#/components/schemas/log_records"}, "The records in seq order"),
                          **_errors("400", "404", "503")}}},
        "/v1/log/verify": {"get": {
            "operationId": "logVerify", "summary": "Check the audit log's hash chain whole",
            "responses": {"200": _json({"$ref": "#/components/schemas/log_verification"},
                                       "ok, the number of records, the head to publish, each break by kind"),
                          **_errors("404", "503")}}},
        "/v1/policies/{policy_id}/panel-checks": {"post": {
            "operationId": "checkPanel", "summary": "Check a panel as formed", "parameters": [POLICY],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("panel_body")}}},
            "responses": {"200": verdict, **_errors("400", "404", "413", "422", "500", "503")}}},
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "policy-engine", "version": __version__,
                 "description": "Verdicts with verbatim citations, verifiable draws and panel checks over the "
                                "policies loaded at start. Errors: {error, problems} with the command line's codes.",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "paths": paths,
        "components": {"schemas": comps},
    }


@functools.cache
def document_bytes() -> bytes:
    return json.dumps(document(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
