"""Sync error codes (stable strings a client can act on) and the error a server
answer turns into; kept apart from the wire models so that code which only reports
sync errors does not import pydantic."""

from __future__ import annotations

BAD_TOKEN = "bad_token"
VERSION_MISMATCH = "version_mismatch"
CLOCK_AHEAD = "clock_ahead"
SEQUENCE_GAP = "sequence_gap"
NODE_TAKEN = "node_taken"
BAD_REQUEST = "bad_request"
TOO_LARGE = "too_large"
RATE_LIMITED = "rate_limited"
REPLICA_BEHIND = "replica_behind"


UNREACHABLE = "unreachable"  # client side: no answer from the server
NOT_A_SYNC_SERVER = "not_a_sync_server"  # client side: an answer, but not the protocol's


class ProtocolError(Exception):
    """An error the server answered with: a code, a message for the user, the status,
    and the language the message is in when the answer said (Content-Language)."""

    def __init__(self, code: str, message: str, status: int = 400, expected_seq: int | None = None,
                 lang: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.expected_seq = expected_seq
        self.lang = lang
