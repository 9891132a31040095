"""The sync server's HTTP app (FastAPI): authentication by hashed bearer token before
any body is read, failed authentications rate-limited per address, bodies bounded
while they are read and parsed as strict JSON, the protocol and clock checks, the
audit, one log line per request, and every refusal as JSON with a reason, in the
language the request's Accept-Language asks for. Which pushed changes are stored is
the store's judge's call (crm_tui.sync.server.judge)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_tui.i18n import accepted_language, speaking, t
from crm_tui.sync import clock
from crm_tui.sync.protocol import (
    BAD_REQUEST,
    BAD_TOKEN,
    CLOCK_AHEAD,
    INT64_MAX,
    MAX_BODY_BYTES,
    MAX_PULL_BYTES,
    MAX_PULL_LIMIT,
    MAX_PUSH_BATCH,
    NODE_TAKEN,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    RATE_LIMITED,
    REFUSED,
    REPLICA_BEHIND,
    SEQUENCE_GAP,
    TOO_LARGE,
    VERSION_MISMATCH,
    ErrorBody,
    Hello,
    ProtocolError,
    PullRequest,
    PullResult,
    PushRequest,
    PushResult,
    RefusedPush,
)
from crm_tui.sync.server.store import (
    ChangeMismatch,
    Limiter,
    NodeTaken,
    RepInfo,
    SequenceGap,
    Store,
    StoreError,
)

log = logging.getLogger("crm_tui.server")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "crm_" + secrets.token_urlsafe(32)


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


class RateLimiter:
    """A token bucket per key: `rate` events a second on average, bursts of `burst`.
    Full buckets are forgotten when there are many keys, so an attacker cycling
    addresses cannot grow it without bound."""

    MAX_KEYS = 10_000

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def _tokens(self, who: str, now: float) -> float:
        tokens, last = self.buckets.get(who, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)

    def allow(self, who: str) -> bool:
        """Take one token if there is one."""
        now = time.monotonic()
        with self.lock:
            tokens = self._tokens(who, now)
            allowed = tokens >= 1.0
            self.buckets[who] = (tokens - 1.0 if allowed else tokens, now)
            if len(self.buckets) > self.MAX_KEYS:
                self.buckets = {k: v for k, v in self.buckets.items() if self._tokens(k, now) < self.burst}
            return allowed

    def exhausted(self, who: str) -> bool:
        """Whether `who` has no token left (taking none)."""
        with self.lock:
            return who in self.buckets and self._tokens(who, time.monotonic()) < 1.0


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticated(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    protocol: Annotated[str | None, Header(alias=PROTOCOL_HEADER)] = None,
) -> RepInfo:
    """The rep behind the bearer token, after the protocol version check; runs before
    the body is read. An address that keeps failing is refused, and no longer audited,
    while a right token from it still passes: reps behind one office router or one
    reverse proxy share an address, and one client's failures must not stop their sync."""
    if protocol != str(PROTOCOL_VERSION):
        sent = protocol[:20] if protocol else t("refusal.request.nothing_sent")
        raise ProtocolError(VERSION_MISMATCH, t("refusal.request.version", version=PROTOCOL_VERSION, sent=sent), 426)
    state = request.app.state
    address = _address(request)
    failures: Limiter = state.auth_failures
    store: Store = state.store
    rep: RepInfo | None = None
    if authorization and authorization.lower().startswith("bearer "):
        rep = store.rep_for_token(hash_token(authorization[7:].strip()))
    if rep is None or not rep.active:
        if failures.exhausted(address):
            raise ProtocolError(RATE_LIMITED, t("refusal.request.sign_in_limit"), 429)
        failures.allow(address)
        store.record_audit("auth_failed", address=address, rep=rep.name if rep else None,
                           detail={"path": request.url.path})
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ProtocolError(BAD_TOKEN, t("refusal.request.no_token"), 401)
        if rep is None:
            raise ProtocolError(BAD_TOKEN, t("refusal.request.unknown_token"), 401)
        raise ProtocolError(BAD_TOKEN, t("refusal.request.revoked_token", rep=repr(rep.name),
                                                  at=str(rep.revoked_at)[:16].replace("T", " ")), 401)
    limiter: Limiter = state.limiter
    if not limiter.allow(rep.name):
        raise ProtocolError(RATE_LIMITED, t("refusal.request.rate_limited", rep=rep.name, rate=f"{limiter.rate:g}"),
                            429)
    request.state.rep = rep.name
    return rep


