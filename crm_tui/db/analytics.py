"""SQL for analytics: per-customer aggregates of orders and contacts in grouped scans (so
100k customers and 1M orders never become 1M Python objects), and the period counts
behind KPIs, reports and complaint analytics. Dates are compared as ISO text."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from crm_tui.domain.analytics.classification import Override
from crm_tui.domain.analytics.facts import CustomerFacts


def _days(expr: str) -> str:
    return f"CAST(julianday(:today) - julianday(substr({expr}, 1, 10)) AS INTEGER)"


# Every sales figure reads the `sales` view (crm_tui/db/migrations.py): the net
# amounts of the orders not cancelled, a refund counting against them. Purchases
# (frequency, first and last order) are the sales that are not refunds.
# FILTER rather than CASE: the aggregate skips the row instead of adding a NULL.
# The view is read off the covering index orders_customer_amount (it holds status and
# refund_of): one scan of every customer's orders.
_SALES = f"""
SELECT customer_id,
       count(*) FILTER (WHERE is_sale), total(amount),
       {_days("min(ordered_at) FILTER (WHERE is_sale)")}, {_days("max(ordered_at) FILTER (WHERE is_sale)")},
       count(*) FILTER (WHERE is_sale AND ordered_at >= :window_start),
       total(amount) FILTER (WHERE ordered_at >= :window_start),
       total(amount) FILTER (WHERE ordered_at >= :recent_start),
       total(amount) FILTER (WHERE ordered_at >= :prev_start AND ordered_at < :recent_start)
FROM sales
WHERE {{before_tomorrow}} {{only}}
GROUP BY customer_id
"""
# The same figures when no order is a refund or cancelled (a book without returns,
# the usual one): the orders as they are, without the view's per-row tests, so the
# million-order scan of RFM costs what it did before refunds existed.
_ORDERS = f"""
SELECT customer_id,
       count(*), total(amount), {_days("min(ordered_at)")}, {_days("max(ordered_at)")},
       count(*) FILTER (WHERE ordered_at >= :window_start),
       total(amount) FILTER (WHERE ordered_at >= :window_start),
       total(amount) FILTER (WHERE ordered_at >= :recent_start),
       total(amount) FILTER (WHERE ordered_at >= :prev_start AND ordered_at < :recent_start)
FROM orders
WHERE {{before_tomorrow}} {{only}}
GROUP BY customer_id
"""
# Whether any order is a refund or cancelled, off a partial index (few rows).
_EXCEPTIONAL = "SELECT customer_id FROM orders WHERE refund_of IS NOT NULL OR status = 'cancelled'"

# visits_customer (customer_id, visited_at) covers this one ...
_CONTACTS = f"""
SELECT customer_id,
       sum(visited_at >= :recent_start),
       sum(visited_at >= :prev_start AND visited_at < :recent_start),
       {_days("max(visited_at)")}
