"""The HTTP service: an ASGI application (Starlette) over the library, for `policy-engine serve`.

Policies are loaded and verified once, before the first request (a Registry, read-only
afterwards). Every answer is the library's own JSON: a verdict (schemas/verdict.schema.json),
a receipt (schemas/receipt.schema.json), a verification; every refusal is the command line's
error JSON `{"error": code, "problems": [...]}` with the same codes (policy_engine/errors.py)
and an HTTP status (STATUS below). No endpoint reads or writes a path the client names: pools
come in the request body, policies are the ones loaded at start, schemas are looked up by name
among the project's own.

Limits (constants below; `serve --time-limit` changes the time): a case at most MAX_CASE
bytes (2 MiB, as a case file), another JSON body at most MAX_BODY bytes (16 MiB) (413 beyond, checked on Content-Length and while reading); a cases stream at
most MAX_STREAM bytes, each line at most batch.MAX_LINE; expressions in requests bounded as
on the command line (policy_engine/policy/limits.py); each request, and each chunk of
batch.CHUNK_CASES lines of a cases stream, at most `time_limit` seconds of work (503
request_timeout beyond; the work runs in a thread so the server keeps answering meanwhile).

Audit: `create_app(..., log=...)` takes an optional audit log (Contract L:
`log.append(kind, request, answer, policy=..., at=...)`); when given, every verdict, draw,
replenishment, verification and panel check served, refusals included, is appended to it,
with the time read here (the engine never reads the clock).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Protocol

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import inputs
from ..batch import CHUNK_CASES, MAX_LINE, Decider, Defaults, error_record
from ..dates import as_date
from ..errors import CaseError, EngineError, Problem, problem
from ..evaluate.engine import decide, decide_governing
from ..evaluate.verdict import Verdict, dumps
from ..policy.registry import Registry
from ..textio import ReadFailure, decode
from ..yamlio import MAX_BYTES, Document
from ..version import __version__
from . import openapi
from .views import case_schema_of, facts_json, policy_rows

MAX_CASE = MAX_BYTES  # bytes of one case (JSON or YAML), as `decide` reads a case file: 2 MiB
MAX_BODY = 16 << 20  # bytes of the other JSON bodies (a draw's pool travels in it)
MAX_STREAM = 256 << 20  # bytes of a cases stream (POST /v1/decisions), each line at most batch.MAX_LINE
TIME_LIMIT = 30.0  # seconds of work per request (per chunk of a cases stream)
JSON = "application/json"
JSON_LINES = "application/x-ndjson"

# HTTP status of each error code; a code not listed: 422 (the content is refused).
STATUS = {
    "bad_request": 400,
    "not_found": 404, "unknown_policy": 404, "unknown_version": 404, "not_in_force": 404, "unsupported_decision": 404,
    "method_not_allowed": 405,
    "file_too_large": 413,
    "internal_error": 500,
    "request_timeout": 503,
    "log_unavailable": 503,
}


class AuditLog(Protocol):
    """What the service needs of an audit log (policy_engine.audit.log.AuditLog)."""

    def append(self, kind: str, request: Any, answer: Any, *, policy: Mapping[str, str] | None = None,
               at: str) -> Any: ...

    def records(self, kinds: Any = None, since: int = 0, limit: int | None = None) -> Any: ...

    def check(self) -> Any: ...


class Refused(Exception):
    """An error answer: its status and the error JSON."""

    def __init__(self, status: int, body: dict):
        super().__init__(body.get("error"))
        self.status = status
        self.body = body


def refusal(exc: EngineError, status: int | None = None) -> Refused:
    return Refused(status or STATUS.get(exc.code, 422), exc.to_json())


def bad_request(message: str, code: str = "bad_request", **where) -> Refused:
    return refusal(EngineError([problem(code, message, **where)]))


@dataclass
class Service:
    registry: Registry
    log: AuditLog | None = None
    time_limit: float = TIME_LIMIT

    # -- helpers

    async def work(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in a thread, at most time_limit seconds (then 503 request_timeout)."""
        try:
            with anyio.fail_after(self.time_limit):
                return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
        except TimeoutError:
            raise bad_request(f"the request took longer than the service's limit of {self.time_limit:g} s",
                              "request_timeout") from None

    def record(self, kind: str, request: Any, answer: Any, policy: Any = None) -> None:
        """Append one answer to the audit log, when there is one (Contract L)."""
        if self.log is None:
            return
        ident = None
        if policy is not None:
            ident = {"id": policy.id, "version": policy.version, "sha256": policy.sha256}
        elif isinstance(answer, Mapping) and isinstance(answer.get("policy"), Mapping):
            ident = {k: answer["policy"][k] for k in ("id", "version", "sha256") if k in answer["policy"]}
        self.log.append(kind, request, answer, policy=ident, at=now())  # LogError: the answer is withheld (503)

    async def audited(self, kind: str, request: Any, compute: Callable[[], tuple[Any, Any]]) -> Response:
        """Run `compute` (-> (answer JSON, policy)) as work, record it (refusals too) and answer."""
        def job() -> tuple[int, Any]:
            try:
                answer, policy = compute()
                status = 200
            except EngineError as exc:
                refused = refusal(exc)
                answer, policy, status = refused.body, None, refused.status
            except Refused as exc:
                answer, policy, status = exc.body, None, exc.status
            if isinstance(answer, Verdict):  # its text from kept fragments: the bytes of dumps(to_json())
                if self.log is not None:
                    self.record(kind, request, answer.to_json(), policy)
                return status, answer.dumps(compact=True).encode("utf-8")
            self.record(kind, request, answer, policy)
            return status, answer
        status, answer = await self.work(job)
        if isinstance(answer, bytes):
            return Response(answer, status_code=status, media_type=JSON)
        return json_response(answer, status)

    # -- endpoints

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok", "engine": __version__, "pid": os.getpid()})

    async def readyz(self, request: Request) -> Response:
        ids = self.registry.ids()
        return json_response({"status": "ready", "policies": len(ids),
                              "versions": sum(len(self.registry.versions(i)) for i in ids)})

    # -- the audit log, read-only, for auditors

    def _log(self) -> AuditLog:
        if self.log is None:
            raise bad_request("this service runs without an audit log (serve --log URL)", "not_found")
        return self.log

    async def log_records(self, request: Request) -> Response:
        """The log's records, in seq order: ?kind= (repeatable), ?since=SEQ, ?limit=N (at most 1000)."""
        log = self._log()
        query = request.query_params
        try:
            since = int(query.get("since", "0"))
            limit = min(int(query.get("limit", "100")), 1000)
        except ValueError:
            raise bad_request("since and limit are whole numbers") from None
        if since < 0 or limit < 1:
            raise bad_request("since is at least 0 and limit at least 1")
        kinds = query.getlist("kind") or None

        def read() -> list:
            return [r.to_json() for r in log.records(kinds=kinds, since=since, limit=limit)]
        return json_response({"records": await self.work(read)})

    async def log_verify(self, request: Request) -> Response:
        """The hash chain checked whole: ok, the problems by kind, the count and the head to publish."""
        log = self._log()
        problems, count, head = await self.work(log.check)
        return json_response({"ok": not problems, "records": count, "head": head,
                              "problems": [{"seq": p.seq, "kind": p.kind, "record_kind": p.record_kind,
                                            "message": p.message} for p in problems]})

    async def openapi_json(self, request: Request) -> Response:
        return Response(openapi.document_bytes(), media_type=JSON)

    async def schema(self, request: Request) -> Response:
        name = request.path_params["name"]
        found = openapi.project_schema_bytes(name)
        if found is None:
            raise bad_request(f"no schema named {name!r}; the schemas are listed in /openapi.json", "not_found")
        return Response(found, media_type="application/schema+json")

    async def policies(self, request: Request) -> Response:
        return json_response(policy_rows(self.registry))

    async def policy(self, request: Request) -> Response:
        pid = request.path_params["policy_id"]
        try:
            self.registry.versions(pid)
        except EngineError as exc:
            raise refusal(exc) from None
        return json_response(policy_rows(self.registry, pid))

    def _version(self, request: Request) -> Any:
        """The policy of the path: ?version= pinned, else in force ?as_of=, else the newest."""
        pid = request.path_params["policy_id"]
        q = request.query_params
        try:
            if q.get("version"):
                return self.registry.get(pid, q["version"])
            if q.get("as_of"):
                return self.registry.in_force(pid, query_date(q["as_of"]))
            return self.registry.versions(pid)[0]
        except EngineError as exc:
            raise refusal(exc) from None

    async def facts(self, request: Request) -> Response:
        return json_response(facts_json(self._version(request)))

    async def case_schema(self, request: Request) -> Response:
        return json_response(case_schema_of(self._version(request)))

    async def decision(self, request: Request) -> Response:
        pid, decision = request.path_params["policy_id"], request.path_params["decision"]
        q = request.query_params
        as_of, version = q.get("as_of"), q.get("version") or None
        if not as_of:
            raise bad_request("as_of is required: the date the question is asked for", path="as_of",
                              hint="?as_of=2026-11-23 (the service does not guess today's date)")
        day = query_date(as_of)
        raw = await body(request, MAX_CASE)
        doc = inputs.fixture_case(load(raw, inputs.CASE))
        asked = {"policy": pid, "decision": decision, "as_of": as_of, "version": version, "case": doc.data}

        def compute() -> tuple[Any, Any]:
            try:
                if version:
                    policy = self.registry.get(pid, version)
                    verdict = decide(policy, decision, doc.data, day, case_file=doc.file)
                else:
                    verdict, policy = decide_governing(self.registry, pid, decision, doc.data, day, case_file=doc.file)
            except CaseError as exc:
                raise inputs.locate(exc, doc) from None
            return verdict, policy
        return await self.audited("verdict", asked, compute)

    async def decisions(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A raw ASGI endpoint: the body is read while the answer is written, line by line."""
        request = Request(scope, receive)
        q = request.query_params
        try:
            if q.get("as_of"):
                query_date(q["as_of"])
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > MAX_STREAM:
                raise too_large("cases stream", MAX_STREAM)
        except Refused as exc:
            await error_response(exc)(scope, receive, send)
            return
        defaults = Defaults(q.get("policy") or None, q.get("decision") or None, q.get("as_of") or None,
                            q.get("version") or None)
        decider = Decider(self.registry, defaults, "<body>")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", JSON_LINES.encode())]})
        try:
            async for text in self._stream(decider, request):
                await send({"type": "http.response.body", "body": text, "more_body": True})
        except ClientDisconnect:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(self, decider: Decider, request: Request) -> AsyncIterator[bytes]:
        """The cases of the body, decided by chunks as they arrive: one record a case, in order."""
        def chunk(items: list[tuple[int, Any]]) -> bytes:
            out = []
            for (line, payload), rec in zip(items, decider.records(items)):  # decided together (engine.decide_many)
                out.append(rec.text)
                if self.log is not None:
                    self.record("verdict", _asked(payload), json.loads(rec.text))
            return "".join(out).encode("utf-8")

        items: list[tuple[int, Any]] = []
        try:
            async for line, payload in _lines(request):
                items.append((line, payload))
                if len(items) >= CHUNK_CASES:
                    yield await self.work(chunk, items)
                    items = []
            if items:
                yield await self.work(chunk, items)
        except Refused as exc:  # the stream is already answering 200: the error is its last record
            line = items[0][0] if items else 0
            yield (dumps({**exc.body, "line": line}, compact=True)).encode("utf-8")

    async def draw(self, request: Request) -> Response:
        from ..selection.draw import draw, new_seed
        pid = request.path_params["policy_id"]
        data = await json_body(request, inputs.REQUEST, "draw")
        fields(data, required=("request", "pool"), optional=("seed", "commitment", "version"), what="draw")

        def compute() -> tuple[Any, Any]:
            req = inputs.fixture_case(Document(data["request"], {}, "<request>"))
            policy = dated_policy(self.registry, pid, text_field(data, "version"), req.data, "draw request")
            pool = pool_of(data["pool"], policy)
            seed = text_field(data, "seed") or new_seed()  # the service, not the engine, reads randomness
            receipt = draw(policy, pool, req, seed, text_field(data, "commitment"))
            return receipt.to_json(), policy
        return await self.audited("draw", data, compute)

    async def replenish(self, request: Request) -> Response:
        from ..selection.draw import draw, verify
        data = await json_body(request, inputs.REQUEST, "replenishment")
        fields(data, required=("receipt", "pool", "answers"), optional=(), what="replenishment")

        def compute() -> tuple[Any, Any]:
            receipt = checked_receipt(data["receipt"])
            policy = self.registry.get(*inputs.receipt_policy(receipt))
            pool = pool_of(data["pool"], policy)
            result = verify(self.registry, pool, receipt)
            if not result.ok:
                raise Refused(409, {"error": "receipt_invalid", "problems": [
                    problem("receipt_invalid", d.message, path=d.path or None).to_json() for d in result.differences],
                    "differences": [d.to_json() for d in result.differences]})
            answers = inputs.load(dumps(data["answers"]), "<answers>", inputs.ANSWERS).data
            req = dict(receipt.data["request"])
            req["answers"] = {**(req.get("answers") or {}), **answers}
            new = draw(policy, pool, req, receipt.data["seed"], receipt.data.get("commitment"))
            return new.to_json(), policy
        return await self.audited("replenish", data, compute)

    async def verify(self, request: Request) -> Response:
        from ..selection.draw import verify
        data = await json_body(request, inputs.REQUEST, "verification")
        fields(data, required=("receipt", "pool"), optional=(), what="verification")

        def compute() -> tuple[Any, Any]:
            receipt = checked_receipt(data["receipt"])
            policy = self.registry.get(*inputs.receipt_policy(receipt))
            result = verify(self.registry, pool_of(data["pool"], policy), receipt)
            return result.to_json(), policy
        return await self.audited("verify", data, compute)

    async def panel(self, request: Request) -> Response:
        from ..selection.panel import check_panel
        from ..selection.pool import Pool
        from types import MappingProxyType
        pid = request.path_params["policy_id"]
        data = await json_body(request, inputs.REQUEST, "panel check")
        fields(data, required=("panel",), optional=("pool", "version"), what="panel check")

        def compute() -> tuple[Any, Any]:
            doc = inputs.fixture_case(Document(data["panel"], {}, "<panel>"))
            policy = dated_policy(self.registry, pid, text_field(data, "version"), doc.data, "panel")
            pool = (pool_of(data["pool"], policy) if data.get("pool") is not None
                    else Pool("(no pool given)", (), MappingProxyType({}), ""))
            return check_panel(policy, pool, doc).to_json(), policy
        return await self.audited("panel", data, compute)


# ---------------------------------------------------------------------------------------------
# Reading requests


def now() -> str:
    """The time of an audit record, as the command line writes it: UTC to the second (the seq orders records)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def query_date(value: str) -> _dt.date:
    try:
        return as_date(value)
    except EngineError as exc:
        raise refusal(exc, 400) from None


def too_large(what: str, limit: int) -> Refused:
    return bad_request(f"the {what} is larger than the service accepts ({limit >> 20} MiB)", "file_too_large",
                       hint="split it into several requests")


async def body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The whole body, at most `limit` bytes (413 file_too_large beyond)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large("request body", limit)
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise too_large("request body", limit)
        parts.append(part)
    return b"".join(parts)


def load(raw: bytes, kind: str, what: str | None = None) -> Any:
    """A JSON (or YAML) body read as the command line reads a file; 400 when it cannot be read."""
    try:
        return inputs.load(raw, "<body>", kind, what)
    except CaseError as exc:
        raise refusal(exc, STATUS.get(exc.code, 400)) from None


async def json_body(request: Request, kind: str, what: str) -> dict:
    """A JSON object of at most MAX_BODY bytes, with the checks of every document (nesting,
    duplicate keys, lone surrogates: inputs.parse_json); 400 when it cannot be read."""
    raw = await body(request)
    code = "request_invalid"
    try:
        data = inputs.parse_json(decode(raw, "<body>", code, what), "<body>", code)
    except ReadFailure as exc:
        raise refusal(CaseError([exc.problem]), 400) from None
    except CaseError as exc:
        raise refusal(exc, 400) from None
    if not isinstance(data, dict):
        raise bad_request(f"the body of a {what} is a JSON object", path="(body)")
    return data


def fields(data: Mapping, *, required: tuple[str, ...], optional: tuple[str, ...], what: str) -> None:
    for key in data:
        if key not in required and key not in optional:
            raise bad_request(f"'{key}' is not a field of a {what}", path=str(key),
                              hint=f"the fields are {', '.join(required + optional)}")
    for key in required:
        if data.get(key) is None:
            raise bad_request(f"a {what} needs '{key}'", path=key)


def text_field(data: Mapping, key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key} is text, got {type(value).__name__}", path=key)
    return value


def dated_policy(registry: Registry, pid: str, version: str | None, data: Any, what: str) -> Any:
    """The version pinned, or in force on the request's `date` (as the command line picks it)."""
    if version:
        return registry.get(pid, version)
    date = data.get("date") if isinstance(data, dict) else None
    if not isinstance(date, str):
        raise CaseError([problem("request_invalid", f"the {what} needs a date: (YYYY-MM-DD, quoted)", path="date",
                                 hint='"date": "2026-11-20"; it picks the policy version in force')])
    return registry.in_force(pid, as_date(date, "date", code="request_invalid"))


def checked_receipt(data: Any) -> Any:
    return inputs.load(dumps(data), "<receipt>", inputs.RECEIPT)


def pool_of(value: Any, policy: Any) -> Any:
    """The pool sent in the body: CSV text (a header row first), JSON lines text, or an array of rows."""
    from ..selection.pool import MAX_POOL_ROWS, no_gc, pool_from_csv, pool_from_json_lines, pool_from_rows
    with no_gc():
        if isinstance(value, str):
            text = value[1:] if value.startswith("\ufeff") else value
            reader = pool_from_json_lines if text.lstrip().startswith("{") else pool_from_csv
            return reader(text, policy.vocabulary, "<pool>")
        if isinstance(value, list):
            if len(value) > MAX_POOL_ROWS:
                raise CaseError([problem("pool_invalid", f"a pool holds at most {MAX_POOL_ROWS} experts", file="<pool>")])
            return pool_from_rows(enumerate(value, start=1), policy.vocabulary, "<pool>")
    raise CaseError([problem("pool_invalid", "the pool is CSV text (a header row first), JSON lines text, "
                             "or an array of rows (objects of expert facts)", file="<pool>", path="pool")])


def _asked(payload: Any) -> Any:
    """A line of a cases stream as the audit log keeps it: the JSON it holds, else its text."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode("utf-8", "replace")
    return payload.to_json() if isinstance(payload, Problem) else payload


async def _lines(request: Request) -> AsyncIterator[tuple[int, Any]]:
    """(line number, bytes or Problem) for each non-blank line of the body, bounded as batch.Input bounds them."""
    buf = b""
    n = 0
    size = 0
    skipping = False  # inside a line longer than MAX_LINE: dropped up to its end
    async for part in request.stream():
        size += len(part)
        if size > MAX_STREAM:
            raise too_large("cases stream", MAX_STREAM)
        buf += part
        while True:
            cut = buf.find(b"\n")
            if cut < 0:
                if len(buf) > MAX_LINE and not skipping:
                    n += 1
                    skipping = True
                    yield n, _long_line(n)
                if skipping:
                    buf = b""
                break
            line, buf = buf[:cut + 1], buf[cut + 1:]
            if skipping:
                skipping = False
                continue
            n += 1
            if len(line) > MAX_LINE + 1:
                yield n, _long_line(n)
            elif line.strip():
                yield n, line
    if buf.strip() and not skipping:
        n += 1
        yield n, buf


def _long_line(n: int) -> Problem:
    return problem("case_invalid", f"the line is longer than {MAX_LINE >> 20} MiB", file="<body>", line=n,
                   hint="one case per line; split what is not one case")


# ---------------------------------------------------------------------------------------------
# Answers


def json_response(data: Any, status: int = 200) -> Response:
    return Response(dumps(data, compact=True).encode("utf-8"), status_code=status, media_type=JSON)


def error_response(exc: Refused) -> Response:
    return json_response(exc.body, exc.status)


def _endpoint(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def call(request: Request) -> Response:
        try:
            return await fn(request)
        except Refused as exc:
            return error_response(exc)
        except EngineError as exc:
            return error_response(refusal(exc))
    call.__name__ = fn.__name__
    return call


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "bad_request")
    message = {404: f"no endpoint {request.url.path}; the endpoints are listed in /openapi.json",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(status, str(getattr(exc, "detail", "")))
    return json_response(EngineError([problem(code, message)]).to_json(), status)


async def _internal(request: Request, exc: Exception) -> Response:
    """A defect of the service: one line, no traceback (the server's log has the details)."""
    return json_response(EngineError([problem("internal_error", f"internal error ({type(exc).__name__}); "
                                              "this is a defect of policy-engine, please report it")]).to_json(), 500)


class _Raw:
    """An ASGI endpoint (a class instance, so the router passes scope, receive, send through)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(registry: Registry, *, log: AuditLog | None = None, time_limit: float = TIME_LIMIT) -> Starlette:
    """The application over `registry` (loaded and verified by the caller)."""
    s = Service(registry, log, time_limit)
    routes = [
        Route("/healthz", _endpoint(s.healthz), methods=["GET"]),
        Route("/readyz", _endpoint(s.readyz), methods=["GET"]),
        Route("/openapi.json", _endpoint(s.openapi_json), methods=["GET"]),
        Route("/v1/schemas/{name}", _endpoint(s.schema), methods=["GET"]),
        Route("/v1/policies", _endpoint(s.policies), methods=["GET"]),
        Route("/v1/policies/{policy_id}", _endpoint(s.policy), methods=["GET"]),
        Route("/v1/policies/{policy_id}/facts", _endpoint(s.facts), methods=["GET"]),
        Route("/v1/policies/{policy_id}/case-schema", _endpoint(s.case_schema), methods=["GET"]),
        Route("/v1/policies/{policy_id}/decisions/{decision}", _endpoint(s.decision), methods=["POST"]),
        Route("/v1/decisions", _Raw(s.decisions), methods=["POST"]),
        Route("/v1/policies/{policy_id}/draws", _endpoint(s.draw), methods=["POST"]),
        Route("/v1/draws/replenish", _endpoint(s.replenish), methods=["POST"]),
        Route("/v1/draws/verify", _endpoint(s.verify), methods=["POST"]),
        Route("/v1/policies/{policy_id}/panel-checks", _endpoint(s.panel), methods=["POST"]),
        Route("/v1/log/records", _endpoint(s.log_records), methods=["GET"]),
        Route("/v1/log/verify", _endpoint(s.log_verify), methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _internal})


# ---------------------------------------------------------------------------------------------
# Worker processes (serve --workers N): each builds the application from the environment

ENV_SETTINGS = "POLICY_ENGINE_SERVICE"  # JSON: {"policies": [folders], "time_limit": seconds, "log": URL|null}


def from_environment() -> Starlette:
    """The application of one worker process, its policies loaded (and verified) here."""
    settings = json.loads(os.environ[ENV_SETTINGS])
    registry = Registry.load(*settings["policies"])
    log = None
    if settings.get("log"):
        from ..audit.log import AuditLog as _Log
        log = _Log.open(settings["log"])  # each worker its own connection; appends are serialised by the log
    return create_app(registry, log=log, time_limit=float(settings["time_limit"]))
