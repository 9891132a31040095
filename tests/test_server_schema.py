"""The server's own schema is versioned on both stores: a new database gets the
current version, one from before versioning is upgraded in place with its data, and
one written by a newer crm_tui is refused, untouched, with a message saying so."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from crm_tui.cli import app
from crm_tui.sync.server import pg_store, sqlite_store
from crm_tui.sync.server.admin import open_store
from crm_tui.sync.server.store import SchemaTooNew

runner = CliRunner()


def raw_sql(url: str) -> Callable[[str], list[tuple]]:
    """Run SQL on the store's database behind its back (what an old version left)."""
    def run(sql: str) -> list[tuple]:
        if url.startswith("sqlite:///"):
            conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
            try:
                if sql.lstrip().upper().startswith("SELECT"):
                    return conn.execute(sql).fetchall()
                conn.executescript(sql)
                return []
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []
    return run


def versions(url: str) -> tuple[str, int]:
    return (("sqlite", sqlite_store.SCHEMA_VERSION) if url.startswith("sqlite")
            else ("postgres", pg_store.SCHEMA_VERSION))


def test_a_new_store_has_the_current_version(server_db: str) -> None:
    _, current = versions(server_db)
    store = open_store(server_db)
    try:
        assert store.schema_version() == current >= 2
    finally:
        store.close()
    assert raw_sql(server_db)("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(current),)]


def test_a_store_from_before_versioning_is_upgraded_with_its_data(server_db: str) -> None:
    kind, current = versions(server_db)
    run = raw_sql(server_db)
    # What the first release left: its schema, no version, no epoch.
    run((sqlite_store if kind == "sqlite" else pg_store).SCHEMA)
    run("INSERT INTO meta VALUES ('server_id', 'old-server')")
    run("INSERT INTO reps (name, role, token_hash, created_at) VALUES ('wang', 'rep', 'h', '2026-01-01')")
    for seq, op, name in ((1, "insert", "a"), (2, "update", "b"), (3, "update", "c")):
        run("INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, rep, pushed_by, received_at) "
            f"VALUES ('n1', {seq}, {1000 + seq}, 'customers', 'r1', '{op}', '{{\"name\": \"{name}\"}}', "
            "'wang', 'wang', '2026-01-01')")
    store = open_store(server_db)
    try:
        assert store.schema_version() == current
        assert store.server_id == "old-server"
        assert [r.name for r in store.list_reps()] == ["wang"]
        # The old log was indexed for snapshots: a new replica gets the insert (the
        # record exists) and the last name, not the name in between.
        assert [c[0] for c in store.pull(0, 100, exclude_node="new", snapshot=True).changes] == [1, 3]
    finally:
        store.close()
    assert len(run("SELECT value FROM meta WHERE key = 'epoch'")) == 1


def test_a_store_from_a_newer_version_is_refused_untouched(server_db: str) -> None:
    _, current = versions(server_db)
    open_store(server_db).close()
    run = raw_sql(server_db)
    run(f"UPDATE meta SET value = '{current + 1}' WHERE key = 'schema_version'")
    with pytest.raises(SchemaTooNew, match="newer crm_tui"):
        open_store(server_db)
    assert run("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(current + 1),)]
    result = runner.invoke(app, ["server", "list-reps", "--db", server_db])
    assert result.exit_code == 1 and "newer crm_tui" in result.output and "Traceback" not in result.output