FROM visits
WHERE visited_at < :tomorrow {{only}}
GROUP BY customer_id
"""

# ... and win-back contacts are few: a plain scan beats an index walk that reads
# every row to check its purpose.
_WIN_BACK = f"""
SELECT customer_id, {_days("max(visited_at)")}
FROM visits NOT INDEXED
WHERE purpose = 'win_back' AND visited_at < :tomorrow {{only}}
GROUP BY customer_id
"""

# The local day a record was made: created_at is a UTC stamp, periods are the
# user's local dates (a customer made at 07:30 in Beijing on 1 October is October's).
LOCAL_CREATED = "date(c.created_at, 'localtime')"

# When a customer became one (docs/analytics.md, "Periods"): the imported
# customer_since, else their first order or visit, else the local day of creation.
CUSTOMER_SINCE = f"""coalesce(c.customer_since, nullif(min(
    coalesce((SELECT min(o.ordered_at) FROM sales o WHERE o.customer_id = c.id AND o.is_sale), '9999'),
    coalesce((SELECT substr(min(v.visited_at), 1, 10) FROM visits v WHERE v.customer_id = c.id), '9999')),
    '9999'), {LOCAL_CREATED})"""

_CUSTOMERS = f"""
SELECT id, name, owner, region, tier, status, birthday, {LOCAL_CREATED}
FROM customers c {{where}}
"""

_NO_ORDERS = (0, 0.0, None, None, 0, 0.0, 0.0, 0.0)
_NO_CONTACTS = (0, 0, None)


def _day(d: dt.date, minus: int = 0) -> str:
    return (d - dt.timedelta(days=minus)).isoformat()


def customer_facts(conn: sqlite3.Connection, today: dt.date, *, window_days: int, trend_days: int,
                   rep: str | None = None, customer_id: str | None = None,
                   customer_ids: Sequence[str] | None = None) -> list[CustomerFacts]:
    """Every customer's order and contact aggregates as of `today` (later records are
    ignored), or those of `rep`, `customer_id` or `customer_ids`. Windows are the last
    N days, today included. Four grouped scans, joined in a dict: cheaper than SQL
    joins of the grouped results."""
    params: dict[str, Any] = {
        "today": today.isoformat(), "tomorrow": _day(today, -1),
        "window_start": _day(today, window_days - 1),
        "recent_start": _day(today, trend_days - 1), "prev_start": _day(today, 2 * trend_days - 1),
    }
    where, only = [], ""
    if rep is not None:
        where.append("c.owner = :rep")
        params["rep"] = rep
    if customer_id is not None:
        where.append("c.id = :cid")
        only = "AND customer_id = :cid"
        params["cid"] = customer_id
    elif customer_ids is not None:  # a few customers: each read off the customer indexes
        where.append("c.id IN (SELECT value FROM json_each(:cids))")
        only = "AND customer_id IN (SELECT value FROM json_each(:cids))"
        params["cids"] = json.dumps(list(customer_ids))
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: the fastest rows sqlite3 makes
    # Orders dated after today are left out; when there are none (the usual case, read
    # off the date index) the million-row scan skips that comparison.
    latest = cur.execute("SELECT max(ordered_at) FROM orders").fetchone()[0]
    before = "ordered_at < :tomorrow" if latest is not None and latest >= params["tomorrow"] else "1"
    # One scan of the orders: through the view when any is a refund or cancelled (its
    # per-row tests cost less than splitting the customers in two scans, whose NOT IN
    # costs a look-up per row), else the orders as they are.
    exceptional = cur.execute(f"SELECT EXISTS ({_EXCEPTIONAL})").fetchone()[0]
    scan = _SALES if exceptional else _ORDERS
    orders = {r[0]: r[1:] for r in cur.execute(scan.format(only=only, before_tomorrow=before), params)}
    contacts = {r[0]: r[1:] for r in cur.execute(_CONTACTS.format(only=only), params)}
    win_back = dict(cur.execute(_WIN_BACK.format(only=only), params).fetchall())
    customers = cur.execute(_CUSTOMERS.format(where=("WHERE " + " AND ".join(where)) if where else ""), params)
    # one tuple of the fields in order, then the dataclass (mypy cannot count arguments
    # after starred ones)
    rows = ((*c, *orders.get(c[0], _NO_ORDERS), *contacts.get(c[0], _NO_CONTACTS), win_back.get(c[0]))
            for c in customers)
    return [CustomerFacts(*r) for r in rows]


def overrides(conn: sqlite3.Connection) -> dict[str, Override]:
    rows = conn.execute("SELECT customer_id, reason, status, lifecycle_stage, tier FROM classification_overrides")
    return {r[0]: Override(r[0], r[1], r[2], r[3], r[4]) for r in rows}


# What the classes are computed from (customer_facts and overrides above): a change
# to a row of one of these tables touches the classes of the customer it names.
_TOUCHED = """
SELECT row_id FROM change_log WHERE seq > :seq AND tbl IN ('customers', 'classification_overrides')
UNION SELECT json_extract(data, '$.customer_id') FROM change_log WHERE seq > :seq AND tbl IN ('orders', 'visits')
UNION SELECT json_extract(old, '$.customer_id') FROM change_log WHERE seq > :seq AND tbl IN ('orders', 'visits')
UNION SELECT o.customer_id FROM change_log l JOIN orders o ON o.id = l.row_id WHERE l.seq > :seq AND l.tbl = 'orders'
UNION SELECT v.customer_id FROM change_log l JOIN visits v ON v.id = l.row_id WHERE l.seq > :seq AND l.tbl = 'visits'
"""
# An order or visit whose customer the log cannot tell: gone, with no customer in
# what the change carried (a pulled delete holds no old values).
_UNKNOWN_TOUCH = """
SELECT 1 FROM change_log l WHERE l.seq > :seq AND l.tbl IN ('orders', 'visits')
AND json_extract(l.data, '$.customer_id') IS NULL AND json_extract(l.old, '$.customer_id') IS NULL
AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = l.row_id)
AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.id = l.row_id) LIMIT 1
"""


def customers_touched_since(conn: sqlite3.Connection, seq: int, limit: int) -> set[str] | None:
    """The customers whose classes the changes logged after `seq` may have moved;
    None when there are more than `limit` changes or one whose customer is unknown
    (then the whole book is classified again)."""
    params = {"seq": seq}
    if conn.execute("SELECT count(*) FROM (SELECT 1 FROM change_log WHERE seq > :seq LIMIT :n)",
                    {**params, "n": limit + 1}).fetchone()[0] > limit:
        return None
    if conn.execute(_UNKNOWN_TOUCH, params).fetchone() is not None:
        return None
    return {r[0] for r in conn.execute(_TOUCHED, params) if r[0] is not None}


def class_values(conn: sqlite3.Connection) -> dict[str, float]:
    """Each customer's value as the stored classes were computed with."""
    cur = conn.cursor()
    cur.row_factory = None
    return dict(cur.execute("SELECT customer_id, value FROM class_values").fetchall())


