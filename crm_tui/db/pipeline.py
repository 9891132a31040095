"""SQL for the sales pipeline: stage totals of open deals grouped in one scan (300k
opportunities never become Python objects), won amounts by month, the deals and stage
moves the funnel replays, sales in a period for attainment, targets and stale deals.
Dates are compared as ISO text; the closed stage ids are the fixed `won` and `lost`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from crm_tui.db.records import customer_matches, folded
from crm_tui.domain.search import normalize_query

_CLOSED = "('won', 'lost')"


def _owner(alias: str, rep: str | None, params: dict[str, Any]) -> str:
    if rep is None:
        return ""
    params["rep"] = rep
    return f" AND {alias}owner = :rep"


# Deals on their stage's default probability are summed apart, so the domain weighs
# them with the configured default (crm_tui.domain.analytics.pipeline.StageTotal).
_TOTALS = """
SELECT stage, {month} AS month, count(*), total(amount),
       total(amount * probability / 100.0) FILTER (WHERE probability IS NOT NULL),
       total(amount) FILTER (WHERE probability IS NULL)
FROM opportunities INDEXED BY opportunities_stage
WHERE stage NOT IN {closed}{where}
GROUP BY stage, month
"""
# INDEXED BY: (stage, owner, close_date, amount, probability) covers the query, for
# the team (a skip over owner) as for a rep; left to itself the planner takes the
# narrower opportunities_board and reads each deal's row (3× the CPU at 300k deals).


def open_totals(conn: sqlite3.Connection, *, rep: str | None = None, close_from: str | None = None,
                close_before: str | None = None, search: str | None = None,
                ) -> list[tuple[str, str, int, float, float, float]]:
    """(stage, month, count, amount, weighted_own, amount_default) of open deals; with
    close bounds, only deals expected to close in [close_from, close_before), by month;
    with `search`, only the deals the board shows for it (`_searched`)."""
    params: dict[str, Any] = {}
    where = _owner("", rep, params)
    month = "''"
    if close_from is not None:
        where += " AND close_date >= :start AND close_date < :end"
        params |= {"start": close_from, "end": close_before}
        month = "substr(close_date, 1, 7)"
    if search:
        # the deals searched, picked by a subquery on deal and customer (the name is
        # the customer's): the totals themselves keep their covering index
        where += " AND id IN (SELECT o.id FROM opportunities o JOIN customers c ON c.id = o.customer_id " \
                 f"WHERE 1{_searched(search, params)})"
    sql = _TOTALS.format(month=month, closed=_CLOSED, where=where)
    return [tuple(r) for r in conn.execute(sql, params)]


def _searched(search: str | None, params: dict[str, Any]) -> str:
    """The condition on a deal `o` of a search of the board: any part of the deal's
    title, or its customer as the customer list finds them (crm_tui.db.records.
    customer_matches: name, company, phones, email, a contact's name, and the name's
    pinyin in full or by initials: 张伟, zhangwei, zw). The cards and the columns'
    figures use this one condition, so they count the same deals."""
    query = normalize_query(search or "")
    if not query:
        return ""
    params["q"] = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches, args = customer_matches(query)
    params["customer_q"] = args[0]
    return (f" AND ({folded('o.title')} LIKE :q ESCAPE '\\' OR o.customer_id IN (SELECT id FROM customers WHERE local_id IN ("
            + matches.replace("?", ":customer_q") + ")))")


def won_by_month(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None) -> dict[str, float]:
    params: dict[str, Any] = {"start": start, "end": end}
    sql = ("SELECT substr(closed_on, 1, 7), total(amount) FROM opportunities WHERE stage = 'won' "
           f"AND closed_on >= :start AND closed_on < :end{_owner('', rep, params)} GROUP BY 1")
    return {r[0]: r[1] for r in conn.execute(sql, params)}


def sales_by_rep(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None) -> dict[str, float]:
    """Sales of [start, end) per rep: net sales (the `sales` view), plus won deals whose order is not on
    record (none made, or not synced yet). A won deal with its order counts once,
    as the order."""
    params: dict[str, Any] = {"start": start, "end": end}
    owner, o_owner = _owner("", rep, params), _owner("o.", rep, params)
    # Net sales are the `sales` view's amounts. Summed here as the orders as they are,
    # off the covering index orders_date_owner_amount, then the few orders with a
    # refund or cancelled (partial index orders_exceptional) swapped for what the view
    # makes of them: the view's rule, without its per-row tests on every order.
    sql = (f"SELECT owner, total(amount) FROM orders WHERE ordered_at >= :start AND ordered_at < :end{owner} "
           "GROUP BY owner UNION ALL "
           "SELECT o.owner, total(s.amount) - total(o.amount) FROM orders AS o INDEXED BY orders_exceptional "
           "LEFT JOIN sales AS s ON s.id = o.id WHERE (o.refund_of IS NOT NULL OR o.status = 'cancelled') "
           f"AND o.ordered_at >= :start AND o.ordered_at < :end{o_owner} GROUP BY o.owner UNION ALL "
           "SELECT owner, total(amount) FROM opportunities AS o WHERE stage = 'won' "
           f"AND closed_on >= :start AND closed_on < :end{owner} "
           "AND (order_id IS NULL OR NOT EXISTS (SELECT 1 FROM orders WHERE orders.id = o.order_id)) "
           "GROUP BY owner")
    out: dict[str, float] = {}
    for owner_name, amount in conn.execute(sql, params):
        out[owner_name] = out.get(owner_name, 0.0) + amount
    return out


def funnel_rows(conn: sqlite3.Connection, start: str, end: str, *,
                rep: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deals created in [start, end) and their stage moves, oldest first."""
    params: dict[str, Any] = {"start": start, "end": end}
    where = f"created_at >= :start AND created_at < :end{_owner('', rep, params)}"
    deals = [dict(r) for r in conn.execute(
        f"SELECT id, stage, amount, created_at, closed_on FROM opportunities WHERE {where}", params)]
    moves = [dict(r) for r in conn.execute(
        "SELECT opportunity_id, from_stage, to_stage, moved_at, rep FROM opportunity_stages "
        f"WHERE opportunity_id IN (SELECT id FROM opportunities WHERE {where}) ORDER BY moved_at", params)]
    return deals, moves


