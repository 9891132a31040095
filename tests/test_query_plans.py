"""The book's indexes: none leads another (each index is written on every insert, so
one that begins another costs every write and serves no read the longer one does not),
and the queries on orders of the reports, KPIs, dashboard, RFM, attainment and the
order lists search the table as they did with the two indexes dropped in migration 21
(`orders_customer`, `orders_date`): same searches, same sorts, never a covering index
lost."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.api.seed import seed
from crm_tui.db.connection import connect, open_database
from crm_tui.db.records import Filter

# The two indexes migration 21 dropped, as migration 1 made them.
DROPPED = """
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id, ordered_at);
CREATE INDEX IF NOT EXISTS orders_date ON orders (ordered_at);
"""
ON_ORDERS = re.compile(r"\b(orders|sales)\b")
INDEX_NAME = re.compile(r"USING (COVERING )?INDEX \w+")


def index_keys(conn: sqlite3.Connection, index: str) -> list[tuple[object, ...]]:
    """An index's key columns in order: (column or expression, descending, collation)."""
    return [(row[2] if row[1] != -2 else f"{index} expression {row[0]}", row[3], row[4])
            for row in conn.execute(f'PRAGMA index_xinfo("{index}")') if row[5]]


def leading_indexes(conn: sqlite3.Connection) -> list[str]:
    """Indexes of the book whose keys begin another index of the same table (partial
    and UNIQUE indexes set aside: they say more than their keys)."""
    found = []
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        plain = [(name, bool(unique), index_keys(conn, name)) for _, name, unique, _, partial
                 in conn.execute(f'PRAGMA index_list("{table}")') if not partial]
        for name, unique, keys in plain:
            for other, _, longer in plain:
                if other != name and not unique and len(keys) <= len(longer) and longer[:len(keys)] == keys:
                    found.append(f"{table}: {name} {keys} begins {other} {longer}")
    return found


def test_no_index_of_a_new_book_begins_another(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "new.db")
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index'").fetchone()[0] > 30
    assert leading_indexes(conn) == []
    # the check finds one: the two indexes migration 21 dropped
    conn.executescript(DROPPED)
    assert len(leading_indexes(conn)) == 2


def plan(conn: sqlite3.Connection, statement: str) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement)]


def same_search(before: str, after: str) -> bool:
    """The same step, whichever index it names, and covering if it was."""
    covering_lost = "COVERING INDEX" in before and "COVERING INDEX" not in after
    return not covering_lost and INDEX_NAME.sub("USING INDEX", before) == INDEX_NAME.sub("USING INDEX", after)


def test_the_queries_on_orders_search_as_they_did(tmp_path: Path) -> None:
    crm = Crm(tmp_path / "book.db")
    seed(crm, customers=150, seed=3)
    customer = crm.orders.find(limit=1)[0]["customer_id"]
    statements: list[str] = []
    crm.conn.set_trace_callback(lambda sql: statements.append(sql) if ON_ORDERS.search(sql) else None)
    analytics = crm.analytics
    analytics.kpis()
    analytics.kpis(rep="wang")
    analytics.report_data()
    analytics.dashboard_data()
    analytics.rfm_scores()
    analytics.product_sales()
    analytics.customer_value(customer)
    crm.pipeline.attainment("2026-Q3")
    crm.orders.find([Filter("customer_id", "=", customer)])  # the customer screen's orders
    crm.orders.find(order="-ordered_at", limit=100)  # the order list
    crm.orders.find([Filter("ordered_at", ">=", "2026-01-01")], order="-ordered_at")
    crm.conn.set_trace_callback(None)
    queries = sorted({s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))})
    assert len(queries) > 10

    crm.conn.execute("VACUUM INTO ?", (str(tmp_path / "before.db"),))
    before = connect(tmp_path / "before.db")
    before.executescript(DROPPED)
    searched = ""
    for query in queries:
        old, new = plan(before, query), plan(crm.conn, query)
        assert len(old) == len(new) and all(map(same_search, old, new)), (query, old, new)
        searched += " ".join(new)
    # the plans that matter were among them: a customer's orders and a period's
    assert "(customer_id=?)" in searched and "(ordered_at>? AND ordered_at<?)" in searched
    assert "orders_customer_amount" in searched and "orders_date_owner_amount" in searched
    crm.close()
