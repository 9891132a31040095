"""A new database is made from one script (`crm_tui/db/schema.sql`), not by replaying
every migration: the result must be the migrated database, object for object and row
for row, and the script must be what the migrations make today."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crm_tui.db import schema as new_schema
from crm_tui.db.connection import connect, migrate, open_database
from crm_tui.db.migrations import SCHEMA_VERSION

PRAGMAS = ("user_version", "page_size", "auto_vacuum", "encoding", "application_id", "journal_mode",
           "foreign_keys")


def everything(conn: sqlite3.Connection) -> dict[str, object]:
    """What a database is: its schema objects in the order they were made (the order
    SQLite fires one event's triggers in), every table's rows (the replica's node id
    is made per database), its pragmas."""
    objects = [tuple(row) for row in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")]
    rows = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"):
        found = [tuple(r) for r in conn.execute(f'SELECT * FROM "{name}"')]
        rows[name] = sorted(found, key=repr) if name != "replica" else [r[:1] + r[2:] for r in found]
    pragmas = {p: conn.execute(f"PRAGMA {p}").fetchone()[0] for p in PRAGMAS}
    return {"objects": objects, "rows": rows, "pragmas": pragmas}


def replayed(path: Path) -> sqlite3.Connection:
    conn = connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, path, replay=True)
    return conn


def statements_of_a_new_database(path: Path) -> list[str]:
    seen: list[str] = []
    conn = connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.set_trace_callback(seen.append)
    migrate(conn, path)
    conn.close()
    return seen


def test_a_new_database_is_the_migrated_one(tmp_path: Path) -> None:
    made = open_database(tmp_path / "new.db")
    migrated = replayed(tmp_path / "migrated.db")
    assert made.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    new, old = everything(made), everything(migrated)
    assert len(new["objects"]) > 100 and "change_log" in new["rows"]  # the whole schema
    assert new == old


def test_a_new_database_is_made_from_the_script_not_by_replaying(tmp_path: Path) -> None:
    """Replaying sets the capture triggers aside and makes them again at every
    migration (320 statements); the script makes each object once."""
    statements = statements_of_a_new_database(tmp_path / "new.db")
    assert not [s for s in statements if s.lstrip().upper().startswith("DROP")]
    assert len(statements) < 200


def test_the_script_is_what_the_migrations_make(tmp_path: Path) -> None:
    conn = replayed(tmp_path / "migrated.db")
    assert new_schema.SCHEMA_FILE.read_text(encoding="utf-8") == new_schema.dump(conn), (
        "crm_tui/db/schema.sql is out of date: run `python -m crm_tui.db.schema` after adding a migration")


def test_a_script_of_another_version_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration added without regenerating the script costs speed, not correctness."""
    stale = tmp_path / "schema.sql"
    stale.write_text(new_schema.SCHEMA_FILE.read_text(encoding="utf-8").replace(
        f"-- schema version {SCHEMA_VERSION}\n", f"-- schema version {SCHEMA_VERSION - 1}\n", 1), encoding="utf-8")
    monkeypatch.setattr(new_schema, "SCHEMA_FILE", stale)
    assert new_schema.script() is None
    statements = statements_of_a_new_database(tmp_path / "new.db")
    assert [s for s in statements if s.lstrip().upper().startswith("DROP TRIGGER")]  # replayed
    made = connect(tmp_path / "new.db")
    assert everything(made) == everything(replayed(tmp_path / "migrated.db"))