def moves_of(conn: sqlite3.Connection, opportunity_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        "SELECT id, from_stage, to_stage, moved_at, rep FROM opportunity_stages WHERE opportunity_id = ? "
        "ORDER BY moved_at, id", (opportunity_id,))]


def closed_between(conn: sqlite3.Connection, start: str, end: str, *, rep: str | None = None) -> list[dict[str, Any]]:
    """Deals won or lost in [start, end) with their customer's name, latest first."""
    params: dict[str, Any] = {"start": start, "end": end}
    sql = ("SELECT o.id, o.title, o.stage, o.amount, o.closed_on, o.lost_reason, o.owner, c.name AS customer_name "
           "FROM opportunities o JOIN customers c ON c.id = o.customer_id "
           f"WHERE o.stage IN {_CLOSED} AND o.closed_on >= :start AND o.closed_on < :end{_owner('o.', rep, params)} "
           "ORDER BY o.closed_on DESC, o.id")
    return [dict(r) for r in conn.execute(sql, params)]


def targets(conn: sqlite3.Connection, *, period: str | None = None, rep: str | None = None) -> list[dict[str, Any]]:
    clauses, params = [], []
    if period is not None:
        clauses.append("period = ?")
        params.append(period)
    if rep is not None:
        clauses.append("coalesce(rep, '') = ?")
        params.append(rep)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return [dict(r) for r in conn.execute(
        f"SELECT id, owner, rep, period, amount, updated_at FROM targets{where} ORDER BY period, rep", params)]


def open_cards(conn: sqlite3.Connection, stages: Sequence[str], *, rep: str | None = None,
               search: str | None = None, limit_per_stage: int = 200) -> list[dict[str, Any]]:
    """Open deals for the pipeline board, with their customer's name: per stage the
    nearest expected close first (none last), at most `limit_per_stage` each. One
    query per stage, each an index walk (opportunities_board) that stops at the limit."""
    params: dict[str, Any] = {"limit": limit_per_stage}
    where = _owner("o.", rep, params) + _searched(search, params)
    select = ("SELECT o.id, o.title, o.stage, o.amount, o.probability, o.close_date, o.owner, o.customer_id, "
              "o.next_step, o.next_step_date, c.name AS customer_name "
              "FROM opportunities o JOIN customers c ON c.id = o.customer_id "
              f"WHERE o.stage = :stage AND o.close_date {{dated}}{where} ORDER BY o.close_date, o.id LIMIT :limit")
    out: list[dict[str, Any]] = []
    for stage in stages:
        rows = [dict(r) for r in conn.execute(select.format(dated="IS NOT NULL"), {**params, "stage": stage})]
        if len(rows) < limit_per_stage:
            rows += [dict(r) for r in conn.execute(select.format(dated="IS NULL"), {
                **params, "stage": stage, "limit": limit_per_stage - len(rows)})]
        out += rows
    return out


def open_with_activity(conn: sqlite3.Connection, *, rep: str | None = None) -> list[dict[str, Any]]:
    """Open deals with their customer's name and their last activity: the later of
    the deal's last edit and the last visit to its customer ('YYYY-MM-DD')."""
    params: dict[str, Any] = {}
    sql = ("SELECT o.id, o.title, o.stage, o.amount, o.close_date, o.owner, o.customer_id, "
           "c.name AS customer_name, max(substr(o.updated_at, 1, 10), "
           "coalesce((SELECT max(substr(v.visited_at, 1, 10)) FROM visits v WHERE v.customer_id = o.customer_id), "
           "'')) AS last_activity "
           "FROM opportunities o JOIN customers c ON c.id = o.customer_id "
           f"WHERE o.stage NOT IN {_CLOSED}{_owner('o.', rep, params)}")
    return [dict(r) for r in conn.execute(sql, params)]