def write_class_values(conn: sqlite3.Connection, values: Iterable[tuple[str, float]],
                       gone: Iterable[str] = ()) -> None:
    """(customer_id, value) to keep, customers to drop; inside the caller's transaction."""
    conn.executemany("INSERT INTO class_values (customer_id, value) VALUES (?, ?) "
                     "ON CONFLICT (customer_id) DO UPDATE SET value = excluded.value", values)
    conn.executemany("DELETE FROM class_values WHERE customer_id = ?", ((g,) for g in gone))


def stored_classes(conn: sqlite3.Connection) -> dict[str, tuple[str | None, str | None, str | None]]:
    cur = conn.cursor()
    cur.row_factory = None
    return {r[0]: (r[1], r[2], r[3]) for r in cur.execute("SELECT id, status, lifecycle_stage, tier FROM customers")}


def write_classes(conn: sqlite3.Connection, rows: Iterable[tuple[str | None, str | None, str | None, str]]) -> None:
    """(status, lifecycle_stage, tier, id) for customers whose stored classes changed,
    inside the caller's transaction. These columns are local (not captured): the
    update logs nothing and syncs nothing, and `updated_at` stays as it was."""
    conn.executemany("UPDATE customers SET status = ?, lifecycle_stage = ?, tier = ? WHERE id = ?", rows)


def _owner(alias: str, rep: str | None, params: dict[str, Any]) -> str:
    if rep is None:
        return ""
    params["rep"] = rep
    return f" AND {alias}owner = :rep"


def complaints_between(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None,
                       region: str | None = None, product: str | None = None) -> list[dict[str, Any]]:
    """Complaints received in [start, end), with the customer's region. A complaint
    naming a product of the catalogue (its SKU or name) is counted under the
    catalogue's name and with its category."""
    params: dict[str, Any] = {"start": start, "end": end}
    # by SKU first, then by name (SQLite 3.40 cannot order a correlated subquery by k)
    catalogue = ("coalesce((SELECT {col} FROM products WHERE sku = k.product LIMIT 1), "
                 "(SELECT {col} FROM products WHERE name = k.product LIMIT 1))")
    sql = ("SELECT k.id, k.customer_id, k.received_at, k.type, k.cause, "
           f"coalesce({catalogue.format(col='name')}, k.product) AS product, {catalogue.format(col='category')} "
           "AS category, k.priority, k.status, "
           "k.handler, k.owner, k.due_at, k.first_response_at, k.resolved_at, k.closed_at, c.region "
           "FROM complaints k JOIN customers c ON c.id = k.customer_id "
           "WHERE k.received_at >= :start AND k.received_at < :end" + _owner("k.", rep, params))
    if region:
        sql += " AND c.region = :region"
        params["region"] = region
    if product:
        sql += (" AND (k.product = :product OR k.product IN (SELECT sku FROM products WHERE name = :product) "
                "OR k.product IN (SELECT name FROM products WHERE sku = :product))")
        params["product"] = product
    return [dict(r) for r in conn.execute(sql + " ORDER BY k.received_at, k.id", params)]