Rep = Annotated[RepInfo, Depends(authenticated)]


# -- strict bodies --------------------------------------------------------------------

async def read_body(request: Request, limit: int = MAX_BODY_BYTES,
                    too_large: str = "refusal.request.body_too_large") -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes, whatever the
    Content-Length says (or a chunked body does not say). `too_large`: the catalog's
    key of the refusal (a push is told to send smaller batches, a pull is not)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise ProtocolError(TOO_LARGE, t(too_large, limit=limit), 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProtocolError(TOO_LARGE, t(too_large, limit=limit), 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _constant(name: str) -> Any:
    raise ValueError(t("refusal.request.json_constant", name=name))


def _int64(text: str) -> int:
    value = int(text)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ValueError(t("refusal.request.json_int64", number=text[:30]))
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(t("refusal.request.json_too_large", number=text[:30]))
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def strict_json(raw: bytes) -> Any:
    """JSON as RFC 8259 has it: UTF-8, no NaN or Infinity, integers within 64 bits,
    no lone surrogates (which no replica could store as UTF-8)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_constant, parse_int=_int64, parse_float=_finite)
        # Only an escape can smuggle a surrogate past the UTF-8 decoder; a pair is fine.
        if _SURROGATE_ESCAPE.search(raw):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise ProtocolError(BAD_REQUEST, t("refusal.request.not_utf8")) from None
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(BAD_REQUEST, t("refusal.request.not_json", detail=_json_fault(exc)[:200])) from None
    return value


def _json_fault(exc: Exception) -> str:
    """What is wrong with a body that is not JSON, in the language spoken: Python's
    parser says it in English, so a syntax error is named by its place."""
    if isinstance(exc, json.JSONDecodeError):
        return t("refusal.request.json_syntax", line=exc.lineno, column=exc.colno)
    if isinstance(exc, RecursionError):
        return t("refusal.request.json_too_deep")
    return str(exc)  # ours (_constant, _int64, _finite), said from the catalog


M = TypeVar("M", bound=BaseModel)


# Pydantic's errors of the strict request models, by type, with the context values
# their texts name; pydantic writes them in English only.
_FAULTS = {"missing": (), "extra_forbidden": (), "model_type": (), "model_attributes_type": (), "dict_type": (),
           "list_type": (), "int_type": (), "string_type": (), "bool_type": (), "literal_error": ("expected",),
           "greater_than_equal": ("ge",), "less_than_equal": ("le",), "string_too_short": ("min_length",),
           "string_too_long": ("max_length",), "string_pattern_mismatch": ("pattern",)}


def _fault(error: Mapping[str, Any]) -> str:
    """A request field's fault as the catalog says it: '{where}: {what}'."""
    where = ".".join(str(p) for p in error.get("loc", ())) or t("refusal.request.body")
    kind, context = str(error.get("type", "")), error.get("ctx") or {}
    if kind in _FAULTS:
        what = t(f"refusal.pydantic.{kind}", **{name: context.get(name, "") for name in _FAULTS[kind]})
    else:
        what = t("refusal.pydantic.other", type=kind[:40])
    return t("refusal.request.field", where=where, what=what)[:500]


def _model(model: type[M], value: Any) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ProtocolError(BAD_REQUEST, _fault(exc.errors()[0])) from None


# -- OpenAPI: every status each operation answers ----------------------------------------

_ERR: dict[str, Any] = {"model": ErrorBody}
_Responses = dict[int | str, dict[str, Any]]  # FastAPI's `responses` of an operation
_COMMON: _Responses = {400: {**_ERR, "description": "a malformed request: headers, strict JSON, a field"},
           401: {**_ERR, "description": "no token, an unknown or a revoked one"},
           426: {**_ERR, "description": "another sync protocol version"},
           429: {**_ERR, "description": "too many requests of this rep, or failed sign-ins of this address"}}
_BODY: _Responses = {413: {**_ERR, "description": "the body is over the size limit, or the batch over its length limit"}}
_HELLO_RESPONSES: _Responses = dict(_COMMON)
_PUSH_RESPONSES: _Responses = {
    **_COMMON, **_BODY,
    403: {"description": "some changes refused (the others are stored): `refused` says which and why; "
                         "or `node_taken`: the node belongs to another rep"},
    409: {**_ERR, "description": "`sequence_gap` (resend from `expected_seq`) or `replica_behind`"},
    422: {**_ERR, "description": "`clock_ahead`: a change stamped too far ahead of the server clock"},
}
_PULL_RESPONSES: _Responses = {
    **_COMMON, **_BODY, 403: {**_ERR, "description": "`node_taken`: the node belongs to another rep"}}


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's schema with the request bodies the endpoints read themselves (after
    the token check), the 403 of a push in both its shapes, and no 422 where the
    server never answers one."""
    default = app.openapi

    def schema() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = default()
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in (PushRequest, PullRequest, RefusedPush, ErrorBody):
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(found.pop("$defs", {}))
            components[model.__name__] = found
        push = doc["paths"]["/v1/push"]["post"]["responses"]
        push["403"]["content"] = {"application/json": {"schema": {"anyOf": [
            {"$ref": "#/components/schemas/RefusedPush"}, {"$ref": "#/components/schemas/ErrorBody"}]}}}
        for path in ("/v1/hello", "/v1/pull"):
            for operation in doc["paths"][path].values():
                operation["responses"].pop("422", None)
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = doc
        return doc

    return schema


# -- the request's language ----------------------------------------------------------------

class RequestLanguage:
    """Answers each request in the language its Accept-Language header prefers among
    the catalog's (English for none of them): every text said while the request is
    answered, in its threads too (the judge runs in one), and the answer's
    Content-Language says which. What the server keeps is in its own language."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"accept-language"), None)
        lang = accepted_language(asked)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"content-language", lang.encode()),
                                      (b"vary", b"Accept-Language")]
            await send(message)

        with speaking(lang):
            await self.app(scope, receive, sending)


