"""A bulk insert (imports, seeding) must leave exactly what row-by-row inserts
through the triggers leave: the same change-log entries and the same search index."""

from __future__ import annotations

import json
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.db.bulk import bulk_insert
from crm_tui.db.connection import transaction
from crm_tui.domain.entities import stored_columns

ROWS = [{"name": "张伟", "company": "华为", "phone": "13812345678"},
        {"name": "王芳", "email": "wf@example.com", "region": "华东"},
        {"name": "John Smith", "mobile": "+16502530000"}]


def test_bulk_insert_logs_and_indexes_like_the_triggers(tmp_path: Path) -> None:
    one_by_one = Crm(tmp_path / "a.db", rep="wang")
    bulk = Crm(tmp_path / "b.db", rep="wang")
    made = [one_by_one.customers.create(row) for row in ROWS]
    prepared = [{**bulk.customers.prepare(row), "id": m["id"], "created_at": m["created_at"],
                 "updated_at": m["updated_at"]} for row, m in zip(ROWS, made, strict=True)]
    cols = list(stored_columns(bulk.customers.entity))
    with transaction(bulk.conn):
        assert bulk_insert(bulk.conn, "customers", cols, [[p.get(c) for c in cols] for p in prepared]) == 3

    def log(crm: Crm) -> list[tuple]:
        return [(e["node_seq"], e["tbl"], e["row_id"], e["op"], json.loads(e["data"]), e["old"], e["base"],
                 e["rep"]) for e in crm.changes()]

    assert log(bulk) == log(one_by_one)
    stamps = [e["hlc"] for e in bulk.changes()]
    assert stamps == sorted(set(stamps))
    for query in ("zw", "张伟", "13812345678", "smith", "wf@"):
        assert [r["id"] for r in bulk.customers.search(query)] == [r["id"] for r in one_by_one.customers.search(query)]
    # the insert triggers are back: a later ordinary write is captured as usual
    later = bulk.customers.create({"name": "李娜"})
    assert bulk.changes()[-1]["row_id"] == later["id"]
    assert bulk.changes()[-1]["hlc"] > stamps[-1]
    assert bulk.customers.search("ln")[0]["id"] == later["id"]


def test_a_failed_bulk_insert_leaves_nothing(tmp_path: Path) -> None:
    crm = Crm(tmp_path / "c.db")
    good = crm.customers.prepare({"name": "甲"})
    cols = list(good)
    try:
        with transaction(crm.conn):
            bulk_insert(crm.conn, "customers", cols, [[good[c] for c in cols], [good[c] for c in cols]])
    except Exception as exc:  # the duplicate id violates the primary key
        assert "UNIQUE" in str(exc)
    else:
        raise AssertionError("a duplicate id must fail the bulk insert")
    assert crm.customers.count() == 0 and crm.changes() == []
    crm.customers.create({"name": "乙"})
    assert len(crm.changes()) == 1  # triggers restored by the rollback


def test_rows_inserted_with_triggers_set_aside_are_indexed_not_captured(tmp_path: Path) -> None:
    from crm_tui.db.bulk import insert_triggers_set_aside

    crm = Crm(tmp_path / "d.db")
    before = crm.customers.create({"name": "王芳"})
    prepared = crm.customers.prepare({"name": "张伟", "phone": "13812345678"})
    with transaction(crm.conn), insert_triggers_set_aside(crm.conn, ["customers", "visits"]):
        crm.customers.insert_prepared([prepared])
    assert [e["row_id"] for e in crm.changes()] == [before["id"]]  # the caller logs its own rows
    assert [r["id"] for r in crm.customers.search("zw")] == [prepared["id"]]
    assert [r["id"] for r in crm.customers.search("1381234")] == [prepared["id"]]
    # triggers are back, byte for byte
    crm.customers.update(prepared["id"], {"name": "张丽"})
    assert crm.changes()[-1]["op"] == "update"
    assert [r["id"] for r in crm.customers.search("zl")] == [prepared["id"]]
    assert crm.customers.search("zw") == []
    later = crm.customers.create({"name": "李娜"})
    assert crm.changes()[-1]["row_id"] == later["id"]
    assert crm.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    crm.conn.execute("INSERT INTO customer_search (customer_search) VALUES ('integrity-check')")