def complaints_handled_between(conn: sqlite3.Connection, start: str, end: str, *,
                               rep: str | None = None) -> list[dict[str, Any]]:
    """Complaints resolved (or closed without a resolution stamp) in [start, end);
    `rep` is the handler, or the owner when no handler is named."""
    params: dict[str, Any] = {"start": start, "end": end}
    sql = ("SELECT id, priority, received_at, due_at, resolved_at, closed_at, "
           "coalesce(nullif(handler, ''), owner) AS rep FROM complaints "
           "WHERE coalesce(resolved_at, closed_at) >= :start AND coalesce(resolved_at, closed_at) < :end")
    if rep is not None:
        sql += " AND coalesce(nullif(handler, ''), owner) = :rep"
        params["rep"] = rep
    return [dict(r) for r in conn.execute(sql, params)]


def rep_counts(conn: sqlite3.Connection, start: str, end: str, today: dt.date, *, follow_up_days: int,
               rep: str | None = None) -> dict[str, dict[str, float]]:
    """Per rep (record owner): visits, follow-ups due and done (of visits, and of closed
    complaints), orders and sales."""
    out: dict[str, dict[str, float]] = {}

    def add(rows: Iterable[Sequence[Any]], *names: str) -> None:
        for row in rows:
            entry = out.setdefault(row[0], {})
            for name, value in zip(names, row[1:], strict=True):
                entry[name] = value or 0

    params: dict[str, Any] = {"start": start, "end": end, "today": today.isoformat()}
    owner = _owner("", rep, params)
    add(conn.execute("SELECT owner, count(*) FROM visits WHERE visited_at >= :start AND visited_at < :end"
                     f"{owner} GROUP BY owner", params), "visits")
    params["days"] = follow_up_days
    follow_ups = ("SELECT owner, next_action_date, follow_up_done = 1 AS done FROM visits "
                  f"UNION ALL SELECT owner, next_action_date, done FROM ({SATISFACTION_FOLLOW_UPS})")
    add(conn.execute(f"SELECT owner, count(*), total(done) FROM ({follow_ups}) "
                     "WHERE next_action_date >= :start AND next_action_date < :end "
                     f"AND next_action_date <= :today{owner} GROUP BY owner", params),
        "follow_ups_due", "follow_ups_done")
    add(conn.execute("SELECT owner, CAST(total(is_sale) AS INTEGER), total(amount) FROM sales WHERE ordered_at >= :start "
                     f"AND ordered_at < :end{owner} GROUP BY owner", params), "orders", "sales")
    return out


def period_counts(conn: sqlite3.Connection, start: str, end: str, prev_start: str, *,
                  prev_end: str | None = None, rep: str | None = None) -> dict[str, Any]:
    """The counts behind the overall KPIs of [start, end), the previous period being
    [prev_start, start); its sales are those of [prev_start, prev_end) (default: the
    whole previous period)."""
    p: dict[str, Any] = {"start": start, "end": end, "prev": prev_start, "prev_end": prev_end or start}
    owner = _owner("", rep, p)

    def one(sql: str) -> Any:
        return conn.execute(sql, p).fetchone()[0]

    orders_in = ("SELECT DISTINCT customer_id FROM sales WHERE is_sale AND ordered_at >= {a} "
                 "AND ordered_at < {b}" + owner)
    since = f"SELECT {CUSTOMER_SINCE} AS day FROM customers c WHERE 1{_owner('c.', rep, p)}"
    customers_end, customers_start = conn.execute(
        f"SELECT total(day < :end), total(day < :start) FROM ({since})", p).fetchone()
    return {
        "customers_end": int(customers_end),
        "customers_start": int(customers_start),
        "active": one(f"SELECT count(*) FROM ({orders_in.format(a=':start', b=':end')})"),
        "active_prev": one(f"SELECT count(*) FROM ({orders_in.format(a=':prev', b=':start')})"),
        "retained": one(f"SELECT count(*) FROM ({orders_in.format(a=':prev', b=':start')}) p "
                        f"WHERE p.customer_id IN ({orders_in.format(a=':start', b=':end')})"),
        "orders": int(one(f"SELECT total(is_sale) FROM sales WHERE ordered_at >= :start AND ordered_at < :end{owner}")),
        "sales": one(f"SELECT total(amount) FROM sales WHERE ordered_at >= :start AND ordered_at < :end{owner}"),
        "sales_prev": one("SELECT total(amount) FROM sales WHERE ordered_at >= :prev "
                          f"AND ordered_at < :prev_end{owner}"),
        "satisfaction": one("SELECT avg(perceived / expected) FROM surveys WHERE expected > 0 "
                            f"AND surveyed_at >= :start AND surveyed_at < :end{owner}"),
        "surveys": one("SELECT count(*) FROM surveys WHERE expected > 0 "
                       f"AND surveyed_at >= :start AND surveyed_at < :end{owner}"),
        "complaints": one(f"SELECT count(*) FROM complaints WHERE received_at >= :start AND received_at < :end{owner}"),
    }