# -- one line per request ---------------------------------------------------------------

class RequestLog:
    """Logs each request: rep, operation, status, milliseconds (never a header)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            rep = scope.get("state", {}).get("rep", "-")
            client = scope.get("client") or ("-", 0)
            log.info("%s %s %s %s %d %.0fms", client[0], rep, scope["method"], scope["path"], status,
                        (time.perf_counter() - start) * 1000)


def create_app(store: Store, *, max_offset_ms: int = clock.DEFAULT_MAX_OFFSET_MS,
               now_ms: Callable[[], int] = clock.now_ms, rate: float = 50.0, burst: int = 200,
               auth_failures_per_minute: float = 30.0) -> FastAPI:
    app = FastAPI(title="crm_tui sync server", version=str(PROTOCOL_VERSION))
    app.state.store = store
    # Several workers on one database share the database's limiter.
    app.state.limiter = store.shared_limiter(rate, burst, "requests") or RateLimiter(rate, burst)
    fail_rate, fail_burst = auth_failures_per_minute / 60.0, max(1, int(auth_failures_per_minute))
    app.state.auth_failures = (store.shared_limiter(fail_rate, fail_burst, "sign_in_failures")
                               or RateLimiter(fail_rate, fail_burst))
    app.add_middleware(RequestLanguage)
    app.add_middleware(RequestLog)

    @app.exception_handler(ProtocolError)
    def protocol_error(_: Request, exc: ProtocolError) -> JSONResponse:
        extra = {} if exc.expected_seq is None else {"expected_seq": exc.expected_seq}
        return _error(exc.status, exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        return _error(400, BAD_REQUEST, _fault(errors[0] if errors else {}))

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, BAD_REQUEST)
        said = {404: "refusal.request.not_found", 405: "refusal.request.method_not_allowed"}.get(exc.status_code)
        message = t(said, path=request.url.path[:200], method=request.method[:20]) if said else str(exc.detail)
        answer = _error(exc.status_code, code, message)
        answer.headers.update(exc.headers or {})  # e.g. a 405's Allow
        return answer

    @app.get("/v1/hello", response_model=Hello, responses=_HELLO_RESPONSES)
    def hello(rep: Rep) -> Hello:
        """Who the token belongs to, the server's id and clock, and its limits."""
        return Hello(protocol=PROTOCOL_VERSION, server_id=store.server_id, epoch=store.epoch,
                     server_time_ms=now_ms(),
                     max_offset_ms=max_offset_ms, rep=rep.name, role=rep.role)

    def _push(body: PushRequest, rep: RepInfo, address: str) -> JSONResponse:
        now = now_ms()
        for change in body.changes:
            if change.node != body.node:
                raise ProtocolError(BAD_REQUEST, t("refusal.request.other_node", node=change.node,
                                                   seq=change.node_seq, sender=body.node))
            ahead = clock.ahead_ms(change.hlc, now)
            if ahead > max_offset_ms:
                raise ProtocolError(CLOCK_AHEAD, t("refusal.request.clock_ahead", seq=change.node_seq,
                                                   ahead=f"{ahead / 1000:.0f}", allowed=f"{max_offset_ms / 1000:.0f}"),
                                    422)
        try:
            out = store.push(rep, body.node, body.changes)
        except SequenceGap as exc:
            raise ProtocolError(SEQUENCE_GAP, str(exc), 409, expected_seq=exc.expected) from None
        except ChangeMismatch as exc:
            raise ProtocolError(REPLICA_BEHIND, t("refusal.request.replica_behind", reason=exc), 409) from None
        except NodeTaken as exc:
            raise ProtocolError(NODE_TAKEN, str(exc), 403) from None
        except StoreError as exc:
            raise ProtocolError(BAD_REQUEST, str(exc), 400) from None
        if out.accepted:
            store.record_audit("push", rep=rep.name, node=body.node, address=address, count=out.accepted)
        result = {"accepted": out.accepted, "duplicates": out.duplicates, "acked_seq": out.acked_seq,
                  "refused": [{"node_seq": r.node_seq, "tbl": r.tbl, "row_id": r.row_id, "code": r.code,
                               "reason": r.reason} for r in out.refused]}
        if not out.refused:
            return JSONResponse(result)
        first = out.refused[0]
        message = t("refusal.push_refused", count=len(out.refused), table=first.tbl, id=first.row_id[:26],
                    reason=first.reason)
        return JSONResponse({"error": REFUSED, "message": message, **result}, status_code=403)

    @app.post("/v1/push", response_model=PushResult, responses=_PUSH_RESPONSES,
              openapi_extra=_body_schema(PushRequest))
    async def push(request: Request, rep: Rep) -> Response:
        """Store a laptop's changes, each checked and authorised for the rep; idempotent
        by (node, node_seq). Body: PushRequest."""
        raw = await read_body(request)
        value = strict_json(raw)
        changes = value.get("changes") if isinstance(value, dict) else None
        if isinstance(changes, list) and len(changes) > MAX_PUSH_BATCH:
            raise ProtocolError(TOO_LARGE, t("refusal.request.batch_too_long", count=len(changes), max=MAX_PUSH_BATCH),
                                413)
        body = _model(PushRequest, value)
        return await run_in_threadpool(_push, body, rep, _address(request))

    def _pull(body: PullRequest, rep: RepInfo, address: str) -> Response:
        try:
            page = store.pull(body.after, min(body.limit, MAX_PULL_LIMIT), exclude_node=body.node, rep=rep,
                              max_bytes=MAX_PULL_BYTES, snapshot=body.snapshot)
        except NodeTaken as exc:
            raise ProtocolError(NODE_TAKEN, str(exc), 403) from None
        if page.changes or page.gone:
            store.record_audit("pull", rep=rep.name, node=body.node, address=address, count=len(page.changes))
        # Stored JSON goes out as is: a big pull is not decoded and re-encoded here.
        # The texts are quoted by the function json.dumps ends in for a str, without
        # its per-call set-up (four texts a change).
        quote = encode_basestring_ascii
        items = [
            f'{{"server_seq":{s},"node":{quote(n)},"node_seq":{ns},"hlc":{h},"tbl":{quote(t)},'
            f'"row_id":{quote(r)},"op":"{op}","data":{d},"old":{o or "null"},"base":{b or "null"},'
            f'"rep":{quote(rp)}}}'
            for s, n, ns, h, t, r, op, d, o, b, rp in page.changes
        ]
        more = page.cursor < page.watermark
        text = (f'{{"changes":[{",".join(items)}],"cursor":{page.cursor},'
                f'"watermark":{page.watermark},"more":{"true" if more else "false"},'
                f'"gone":{json.dumps(list(page.gone))}}}')
        return Response(text, media_type="application/json")

    @app.post("/v1/pull", response_model=PullResult, responses=_PULL_RESPONSES,
              openapi_extra=_body_schema(PullRequest))
    async def pull(request: Request, rep: Rep) -> Response:
        """A page of the changes in the rep's view after `after`, and the customers
        that left it. Body: PullRequest."""
        body = _model(PullRequest, strict_json(await read_body(request, 64 * 1024, "refusal.pull.body_too_large")))
        return await run_in_threadpool(_pull, body, rep, _address(request))

    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app
