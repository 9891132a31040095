"""The wire protocol: versioned JSON over HTTP. Every request carries the protocol
version in the `X-CRM-Protocol` header and the rep's token as a bearer token; every
error is JSON `{"error": CODE, "message": TEXT}` with a 4xx status.

    GET  /v1/hello  -> Hello                 who am I, server id and clock, limits
    POST /v1/push   PushRequest -> PushResult   idempotent by (node, node_seq)
    POST /v1/pull   PullRequest -> PullResult   by server cursor, below the watermark
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# Error codes and the error type live in `errors` (imported without pydantic).
from crm_tui.sync.errors import (  # noqa: F401 - re-exported
    BAD_REQUEST,
    BAD_TOKEN,
    CLOCK_AHEAD,
    NODE_TAKEN,
    RATE_LIMITED,
    REPLICA_BEHIND,
    SEQUENCE_GAP,
    TOO_LARGE,
    UNREACHABLE,
    VERSION_MISMATCH,
    ProtocolError,
)

PROTOCOL_VERSION = 1
PROTOCOL_HEADER = "X-CRM-Protocol"

MAX_PUSH_BATCH = 2000
MAX_PULL_LIMIT = 5000
MAX_BODY_BYTES = 16 * 1024 * 1024



class WireChange(BaseModel):
    """One change as it travels: the local change-log row minus the local `seq`."""

    node: str = Field(min_length=1, max_length=64)
    node_seq: int = Field(ge=1)
    hlc: int = Field(ge=0)
    tbl: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_][a-z0-9_]*$")
    row_id: str = Field(min_length=1, max_length=64)
    op: Literal["insert", "update", "delete"]
    data: dict[str, Any]
    old: dict[str, Any] | None = None
    base: dict[str, Any] | None = None
    rep: str = Field(default="", max_length=100)


class Hello(BaseModel):
    protocol: int
    server_id: str
    server_time_ms: int
    max_offset_ms: int
    rep: str
    role: str
    max_push_batch: int = MAX_PUSH_BATCH
    max_pull_limit: int = MAX_PULL_LIMIT


class PushRequest(BaseModel):
    node: str = Field(min_length=1, max_length=64)
    changes: list[WireChange]


class PushResult(BaseModel):
    accepted: int
    duplicates: int
    # The highest node_seq of this node the server holds: everything up to it is safe.
    acked_seq: int


class PullRequest(BaseModel):
    node: str = Field(min_length=1, max_length=64)
    after: int = Field(ge=0)
    limit: int = Field(ge=1, le=MAX_PULL_LIMIT)


class PulledChange(WireChange):
    server_seq: int


class PullResult(BaseModel):
    changes: list[PulledChange]
    # Where the next pull starts; all changes up to it have been returned or skipped.
    cursor: int
    # The commit watermark the pull read below; more is True while cursor < it.
    watermark: int
    more: bool
    # Records came into the rep's view whose past is behind the cursor: pull again
    # from 0 (changes already held are skipped as duplicates).
    reset: bool = False


class ErrorBody(BaseModel):
    error: str
    message: str
    expected_seq: int | None = None