def monthly_sales(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None) -> dict[str, float]:
    params: dict[str, Any] = {"start": start, "end": end}
    sql = ("SELECT substr(ordered_at, 1, 7), total(amount) FROM sales WHERE ordered_at >= :start "
           f"AND ordered_at < :end{_owner('', rep, params)} GROUP BY 1 ORDER BY 1")
    return {r[0]: r[1] for r in conn.execute(sql, params)}


def top_customers(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None,
                  limit: int = 10) -> list[dict[str, Any]]:
    """Customers by sales in [start, end), largest first."""
    params: dict[str, Any] = {"start": start, "end": end, "limit": limit}
    sql = ("SELECT c.id, c.name, c.company, CAST(total(o.is_sale) AS INTEGER) AS orders, total(o.amount) AS sales "
           "FROM sales o JOIN customers c ON c.id = o.customer_id "
           f"WHERE o.ordered_at >= :start AND o.ordered_at < :end{_owner('o.', rep, params)} "
           "GROUP BY c.id ORDER BY sales DESC, c.id LIMIT :limit")
    return [dict(r) for r in conn.execute(sql, params)]


def sent_greeting_notes(conn: sqlite3.Connection, since: str) -> set[tuple[str, str]]:
    """(customer id, note) of greetings logged since `since`: how a sent greeting is
    recognised (crm_tui.domain.analytics.reminders.greeting_note)."""
    rows = conn.execute("SELECT customer_id, notes FROM visits WHERE purpose IN ('holiday_greeting', 'care') "
                        "AND visited_at >= ? AND notes IS NOT NULL", (since,))
    return {(r[0], r[1]) for r in rows}


# The satisfaction follow-up of a closed complaint (docs/analytics.md): planned, not a
# contact made, so no visit is written for it. It is due :days after the closing day,
# for a complaint closed while it was in the book (one imported already closed is
# history: nothing to follow up), and done once the complaint has a survey or the
# customer a visit logged since the closing. One definition for the agenda, its
# counts on the dashboard and the follow-ups of the KPIs.
SATISFACTION_FOLLOW_UPS = """
SELECT c.id, c.customer_id, c.owner, c.type, c.closed_at,
       date(c.closed_at, printf('%+d days', :days)) AS next_action_date,
       (c.id IN (SELECT complaint_id FROM surveys WHERE complaint_id IS NOT NULL)
        OR EXISTS (SELECT 1 FROM visits v WHERE v.customer_id = c.customer_id AND v.visited_at >= c.closed_at))
       AS done
FROM complaints c
WHERE c.status = 'closed' AND c.closed_at IS NOT NULL AND date(c.closed_at) >= date(c.created_at, 'localtime')
"""


def satisfaction_follow_ups(conn: sqlite3.Connection, days: int, last: str, *,
                            customer_id: str | None = None) -> list[dict[str, Any]]:
    """The pending satisfaction follow-ups due up to `last`, earliest first."""
    p: dict[str, Any] = {"days": days, "last": last, "customer": customer_id}
    sql = (f"SELECT id, customer_id, owner, type, closed_at, next_action_date FROM ({SATISFACTION_FOLLOW_UPS}) "
           "WHERE NOT done AND next_action_date <= :last")
    if customer_id is not None:
        sql += " AND customer_id = :customer"
    return [dict(r) for r in conn.execute(sql + " ORDER BY next_action_date, id", p)]


