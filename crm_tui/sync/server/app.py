"""The sync server's HTTP app (FastAPI): authentication by hashed bearer token, the
protocol version check, the clock check on push, bounded requests, and errors as
JSON with a reason. Storage is whatever `Store` it is given."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from crm_tui.sync import clock
from crm_tui.sync.protocol import (
    BAD_REQUEST,
    BAD_TOKEN,
    CLOCK_AHEAD,
    MAX_BODY_BYTES,
    MAX_PULL_LIMIT,
    MAX_PUSH_BATCH,
    NODE_TAKEN,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    RATE_LIMITED,
    REPLICA_BEHIND,
    SEQUENCE_GAP,
    TOO_LARGE,
    VERSION_MISMATCH,
    Hello,
    ProtocolError,
    PullRequest,
    PullResult,
    PushRequest,
    PushResult,
)
from crm_tui.sync.server.store import ChangeMismatch, NodeTaken, RepInfo, SequenceGap, Store, StoreError


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "crm_" + secrets.token_urlsafe(32)


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


class RateLimiter:
    """A token bucket per rep: `rate` requests a second on average, bursts of `burst`."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(who, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self.buckets[who] = (tokens - 1.0 if allowed else tokens, now)
            return allowed


def authenticated(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    protocol: Annotated[str | None, Header(alias=PROTOCOL_HEADER)] = None,
) -> RepInfo:
    """The rep behind the bearer token, after the protocol version check."""
    if protocol != str(PROTOCOL_VERSION):
        raise ProtocolError(
            VERSION_MISMATCH,
            f"this server speaks sync protocol {PROTOCOL_VERSION}, the client sent "
            f"{protocol or 'none'}; upgrade crm_tui on the older side",
            426,
        )
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ProtocolError(BAD_TOKEN, "no token: run `crm login --server URL --token TOKEN`", 401)
    rep = request.app.state.store.rep_for_token(hash_token(authorization[7:].strip()))
    if rep is None:
        raise ProtocolError(BAD_TOKEN, "unknown token: ask your manager for a new one (crm server add-rep)", 401)
    if not rep.active:
        raise ProtocolError(BAD_TOKEN, f"the token of rep {rep.name!r} was revoked on {rep.revoked_at}", 401)
    limiter: RateLimiter = request.app.state.limiter
    if not limiter.allow(rep.name):
        raise ProtocolError(RATE_LIMITED, f"too many requests from {rep.name}: at most {limiter.rate:g} a second; "
                            "try again in a moment", 429)
    return rep


Rep = Annotated[RepInfo, Depends(authenticated)]


def create_app(store: Store, *, max_offset_ms: int = clock.DEFAULT_MAX_OFFSET_MS,
               now_ms: Callable[[], int] = clock.now_ms, rate: float = 50.0, burst: int = 200) -> FastAPI:
    app = FastAPI(title="crm_tui sync server", version=str(PROTOCOL_VERSION))
    app.state.store = store
    app.state.limiter = RateLimiter(rate, burst)

    @app.exception_handler(ProtocolError)
    def protocol_error(_: Request, exc: ProtocolError) -> JSONResponse:
        extra = {} if exc.expected_seq is None else {"expected_seq": exc.expected_seq}
        return _error(exc.status, exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, BAD_REQUEST, f"{where}: {first.get('msg', 'invalid request')}")

    @app.middleware("http")
    async def bounded_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error(413, TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes; push smaller batches")
        return await call_next(request)

    @app.get("/v1/hello", response_model=Hello)
    def hello(rep: Rep) -> Hello:
        return Hello(protocol=PROTOCOL_VERSION, server_id=store.server_id, server_time_ms=now_ms(),
                     max_offset_ms=max_offset_ms, rep=rep.name, role=rep.role)

    @app.post("/v1/push", response_model=PushResult)
    def push(body: PushRequest, rep: Rep) -> PushResult:
        if len(body.changes) > MAX_PUSH_BATCH:
            raise ProtocolError(TOO_LARGE, f"{len(body.changes)} changes in one push; at most {MAX_PUSH_BATCH}", 413)
        now = now_ms()
        for change in body.changes:
            if change.node != body.node:
                raise ProtocolError(BAD_REQUEST, f"change {change.node}:{change.node_seq} is not from node {body.node}")
            ahead = clock.ahead_ms(change.hlc, now)
            if ahead > max_offset_ms:
                raise ProtocolError(
                    CLOCK_AHEAD,
                    f"change {change.node_seq} is stamped {ahead / 1000:.0f} s ahead of the server clock "
                    f"(at most {max_offset_ms / 1000:.0f} s allowed): check this computer's date and time",
                    422,
                )
        try:
            out = store.push(rep.name, body.node, body.changes)
        except SequenceGap as exc:
            raise ProtocolError(SEQUENCE_GAP, str(exc), 409, expected_seq=exc.expected) from None
        except ChangeMismatch as exc:
            raise ProtocolError(REPLICA_BEHIND, f"{exc}: this database was restored from a backup or copied; "
                                "keep it aside and sync a fresh database", 409) from None
        except NodeTaken as exc:
            raise ProtocolError(NODE_TAKEN, str(exc), 403) from None
        except StoreError as exc:
            raise ProtocolError(BAD_REQUEST, str(exc), 400) from None
        return PushResult(accepted=out.accepted, duplicates=out.duplicates, acked_seq=out.acked_seq)

    @app.post("/v1/pull", response_model=PullResult)
    def pull(body: PullRequest, rep: Rep) -> Response:
        page = store.pull(body.after, min(body.limit, MAX_PULL_LIMIT), exclude_node=body.node, rep=rep)
        # Stored JSON goes out as is: a big pull is not decoded and re-encoded here.
        dumps = json.dumps
        items = [
            f'{{"server_seq":{s},"node":{dumps(n)},"node_seq":{ns},"hlc":{h},"tbl":{dumps(t)},'
            f'"row_id":{dumps(r)},"op":"{op}","data":{d},"old":{o or "null"},"base":{b or "null"},'
            f'"rep":{dumps(rp)}}}'
            for s, n, ns, h, t, r, op, d, o, b, rp in page.changes
        ]
        more = page.cursor < page.watermark or page.reset
        text = (f'{{"changes":[{",".join(items)}],"cursor":{page.cursor},'
                f'"watermark":{page.watermark},"more":{"true" if more else "false"},'
                f'"reset":{"true" if page.reset else "false"}}}')
        return Response(text, media_type="application/json")

    return app
