"""The wire protocol: versioned JSON over HTTP. Every request carries the protocol
version in the `X-CRM-Protocol` header and the rep's token as a bearer token; every
error is JSON `{"error": CODE, "message": TEXT}` with a 4xx status.

    GET  /v1/hello  -> Hello                 who am I, server id and clock, limits
    POST /v1/push   PushRequest -> PushResult   idempotent by (node, node_seq); 403 with
                    the same body when some changes are refused (the rest is stored)
    POST /v1/pull   PullRequest -> PullResult   by server cursor, below the watermark

Version 2: the server checks every pushed change (crm_tui.domain.changes) and answers
which it refused; a pull says which customers left the rep's view (`gone`). Request
bodies are strict: no unknown fields, integers are JSON integers within 64 bits.
Version 3: `hello` names the server's timeline (`epoch`), which a restore from a
backup changes; a pull from 0 asks for the current state (`snapshot`) only when the
laptop holds nothing from the server yet.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_tui.domain.entities import Op
from crm_tui.domain.validation import OWNER_MAX_LEN

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

PROTOCOL_VERSION = 3
PROTOCOL_HEADER = "X-CRM-Protocol"

MAX_PUSH_BATCH = 2000
MAX_PULL_LIMIT = 5000
MAX_BODY_BYTES = 16 * 1024 * 1024
# A pull answer stops growing past this many bytes of stored changes (at least one
# change is always sent, so a cursor always moves).
MAX_PULL_BYTES = 4 * 1024 * 1024
INT64_MAX = 2**63 - 1

REFUSED: Literal["refused"] = "refused"  # the status-403 answer of a push with refused changes

# Strict request models: a string is not an integer, an unknown field is an error.
_STRICT = ConfigDict(extra="forbid", strict=True)

class WireChange(BaseModel):
    """One change as it travels: the local change-log row minus the local `seq`."""

    model_config = _STRICT

    node: str = Field(min_length=1, max_length=64)
    node_seq: int = Field(ge=1, le=INT64_MAX)
    hlc: int = Field(ge=0, le=INT64_MAX)
    tbl: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_][a-z0-9_]*$")
    row_id: str = Field(min_length=1, max_length=64)
    op: Op
    data: dict[str, Any]
    old: dict[str, Any] | None = None
    base: dict[str, Any] | None = None
    rep: str = Field(default="", max_length=OWNER_MAX_LEN)


class Hello(BaseModel):
    protocol: int
    server_id: str
    # The server's timeline: a new one after a restore from a backup. A laptop that
    # synced with another epoch sends its changes again and reads the server anew.
    epoch: str
    server_time_ms: int
    max_offset_ms: int
    rep: str
    role: str
    max_push_batch: int = MAX_PUSH_BATCH
    max_pull_limit: int = MAX_PULL_LIMIT


class PushRequest(BaseModel):
    model_config = _STRICT

    node: str = Field(min_length=1, max_length=64)
    changes: list[WireChange]


class RefusedChange(BaseModel):
    """A pushed change the server did not store, and why. `code` is "invalid" (fails
    validation, the schema or a reference) or "forbidden" (not the rep's to make)."""

    node_seq: int
    tbl: str
    row_id: str
    code: Literal["invalid", "forbidden"]
    reason: str


class PushResult(BaseModel):
    accepted: int
    duplicates: int
    # The highest node_seq of this node the server has dealt with, refused ones
    # included: everything up to it need not be sent again.
    acked_seq: int
    refused: list[RefusedChange] = []


class RefusedPush(PushResult):
    """The 403 answer: the changes not listed were stored all the same."""

    error: Literal["refused"] = REFUSED
    message: str


class PullRequest(BaseModel):
    model_config = _STRICT

    node: str = Field(min_length=1, max_length=64)
    after: int = Field(ge=0, le=INT64_MAX)
    limit: int = Field(ge=1, le=MAX_PULL_LIMIT)
    # With `after` 0: the laptop holds no change from the server, so it may be served
    # the current state of its view instead of the history (snapshot bootstrap). A
    # laptop holding changes of others (its cursor lost, the server restored) reads
    # the history: the bases of a snapshot's edits assume it holds nothing.
    snapshot: bool = False


class PulledChange(WireChange):
    server_seq: int


class PullResult(BaseModel):
    changes: list[PulledChange]
    # Where the next pull starts; all changes up to it have been returned or skipped.
    cursor: int
    # The commit watermark the pull read below; more is True while cursor < it.
    watermark: int
    more: bool
    # Customers that left the rep's view: the laptop removes each with its records
    # and their history. A customer that came into view arrives in `changes` with
    # its history (see docs/sync.md, "Who sees what").
    gone: list[str] = []


class ErrorBody(BaseModel):
    error: str
    message: str
    expected_seq: int | None = None