def agenda_counts(conn: sqlite3.Connection, today: dt.date, *, follow_up_days: int,
                  rep: str | None = None) -> dict[str, int]:
    """Today's work: pending follow-ups (of visits, and of closed complaints) overdue
    and due today; open complaints, and those due by the end of today (or overdue)."""
    p: dict[str, Any] = {"today": today.isoformat(), "tomorrow": _day(today, -1), "days": follow_up_days}
    owner = _owner("", rep, p)
    pending = "next_action_date IS NOT NULL AND coalesce(follow_up_done, 0) != 1"
    due = (f"SELECT next_action_date FROM visits WHERE {pending}{owner} UNION ALL "
           f"SELECT next_action_date FROM ({SATISFACTION_FOLLOW_UPS}) WHERE NOT done{owner}")
    overdue, due_today = conn.execute(f"SELECT total(next_action_date < :today), total(next_action_date = :today) "
                                      f"FROM ({due})", p).fetchone()
    return {
        "follow_ups_overdue": int(overdue),
        "follow_ups_today": int(due_today),
        "complaints_open": conn.execute(
            "SELECT count(*) FROM complaints WHERE status NOT IN ('resolved', 'closed')" + owner, p).fetchone()[0],
        "complaints_due": conn.execute(
            "SELECT count(*) FROM complaints WHERE status NOT IN ('resolved', 'closed') AND due_at IS NOT NULL "
            f"AND due_at < :tomorrow{owner}", p).fetchone()[0],
    }


# Sales by product (issue 13): one row per (product, region, rep, sale or refund) of the
# orders of a period, not cancelled; an order without lines (an import, a script)
# counts as one line of its own product, quantity and amount (as OrderBook.lines reads it).
_PRODUCT_SALES = """
SELECT key, sku, product, category, region, rep, is_sale, count(DISTINCT order_id) AS orders,
       total(quantity) AS quantity, total(amount) AS amount
FROM (
    SELECT coalesce(p.sku, l.product) AS key, p.sku AS sku, coalesce(p.name, l.product) AS product,
           p.category AS category, c.region AS region, o.owner AS rep, o.refund_of IS NULL AS is_sale,
           o.id AS order_id, l.quantity AS quantity, l.amount AS amount
    FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN customers c ON c.id = o.customer_id
    LEFT JOIN products p ON p.id = l.product_id
    WHERE o.status IS NOT 'cancelled' AND o.ordered_at >= :start AND o.ordered_at < :end{owner}
    UNION ALL
    SELECT o.product, NULL, o.product, NULL, c.region, o.owner, o.refund_of IS NULL, o.id,
           coalesce(nullif(o.quantity, 0), 1), o.amount
    FROM orders o JOIN customers c ON c.id = o.customer_id
    WHERE o.status IS NOT 'cancelled' AND o.ordered_at >= :start AND o.ordered_at < :end{owner}
      AND NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)
)
GROUP BY key, sku, product, category, region, rep, is_sale
"""


def product_sales(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None) -> list[dict[str, Any]]:
    """Lines of orders dated in [start, end) by product, customer region, rep and
    whether the order is a sale or a refund: {key, sku, product, category, region,
    rep, is_sale, orders, quantity, amount} (amounts positive for refunds too)."""
    params: dict[str, Any] = {"start": start, "end": end}
    sql = _PRODUCT_SALES.format(owner=_owner("o.", rep, params))
    return [dict(r) for r in conn.execute(sql, params)]


def order_counts(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None) -> tuple[int, int]:
    """(sale orders, refund orders) dated in [start, end), not cancelled."""
    params: dict[str, Any] = {"start": start, "end": end}
    row = conn.execute("SELECT total(is_sale), total(NOT is_sale) FROM sales WHERE ordered_at >= :start "
                       f"AND ordered_at < :end{_owner('', rep, params)}", params).fetchone()
    return int(row[0]), int(row[1])
