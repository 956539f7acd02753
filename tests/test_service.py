"""policy-engine serve: the real server process on a loopback port, spoken to over HTTP.

Each endpoint against what the command line and the goldens answer; the OpenAPI document
validated (openapi-spec-validator) and compared with the routes the application serves, and
every answer checked against the schema the document declares for it; errors with the command
line's codes and their HTTP status; limits (body size, line length, time); graceful shutdown;
several workers; the audit hook with an in-memory log.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from service_server import ROOT, Server

XJ = "xj-iit-expert-pool"
FIX = ROOT / "fixtures" / XJ
POOL = ROOT / "fixtures" / "pools" / "xj-pool.csv"
DRAW = FIX / "draw" / "five-experts-fifteen-candidates.yaml"
PANEL = FIX / "panel" / "drawn-under-supervision.yaml"
ENTRY = FIX / "entry" / "eligible-senior-engineer.yaml"
SERVE = [sys.executable, "-m", "policy_engine", "serve"]


def fixture(path: Path) -> dict:
    """A fixture as JSON sees it: YAML dates as text."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def golden(path: Path, suffix: str) -> dict:
    return json.loads(path.with_name(path.stem + suffix).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def server():
    s = Server(SERVE)
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def doc(server):
    status, document = server.get("/openapi.json")
    assert status == 200
    return document


def declared(doc: dict, template: str, method: str, status: int, media: str = "application/json") -> dict:
    """The schema the document declares for that answer (KeyError when it declares none)."""
    content = doc["paths"][template][method]["responses"][str(status)]["content"][media]
    return content.get("x-item-schema", content["schema"])


def conforms(doc: dict, template: str, method: str, status: int, body, media: str = "application/json") -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **declared(doc, template, method, status, media),
              "components": doc["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)


# ---------------------------------------------------------------------------------------------
# The contract: /openapi.json


def test_the_openapi_document_is_valid_openapi_3_1(doc):
    from openapi_spec_validator import validate
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_route_served_is_in_the_document_and_every_documented_route_is_served(doc):
    from policy_engine.policy.registry import Registry
    from policy_engine.service.app import create_app
    app = create_app(Registry.of(()))
    served = {(r.path, m.lower()) for r in app.routes for m in (r.methods or ()) if m != "HEAD"}
    documented = {(p, m) for p, item in doc["paths"].items() for m in item}
    assert served == documented


def test_the_document_embeds_the_projects_schemas_not_a_copy(server, doc):
    """components.schemas.verdict is schemas/verdict.schema.json with its references rebased; the
    files themselves are served as they are."""
    for name in ("verdict", "receipt", "draw-request", "panel-request"):
        text = (ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
        rebased = text.replace('"#/$defs/', f'"#/components/schemas/{name}/$defs/').replace(
            '"verdict.schema.json#/', '"#/components/schemas/verdict/')
        expected = json.loads(rebased)
        expected.pop("$id", None)
        assert doc["components"]["schemas"][name] == expected
        status, _, raw = server.request("GET", f"/v1/schemas/{name}.schema.json")
        assert status == 200 and raw == text.encode("utf-8")
    status, body = server.get("/v1/schemas/..%2Fpyproject.toml")
    assert status == 404 and body["error"] == "not_found"


# ---------------------------------------------------------------------------------------------
# Endpoints


def test_health_and_readiness(server, doc):
    status, body = server.get("/healthz")
    assert status == 200 and body["status"] == "ok"
    conforms(doc, "/healthz", "get", 200, body)
    status, body = server.get("/readyz")
    assert status == 200 and body["status"] == "ready" and body["policies"] >= 7
    conforms(doc, "/readyz", "get", 200, body)


def test_policies_and_versions_are_the_command_lines_list_without_paths(server, doc):
    out = subprocess.run([sys.executable, "-m", "policy_engine", "list", "--format", "json"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout)
    for row in rows:
        del row["file"]  # no path of the server's machine goes out
    status, body = server.get("/v1/policies")
    assert status == 200 and body == rows
    conforms(doc, "/v1/policies", "get", 200, body)
    status, body = server.get(f"/v1/policies/{XJ}")
    assert status == 200 and body == [r for r in rows if r["id"] == XJ]
    conforms(doc, "/v1/policies/{policy_id}", "get", 200, body)
    status, body = server.get("/v1/policies/no-such-policy")
    assert status == 404 and body["error"] == "unknown_policy"
    conforms(doc, "/v1/policies/{policy_id}", "get", 404, body)


def test_facts_and_case_schema_are_those_of_the_facts_command(server, doc):
    for fmt, path in (("json", "facts"), ("schema", "case-schema")):
        out = subprocess.run([sys.executable, "-m", "policy_engine", "facts", "--policy", XJ, "--format", fmt],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        status, body = server.get(f"/v1/policies/{XJ}/{path}")
        assert status == 200 and body == json.loads(out.stdout)
        conforms(doc, f"/v1/policies/{{policy_id}}/{path}", "get", 200, body)
    status, body = server.get(f"/v1/policies/{XJ}/facts?as_of=2026-02-30")
    assert status == 400 and body["error"] == "case_invalid"
    status, body = server.get(f"/v1/policies/{XJ}/case-schema?version=1999-01-01")
    assert status == 404 and body["error"] == "unknown_version"
    conforms(doc, "/v1/policies/{policy_id}/case-schema", "get", 404, body)


def test_one_decision_is_the_golden_verdict(server, doc):
    fx = fixture(ENTRY)
    status, body = server.post(f"/v1/policies/{XJ}/decisions/entry?as_of={fx['as_of']}", fx["case"])
    assert status == 200
    assert body == golden(ENTRY, ".verdict.json")
    conforms(doc, "/v1/policies/{policy_id}/decisions/{decision}", "post", 200, body)
    # a version pinned, and the golden fixture itself (YAML) as the body
    version = body["policy"]["version"]
    status, _, raw = server.request("POST", f"/v1/policies/{XJ}/decisions/entry?as_of={fx['as_of']}&version={version}",
                                    ENTRY.read_bytes(), "application/yaml")
    assert status == 200 and json.loads(raw) == body


@pytest.mark.parametrize("path, body, status, code", [
    (f"/v1/policies/{XJ}/decisions/entry?as_of=2026-11-23", b'{"expert": ', 400, "case_invalid"),
    (f"/v1/policies/{XJ}/decisions/entry?as_of=2026-11-23", b'{"a": 1, "a": 2}', 400, "case_invalid"),
    (f"/v1/policies/{XJ}/decisions/entry", b"{}", 400, "bad_request"),
    (f"/v1/policies/{XJ}/decisions/entry?as_of=23.11.2026", b"{}", 400, "case_invalid"),
    ("/v1/policies/nope/decisions/entry?as_of=2026-11-23", b"{}", 404, "unknown_policy"),
    (f"/v1/policies/{XJ}/decisions/entry?as_of=2026-11-23&version=1999-01-01", b"{}", 404, "unknown_version"),
    (f"/v1/policies/{XJ}/decisions/entry?as_of=1990-01-01", b"{}", 404, "not_in_force"),
    (f"/v1/policies/{XJ}/decisions/nonsense?as_of=2026-11-23", b"{}", 404, "unsupported_decision"),
    (f"/v1/policies/{XJ}/decisions/entry?as_of=2026-11-23", b'{"expert": {"birth_date": 5}}', 422, "case_invalid"),
    (f"/v1/policies/{XJ}/decisions/entry?as_of=2026-11-23", b'{"nobody": {"knows": 1}}', 422, "case_invalid"),
])
def test_refusals_carry_the_command_lines_codes_and_the_right_status(server, doc, path, body, status, code):
    got, ctype, raw = server.request("POST", path, body)
    answer = json.loads(raw)
    assert (got, answer["error"]) == (status, code), answer
    assert ctype == "application/json" and "Traceback" not in raw.decode()
    assert all(p["code"] for p in answer["problems"])
    conforms(doc, "/v1/policies/{policy_id}/decisions/{decision}", "post", status, answer)


def test_unknown_endpoints_and_methods_answer_json(server):
    status, body = server.get("/v2/anything")
    assert status == 404 and body["error"] == "not_found"
    status, _, raw = server.request("DELETE", "/v1/policies")
    assert status == 405 and json.loads(raw)["error"] == "method_not_allowed"


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    from policy_engine.service.app import MAX_BODY
    conn = server.connection()
    conn.putrequest("POST", f"/v1/policies/{XJ}/decisions/entry?as_of=2026-11-23")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()  # the body is never sent: the answer comes on the header alone
    answer = conn.getresponse()
    assert answer.status == 413 and json.loads(answer.read())["error"] == "file_too_large"
    conn.close()


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(server):
    from policy_engine.service.app import MAX_BODY
    conn = server.connection()
    block = b" " * (1 << 20)

    def chunks():
        for _ in range((MAX_BODY >> 20) + 2):
            yield block
    try:
        conn.request("POST", f"/v1/policies/{XJ}/draws", body=chunks(), headers={"Content-Type": "application/json"},
                     encode_chunked=True)
        answer = conn.getresponse()
        assert answer.status == 413 and json.loads(answer.read())["error"] == "file_too_large"
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed while the client was still sending: also a refusal
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Many cases: JSON lines in and out, as `decide --cases`


def test_many_cases_stream_the_records_of_decide_cases(server, doc):
    from policy_engine.batch import Defaults, decide_many
    from policy_engine.policy.registry import Registry, default_policy_dir
    cases = [fixture(p)["case"] for p in sorted((FIX / "entry").glob("*.yaml"))][:8]
    lines = [json.dumps(c, ensure_ascii=False) for c in cases]
    lines += ["", "not json", json.dumps({"case": {}, "policy": "nope"}),
              json.dumps({"case": cases[0], "decision": "exit"}), "[1]", json.dumps({"expert": {"birth_date": 5}})]
    body = "\n".join(lines).encode()
    query = f"?policy={XJ}&decision=entry&as_of=2026-11-23"
    status, ctype, raw = server.request("POST", "/v1/decisions" + query, body, "application/x-ndjson")
    assert status == 200 and ctype == "application/x-ndjson"
    expected = "".join(r.text for r in decide_many(lines, Registry.load(default_policy_dir()),
                                                   Defaults(XJ, "entry", "2026-11-23"), file="<body>"))
    assert raw.decode() == expected
    records = [json.loads(x) for x in raw.decode().splitlines()]
    assert len(records) == len(lines) - 1  # the blank line gives no record
    assert [r.get("line") for r in records if "error" in r] == [10, 11, 13, 14]
    for record in records:
        conforms(doc, "/v1/decisions", "post", 200, record, "application/x-ndjson")


def test_a_line_over_the_limit_is_one_error_record_and_the_stream_goes_on(server):
    from policy_engine.batch import MAX_LINE
    case = json.dumps(fixture(ENTRY)["case"]).encode()
    body = case + b"\n" + b'{"x": "' + b"a" * (MAX_LINE + 10) + b'"}\n' + case + b"\n"
    status, _, raw = server.request("POST", f"/v1/decisions?policy={XJ}&decision=entry&as_of=2026-11-23", body,
                                    "application/x-ndjson")
    records = [json.loads(x) for x in raw.decode().splitlines()]
    assert status == 200 and len(records) == 3
    assert "outcome" in records[0] and "outcome" in records[2]
    assert records[1]["error"] == "case_invalid" and records[1]["line"] == 2 and "longer" in records[1]["problems"][0]["message"]


def test_many_cases_over_the_stream_limit_are_refused_on_the_header(server):
    from policy_engine.service.app import MAX_STREAM
    conn = server.connection()
    conn.putrequest("POST", f"/v1/decisions?policy={XJ}")
    conn.putheader("Content-Length", str(MAX_STREAM + 1))
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 413 and json.loads(answer.read())["error"] == "file_too_large"
    conn.close()


# ---------------------------------------------------------------------------------------------
# Draws, replenishment, verification, panels: pools in the body


def _pool_rows() -> list[dict]:
    """The rows of the CSV pool as JSON objects (a list cell: items separated by ;, an empty one [])."""
    lists = ("fields", "specialties", "employer_affiliated_units", "close_relatives", "major_interest_persons",
             "major_economic_interest_units")
    out = []
    for row in csv.DictReader(io.StringIO(POOL.read_text(encoding="utf-8"))):
        out.append({k: (v.split(";") if v else []) if k in lists else v for k, v in row.items() if v or k in lists})
    return out


def test_a_draw_is_the_golden_receipt_and_verifies(server, doc):
    fx = fixture(DRAW)
    body = {"request": fx["case"], "pool": POOL.read_text(encoding="utf-8"), "seed": fx["seed"]}
    status, receipt = server.post(f"/v1/policies/{XJ}/draws", body)
    assert status == 200 and receipt == golden(DRAW, ".receipt.json")
    conforms(doc, "/v1/policies/{policy_id}/draws", "post", 200, receipt)

    # the same pool as an array of rows: the same digest, the same draw
    status, again = server.post(f"/v1/policies/{XJ}/draws", {**body, "pool": _pool_rows()})
    assert status == 200 and again == receipt

    status, result = server.post("/v1/draws/verify", {"receipt": receipt, "pool": body["pool"]})
    assert status == 200 and result["ok"] is True and result["differences"] == [] and result["kinds"] == []
    conforms(doc, "/v1/draws/verify", "post", 200, result)

    edited = POOL.read_text(encoding="utf-8").replace("E002,孙某丙", "E002,孙某乙", 1)
    status, result = server.post("/v1/draws/verify", {"receipt": receipt, "pool": edited})
    assert status == 200 and result["ok"] is False and "pool_changed" in {d["kind"] for d in result["differences"]}

    status, err = server.post("/v1/draws/verify", {"receipt": {"policy": 1}, "pool": body["pool"]})
    assert status == 422 and err["error"] == "receipt_invalid"
    conforms(doc, "/v1/draws/verify", "post", 422, err)


def test_a_draw_with_no_seed_gets_a_new_one_recorded_in_the_receipt(server):
    fx = fixture(DRAW)
    status, a = server.post(f"/v1/policies/{XJ}/draws", {"request": fx["case"], "pool": POOL.read_text(encoding="utf-8")})
    status2, b = server.post(f"/v1/policies/{XJ}/draws", {"request": fx["case"], "pool": POOL.read_text(encoding="utf-8")})
    assert status == status2 == 200 and a["seed"] != b["seed"] and len(a["seed"]) >= 32


def test_replenish_replaces_who_declined_and_the_new_receipt_verifies(server, doc):
    fx = fixture(DRAW)
    pool = POOL.read_text(encoding="utf-8")
    status, receipt = server.post(f"/v1/policies/{XJ}/draws", {"request": fx["case"], "pool": pool, "seed": fx["seed"]})
    first = receipt["selected"][0]
    status, new = server.post("/v1/draws/replenish", {"receipt": receipt, "pool": pool, "answers": {first: "declined"}})
    assert status == 200, new
    assert first not in new["selected"] and new["request"]["answers"] == {first: "declined"}
    conforms(doc, "/v1/draws/replenish", "post", 200, new)
    status, result = server.post("/v1/draws/verify", {"receipt": new, "pool": pool})
    assert result["ok"] is True
    # a receipt that does not verify against the pool is refused, with the differences
    forged = {**receipt, "selected": list(reversed(receipt["selected"]))}
    status, err = server.post("/v1/draws/replenish", {"receipt": forged, "pool": pool, "answers": {}})
    assert status == 409 and err["error"] == "receipt_invalid" and err["differences"]
    conforms(doc, "/v1/draws/replenish", "post", 409, err)


def test_a_panel_check_is_the_golden_verdict(server, doc):
    fx = fixture(PANEL)
    status, verdict = server.post(f"/v1/policies/{XJ}/panel-checks",
                                  {"panel": fx["case"], "pool": POOL.read_text(encoding="utf-8")})
    assert status == 200 and verdict == golden(PANEL, ".verdict.json")
    conforms(doc, "/v1/policies/{policy_id}/panel-checks", "post", 200, verdict)


@pytest.mark.parametrize("body, status, code", [
    ({"request": {"date": "2026-11-20"}, "pool": "fixtures/pools/xj-pool.csv"}, 422, "pool_invalid"),  # text, never opened
    ({"request": {"date": "2026-11-20"}, "pool": 5}, 422, "pool_invalid"),
    ({"request": {"date": "2026-11-20"}}, 400, "bad_request"),
    ({"request": {"date": "2026-11-20"}, "pool": "id\nE1\n", "file": "/etc/passwd"}, 400, "bad_request"),
    ({"request": {}, "pool": "id\nE1\n"}, 422, "request_invalid"),
    ([1, 2], 400, "bad_request"),
])
def test_draw_refusals(server, doc, body, status, code):
    got, answer = server.post(f"/v1/policies/{XJ}/draws", body)
    assert (got, answer["error"]) == (status, code), answer
    conforms(doc, "/v1/policies/{policy_id}/draws", "post", status, answer)


def test_no_endpoint_reads_a_path_the_client_names(server):
    """Names of files in every place a client can put text: each is refused or taken as text."""
    for name in ("/etc/passwd", "../../pyproject.toml", str(POOL)):
        status, body = server.get(f"/v1/schemas/{name.replace('/', '%2F')}")
        assert status == 404
        status, body = server.post(f"/v1/policies/{XJ}/draws", {"request": fixture(DRAW)["case"], "pool": name})
        assert status == 422 and body["error"] == "pool_invalid"
        assert "root:" not in json.dumps(body) and "孙某丙" not in json.dumps(body, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Time limit, graceful shutdown, several workers


def _big_pool(n: int) -> str:
    head, first = POOL.read_text(encoding="utf-8").splitlines()[:2]
    cells = first.split(",")
    return head + "\n" + "\n".join(",".join([f"X{i:06d}", *cells[1:]]) for i in range(n)) + "\n"


def test_a_request_over_the_time_limit_is_503_and_the_server_goes_on():
    s = Server([*SERVE, "--time-limit", "0.1"])
    try:
        fx = fixture(DRAW)
        status, body = s.post(f"/v1/policies/{XJ}/draws", {"request": fx["case"], "pool": _big_pool(60_000),
                                                           "seed": fx["seed"]})
        assert status == 503, body
        assert body["error"] == "request_timeout" and "0.1 s" in body["problems"][0]["message"]
        assert s.get("/healthz")[0] == 200
    finally:
        assert s.stop() == 0


def test_sigterm_lets_the_requests_in_flight_finish():
    s = Server(SERVE)
    # sanction verdicts over three acts, some milliseconds each: the body (under 1 MB, taken whole by the
    # socket's buffers, as this client sends it all before reading) is in, the decisions are not done
    n = 600
    fx = yaml.safe_load((ROOT / "fixtures" / "gov-sanctions-law" / "sanction" /
                         "three-removals-combined-period-capped-at-48-months.yaml").read_text(encoding="utf-8"))
    case = json.dumps(fx["case"], ensure_ascii=False, default=str)
    body = ("\n".join([case] * n) + "\n").encode()
    result: dict = {}

    def send():
        result["answer"] = s.request("POST", f"/v1/decisions?policy=gov-sanctions-law&decision=sanction"
                                             f"&as_of={fx['as_of']}", body, "application/x-ndjson")
    client = threading.Thread(target=send)
    client.start()
    time.sleep(0.5)  # the request is in flight: 600 such decisions take seconds
    assert client.is_alive(), "the request ended before the signal: make it longer"
    s.proc.send_signal(signal.SIGTERM)
    client.join(120)
    status, _, raw = result["answer"]
    assert status == 200 and len(raw.decode().splitlines()) == n
    assert all('"outcome"' in line for line in raw.decode().splitlines())
    assert s.proc.wait(60) == 0  # stopped by the one signal, gracefully
    with pytest.raises(OSError):
        s.get("/healthz")


def test_two_workers_share_the_port_and_stop_together():
    s = Server([*SERVE, "--workers", "2"])
    try:
        children = [c for c in Path(f"/proc/{s.proc.pid}/task/{s.proc.pid}/children").read_text().split()
                    if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]  # multiprocessing's helper
        assert len(children) == 2, children
        fx = fixture(ENTRY)
        pids = set()
        for _ in range(20):
            status, body = s.post(f"/v1/policies/{XJ}/decisions/entry?as_of={fx['as_of']}", fx["case"])
            assert status == 200 and body == golden(ENTRY, ".verdict.json")
            pids.add(s.get("/healthz")[1]["pid"])
        assert pids <= {int(c) for c in children}
    finally:
        assert s.stop() == 0
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()


def test_policies_that_do_not_load_stop_the_server_before_it_listens(tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "1.yaml").write_text("id: [", encoding="utf-8")
    out = subprocess.run([*SERVE, "--port", "0", "--policies", str(bad)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 3 and "serving on" not in out.stderr and "Traceback" not in out.stderr


def test_help_teaches_with_curl_examples():
    out = subprocess.run([*SERVE, "--help"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "curl" in out.stdout and "/v1/policies" in out.stdout and "--workers" in out.stdout


# ---------------------------------------------------------------------------------------------
# The audit hook (Contract L), with an in-memory log; and the internal-error answer


class MemoryLog:
    def __init__(self):
        self.records: list[dict] = []

    def append(self, kind, request, answer, *, policy=None, at):
        json.dumps([request, answer, policy])  # what a real log stores must be JSON
        self.records.append({"kind": kind, "request": request, "answer": answer, "policy": policy, "at": at})


def _call(app, method: str, path: str, query: str = "", body: bytes = b"") -> tuple[int, bytes]:
    """One request through the ASGI interface, in process."""
    sent: list[dict] = []
    received = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": query.encode(), "headers": [], "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    try:
        asyncio.run(app(scope, receive, send))
    except Exception:  # noqa: BLE001 - Starlette re-raises a defect after answering, for the server's log
        pass
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture(scope="module")
def registry():
    from policy_engine.policy.registry import Registry, default_policy_dir
    return Registry.load(default_policy_dir())


def test_every_answer_is_appended_to_the_audit_log_when_there_is_one(registry):
    from policy_engine.service.app import create_app
    log = MemoryLog()
    app = create_app(registry, log=log)
    fx = fixture(ENTRY)
    case = json.dumps(fx["case"]).encode()
    status, raw = _call(app, "POST", f"/v1/policies/{XJ}/decisions/entry", "as_of=2026-11-23", case)
    assert status == 200
    status, _ = _call(app, "POST", f"/v1/policies/{XJ}/decisions/entry", "as_of=2026-11-23", b'{"expert": {"birth_date": 5}}')
    assert status == 422
    status, _ = _call(app, "POST", "/v1/decisions", f"policy={XJ}&decision=entry&as_of=2026-11-23",
                      case + b"\nnot json\n")
    dfx = fixture(DRAW)
    status, receipt = _call(app, "POST", f"/v1/policies/{XJ}/draws", "", json.dumps(
        {"request": dfx["case"], "pool": POOL.read_text(encoding="utf-8"), "seed": dfx["seed"]}).encode())
    assert status == 200
    status, _ = _call(app, "POST", "/v1/draws/verify", "", json.dumps(
        {"receipt": json.loads(receipt), "pool": POOL.read_text(encoding="utf-8")}).encode())
    _call(app, "GET", "/v1/policies")  # not an answer the log keeps
    kinds = [r["kind"] for r in log.records]
    assert kinds == ["verdict", "verdict", "verdict", "verdict", "draw", "verify"]
    first, refused, line1, line2, drawn, verified = log.records
    verdict = json.loads(raw)
    assert first["answer"] == verdict and first["policy"] == verdict["policy"]
    assert first["request"] == {"policy": XJ, "decision": "entry", "as_of": "2026-11-23", "version": None,
                                "case": fx["case"]}
    assert refused["answer"]["error"] == "case_invalid" and refused["policy"] is None
    assert line1["answer"]["outcome"] and line1["request"] == fx["case"]
    assert line2["answer"]["error"] == "case_invalid" and line2["request"] == "not json\n"
    assert drawn["answer"] == json.loads(receipt) and drawn["request"]["seed"] == dfx["seed"]
    assert verified["answer"]["ok"] is True and verified["answer"]["differences"] == []
    for r in log.records:
        assert r["at"].endswith("Z") and r["at"][:4].isdigit()


def test_an_internal_error_is_json_without_a_traceback(registry):
    from policy_engine.service.app import create_app

    class Broken:
        def append(self, *a, **k):
            raise RuntimeError("secret detail /srv/x.py line 3")
    app = create_app(registry, log=Broken())
    status, raw = _call(app, "POST", f"/v1/policies/{XJ}/decisions/entry", "as_of=2026-11-23", b"{}")
    answer = json.loads(raw)
    assert status == 500 and answer["error"] == "internal_error"
    assert "Traceback" not in raw.decode() and "secret" not in raw.decode()


# ---------------------------------------------------------------------------------------------
# The audit log (serve --log): every answer appended, read back read-only

def test_without_a_log_the_log_endpoints_say_so(server):
    status, body = server.get("/v1/log/verify")
    assert status == 404 and body["error"] == "not_found" and "without an audit log" in body["problems"][0]["message"]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_answer_is_in_the_log_and_the_chain_is_whole(tmp_path, workers):
    log = tmp_path / "audit.db"
    s = Server([*SERVE, "--log", log, "--workers", workers])
    try:
        _, document = s.get("/openapi.json")
        fx = fixture(ENTRY)
        status, verdict = s.post(f"/v1/policies/{XJ}/decisions/entry?as_of={fx['as_of']}", fx["case"])
        assert status == 200
        status, refused = s.post(f"/v1/policies/{XJ}/decisions/entry?as_of=1990-01-01", {})
        assert status == 404
        status, records = s.get("/v1/log/records?kind=verdict")
        assert status == 200
        conforms(document, "/v1/log/records", "get", 200, records)
        answers = [r["answer"] for r in records["records"]]
        assert answers == [verdict, refused]  # the refusal too, in the order served
        assert records["records"][0]["policy"]["sha256"] == verdict["policy"]["sha256"]
        status, checked = s.get("/v1/log/verify")
        conforms(document, "/v1/log/verify", "get", 200, checked)
        assert status == 200 and checked["ok"] and checked["records"] == 2 and len(checked["head"]) == 64
        status, bad = s.get("/v1/log/records?limit=x")
        assert status == 400 and bad["error"] == "bad_request"
    finally:
        assert s.stop() == 0
    # the same log, read by the command line afterwards
    from click.testing import CliRunner
    from policy_engine.cli import main
    out = CliRunner().invoke(main, ["log", "verify", "--log", str(log)])
    assert out.exit_code == 0 and "ok: 2 records" in out.output


def test_a_log_that_cannot_be_opened_stops_the_service_before_it_listens(tmp_path):
    done = subprocess.run([*map(str, SERVE), "--log", str(tmp_path / "no" / "such" / "audit.db"), "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 74, done.stderr
    assert "log_unavailable" in done.stderr or "cannot open the SQLite log" in done.stderr
