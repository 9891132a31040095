"""Every answer of the sync server is one its OpenAPI schema documents, and none is a
server error: schemathesis generates requests for every operation from the schema
(with a valid token, a bounded number of examples) and checks each answer's status
and body against it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from crm_tui.sync.server.app import create_app, hash_token
from crm_tui.sync.server.sqlite_store import SqliteStore

_store = SqliteStore(Path(tempfile.mkdtemp(prefix="crm-openapi-")) / "server.db")
_store.add_rep("boss", "manager", hash_token("tok-boss"))
_store.add_rep("wang", "rep", hash_token("tok-wang"), ["east"])
app = create_app(_store, rate=1e6, burst=10**6)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)

HEADERS = {"Authorization": "Bearer tok-wang", PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_answer_is_documented_and_none_is_a_server_error(case: schemathesis.Case) -> None:
    case.headers = {**(case.headers or {}), **HEADERS}
    # What the issue asks: no server error, no status or body the schema does not
    # document. (Schema-valid requests may still be refused: a clock stamp far ahead,
    # a change the rules refuse; those answers are documented 4xx.)
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
