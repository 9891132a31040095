"""The pulled changes' log rows, and an import's, are written without SQLite's
per-row CHECK of their op (it built a temporary table for every row:
docs/benchmarks.md) only when their ops were all checked against the same words
first: a change with any other op is still refused by the CHECK, the CHECK holds
again for every later insert into the log (even one by the very statement the pull
used), also after a failed write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crm_tui.api import Crm
from crm_tui.api.importing import import_customers
from crm_tui.db import sync_state as sql
from crm_tui.db.connection import transaction
from crm_tui.sync.merge import Change

INSERT = ("INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")  # the statement log_changes runs


def change(seq: int, op: str = "insert") -> Change:
    return Change("other", seq, 1000 + seq, "customers", f"C{seq}", op, {"name": f"客户{seq}"} if op != "delete" else {})


def checks_ignored(crm: Crm) -> int:
    return int(crm.conn.execute("PRAGMA ignore_check_constraints").fetchone()[0])


def test_a_page_of_known_ops_is_logged_and_the_check_holds_after_it(tmp_path: Path) -> None:
    with Crm(tmp_path / "l.db") as crm:
        with transaction(crm.conn):
            sql.log_changes(crm.conn, [change(1), change(2, "update"), change(3, "delete")])
        assert [tuple(r) for r in crm.conn.execute(
            "SELECT node_seq, op, data FROM change_log WHERE node = 'other' ORDER BY node_seq")] == [
            (1, "insert", '{"name":"客户1"}'), (2, "update", '{"name":"客户2"}'), (3, "delete", "{}")]
        assert checks_ignored(crm) == 0
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"), transaction(crm.conn):
            crm.conn.execute(INSERT, ("other", 4, 1004, "customers", "C4", "bogus", "{}", None, None, ""))


def test_a_page_with_an_unknown_op_is_refused_by_the_check(tmp_path: Path) -> None:
    with Crm(tmp_path / "l.db") as crm:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"), transaction(crm.conn):
            sql.log_changes(crm.conn, [change(1), change(2, "bogus")])
        assert crm.conn.execute("SELECT count(*) FROM change_log WHERE node = 'other'").fetchone()[0] == 0
        assert checks_ignored(crm) == 0


def test_the_check_is_back_after_a_failed_write(tmp_path: Path) -> None:
    with Crm(tmp_path / "l.db") as crm:
        with transaction(crm.conn):
            sql.log_changes(crm.conn, [change(1)])
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), transaction(crm.conn):
            sql.log_changes(crm.conn, [change(2), change(1)])  # (node, node_seq) held already
        assert checks_ignored(crm) == 0
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"), transaction(crm.conn):
            crm.conn.execute(INSERT, ("other", 5, 1005, "customers", "C5", "bogus", "{}", None, None, ""))


def test_an_import_logs_its_rows_without_the_per_row_check_and_it_holds_after(tmp_path: Path) -> None:
    source = tmp_path / "c.csv"
    source.write_text("name,mobile\n张伟,13800000001\n王芳,13800000002\n", encoding="utf-8")
    with Crm(tmp_path / "l.db") as crm:
        ran: list[str] = []
        crm.conn.set_trace_callback(ran.append)
        import_customers(crm, source)
        crm.conn.set_trace_callback(None)
        log = next(i for i, s in enumerate(ran) if s.startswith("INSERT INTO change_log") and "SELECT" in s)
        assert ran[log - 1] == "PRAGMA ignore_check_constraints = ON"
        assert ran[log + 1] == "PRAGMA ignore_check_constraints = OFF"
        assert [tuple(r) for r in crm.conn.execute("SELECT op, json_extract(data, '$.name') FROM change_log")] == [
            ("insert", "张伟"), ("insert", "王芳")]
        assert checks_ignored(crm) == 0
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"), transaction(crm.conn):
            crm.conn.execute(INSERT, ("other", 5, 1005, "customers", "C5", "bogus", "{}", None, None, ""))


def test_every_layer_takes_the_domains_ops_and_no_other(tmp_path: Path) -> None:
    """The ops are named once (domain.entities.OPS): the wire's model, a pulled
    change's storability check and the log's CHECK take exactly those."""
    from pydantic import ValidationError

    from crm_tui.api.sync_apply import MALFORMED, check_storable
    from crm_tui.domain.entities import OPS
    from crm_tui.sync.protocol import WireChange

    synced = {"customers": frozenset({"name"})}
    wire = {"node": "other", "node_seq": 1, "hlc": 1, "tbl": "customers", "row_id": "C1", "data": {}}
    with Crm(tmp_path / "l.db") as crm:
        for seq, op in enumerate((*OPS, "upsert"), start=1):
            known = op in OPS
            refused = check_storable(change(seq, op), synced)
            assert (refused is None) if known else (refused is not None and refused[0] == MALFORMED), op
            if known:
                assert WireChange.model_validate({**wire, "op": op}).op == op
                with transaction(crm.conn):
                    crm.conn.execute(INSERT, ("other", seq, seq, "customers", f"C{seq}", op, "{}", None, None, ""))
            else:
                with pytest.raises(ValidationError):
                    WireChange.model_validate({**wire, "op": op})
                with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"), transaction(crm.conn):
                    crm.conn.execute(INSERT, ("other", seq, seq, "customers", f"C{seq}", op, "{}", None, None, ""))
    assert OPS == ("insert", "update", "delete")
