"""The local database: durability settings, migrations, change capture from every
write path, and the records API's validation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from crm_tui.api import Crm, DatabaseTooNew, NotFound, ValidationError, parse_filter
from crm_tui.db.connection import open_database
from crm_tui.db.migrations import SCHEMA_VERSION, SYNCED_TABLES
from crm_tui.domain.entities import ENTITIES, record_columns


def test_new_database_is_durable_and_migrated(db_path: Path) -> None:
    conn = open_database(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    node = conn.execute("SELECT node FROM replica").fetchone()[0]
    conn.close()
    # the node id is made once per database and kept
    again = open_database(db_path)
    assert again.execute("SELECT node FROM replica").fetchone()[0] == node


def test_database_from_a_newer_version_is_refused_clearly(db_path: Path) -> None:
    open_database(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    raw.close()
    with pytest.raises(DatabaseTooNew, match="newer crm_tui"):
        open_database(db_path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(Exception, match="not a crm_tui database|not a database"):
        Crm(bogus)


def test_schema_columns_match_the_entity_definitions(crm: Crm) -> None:
    for table in SYNCED_TABLES:
        cols = {r[1] for r in crm.conn.execute(f"PRAGMA table_info({table})")}
        expected = set(record_columns(ENTITIES[table]))
        assert expected <= cols, (table, expected - cols)


def test_every_api_write_is_captured_with_a_monotonic_clock(crm: Crm) -> None:
    c = crm.customers.create({"name": "张伟", "phone": "13812345678"})
    crm.customers.update(c["id"], {"company": "华为"})
    v = crm.visits.create({"customer_id": c["id"], "visited_at": "2026-11-01 10:00",
                           "channel": "face_to_face", "purpose": "visit"})
    crm.visits.delete(v["id"])
    log = crm.changes()
    assert [(e["tbl"], e["op"]) for e in log] == [
        ("customers", "insert"), ("customers", "update"), ("visits", "insert"), ("visits", "delete")]
    stamps = [e["hlc"] for e in log]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert [e["node_seq"] for e in log] == [1, 2, 3, 4]
    assert {e["node"] for e in log} == {crm.replica["node"]}
    assert {e["rep"] for e in log} == {"wang"}
    update = log[1]
    assert json.loads(update["data"])["company"] == "华为"
    assert json.loads(update["old"])["company"] is None
    # the update names the version of `company` it replaced: the insert's stamp
    assert json.loads(update["base"])["company"] == [log[0]["hlc"], log[0]["node"]]


def test_writes_by_a_users_own_script_are_captured_and_searchable(db_path: Path) -> None:
    Crm(db_path, rep="li").close()
    script = sqlite3.connect(db_path)  # plain sqlite3, no crm_tui code
    with script:
        script.execute("INSERT INTO customers (id, name, phone) VALUES ('s1', '李娜', '+8613900001111')")
        script.execute("UPDATE customers SET region = '华东' WHERE id = 's1'")
    script.close()
    crm = Crm(db_path)
    ops = [(e["row_id"], e["op"], json.loads(e["data"]).get("region")) for e in crm.changes()]
    assert ops == [("s1", "insert", None), ("s1", "update", "华东")]
    # the pinyin key of a script-written row is filled in when the API opens the file
    assert [r["id"] for r in crm.customers.search("ln")] == ["s1"]
    assert [r["id"] for r in crm.customers.search("李娜")] == ["s1"]


def test_a_failed_write_leaves_neither_record_nor_change(crm: Crm) -> None:
    with pytest.raises(ValidationError) as err:
        crm.visits.create({"customer_id": "nope", "visited_at": "2026-11-01", "channel": "phone",
                           "purpose": "visit"})
    assert err.value.errors[0].field == "customer_id"
    assert crm.visits.count() == 0
    assert crm.changes() == []


def test_deleting_a_customer_tombstones_its_visits_too(crm: Crm) -> None:
    c = crm.customers.create({"name": "王芳"})
    crm.orders.create({"customer_id": c["id"], "ordered_at": "2026-10-01", "product": "纸箱",
                       "amount": "1,200.50"})
    crm.customers.delete(c["id"])
    deletes = [(e["tbl"], e["op"]) for e in crm.changes() if e["op"] == "delete"]
    assert sorted(deletes) == [("customers", "delete"), ("orders", "delete")]
    assert crm.orders.count() == 0


def test_record_ids_cannot_change(crm: Crm) -> None:
    c = crm.customers.create({"name": "Alice"})
    with pytest.raises(sqlite3.IntegrityError, match="cannot change"):
        crm.conn.execute("UPDATE customers SET id = 'x' WHERE id = ?", (c["id"],))


def test_validation_names_every_bad_field(crm: Crm) -> None:
    with pytest.raises(ValidationError) as err:
        crm.customers.create({"phone": "12345", "email": "not-an-email", "tier": "Z", "colour": "red"})
    fields = {e.field for e in err.value.errors}
    assert fields == {"name", "phone", "email", "tier", "colour"}
    assert crm.customers.count() == 0


def test_phones_and_emails_are_normalised(crm: Crm) -> None:
    c = crm.customers.create({"name": "Bob", "phone": "138-1234-5678", "mobile": "+1 650 253 0000",
                              "email": "Bob.Smith@Example.COM", "tags": "vip, 华东 ,vip"})
    assert c["phone"] == "+8613812345678"
    assert c["mobile"] == "+16502530000"
    assert c["email"] == "bob.smith@example.com"
    assert c["tags"] == "vip,华东"


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("visits", {"visited_at": "2026-13-01", "channel": "phone", "purpose": "visit"}, "visited_at"),
        ("visits", {"visited_at": "2026-11-01", "channel": "pigeon", "purpose": "visit"}, "channel"),
        ("visits", {"visited_at": "2026-11-01", "channel": "phone", "purpose": "chat"}, "purpose"),
        ("complaints", {"received_at": "2026-11-01", "type": "delivery", "description": "late",
                        "priority": "critical", "status": "new"}, "priority"),
        ("complaints", {"received_at": "2026-11-01", "type": "weather", "description": "x",
                        "priority": "low", "status": "new"}, "type"),
        ("orders", {"ordered_at": "2026-11-01", "product": "x", "amount": "-5"}, "amount"),
        ("orders", {"ordered_at": "2026-11-01", "product": "x", "amount": "ten"}, "amount"),
        ("orders", {"ordered_at": "2026-11-01", "product": "x" * 201, "amount": "5"}, "product"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(crm: Crm, kind: str, data: dict, field: str) -> None:
    c = crm.customers.create({"name": "赵六"})
    with pytest.raises(ValidationError) as err:
        crm.records(kind).create({"customer_id": c["id"], **data})
    assert [e.field for e in err.value.errors] == [field]
    assert crm.records(kind).count() == 0


def test_get_by_unique_id_prefix_and_clear_not_found(crm: Crm) -> None:
    c = crm.customers.create({"name": "Carol"})
    assert crm.customers.get(c["id"][:-4].lower())["id"] == c["id"]
    with pytest.raises(NotFound, match="no customer"):
        crm.customers.get("01ZZZZZZZZ")


def test_bulk_update_is_all_or_nothing(crm: Crm) -> None:
    for name in ("甲", "乙", "丙"):
        crm.customers.create({"name": name, "region": "华东"})
    where = [parse_filter(crm.customers.entity, "region=华东")]
    preview = crm.customers.bulk_update(where, {"company_size": "small"}, dry_run=True)
    assert len(preview) == 3 and {d["new"] for d in preview} == {"small"}
    assert crm.customers.count([parse_filter(crm.customers.entity, "company_size=small")]) == 0
    with pytest.raises(ValidationError):
        crm.customers.bulk_update(where, {"company_size": "small", "email": "bad"})
    assert crm.customers.count([parse_filter(crm.customers.entity, "company_size=small")]) == 0
    crm.customers.bulk_update(where, {"company_size": "Small"})
    assert crm.customers.count([parse_filter(crm.customers.entity, "company_size=small")]) == 3
    with pytest.raises(ValidationError) as err:  # classes are computed: set by hand as an override
        crm.customers.bulk_update(where, {"tier": "A"})
    assert "override" in str(err.value)


def test_a_new_database_belongs_to_the_configured_rep(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('rep = "liqiang"\n', encoding="utf-8")
    crm = Crm(tmp_path / "new.db")
    assert crm.replica["rep"] == "liqiang"
    assert crm.customers.create({"name": "周杰"})["owner"] == "liqiang"
    crm.set_rep("zhaomin")
    assert Crm(tmp_path / "new.db").replica["rep"] == "zhaomin"
