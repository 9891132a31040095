"""SQL for reading and writing records. Callers pass validated values; table and
column names come from `crm_tui.domain.entities`, never from user text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crm_tui.db.bulk import bulk_insert
from crm_tui.domain.entities import Entity, record_columns
from crm_tui.domain.search import PLAIN_RANGES

OPERATORS = {"=": "=", "!=": "IS NOT", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "~": "LIKE"}


@dataclass(frozen=True)
class Filter:
    """One condition of a list or bulk edit: `field op value`. `~` means contains;
    for tags, `=` means "has this tag"."""

    field: str
    op: str
    value: Any


def _columns(ent: Entity) -> list[str]:
    return list(record_columns(ent))


def _where(ent: Entity, filters: Sequence[Filter], search_rowids: str | None) -> tuple[str, list]:
    clauses: list[str] = []
    params: list[Any] = []
    allowed = set(_columns(ent))
    for flt in filters:
        if flt.field not in allowed or flt.op not in OPERATORS:
            raise ValueError(f"cannot filter on {flt.field} {flt.op}")
        column = f'"{flt.field}"'
        if flt.field == "tags" and flt.op in ("=", "~") and flt.value is not None:
            clauses.append("(',' || tags || ',') LIKE ? ESCAPE '\\'")
            params.append(_like_pattern(f",{flt.value},") if flt.op == "=" else _like_pattern(str(flt.value)))
        elif flt.op == "~":
            clauses.append(f"{column} LIKE ? ESCAPE '\\'")
            params.append(_like_pattern(str(flt.value)))
        elif flt.value is None:
            clauses.append(f"{column} IS {'NOT ' if flt.op == '!=' else ''}NULL")
        else:
            clauses.append(f"{column} {OPERATORS[flt.op]} ?")
            params.append(flt.value)
    if search_rowids is not None:
        clauses.append(search_rowids)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


# Text holding a character outside PLAIN_RANGES (GLOB compares code points).
_NOT_PLAIN = "*[^" + "".join(f"{first}-{last}" for first, last in PLAIN_RANGES) + "]*"


def folded(column: str) -> str:
    """SQL for the text of `column` as search folds it (crm_tui.domain.search.fold),
    to compare with LIKE against a folded query: text of plain characters as it is,
    LIKE folding its A-Z as fold would; other text through `search_fold()`, a call into
    Python (~1 us a row, where LIKE takes ~0.1 us: an order's product, on every order)."""
    return f"(CASE WHEN {column} GLOB '{_NOT_PLAIN}' THEN search_fold({column}) ELSE {column} END)"


def _like_pattern(query: str) -> str:
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def customer_matches(query: str) -> tuple[str, list]:
    """SELECT of the local ids of customers whose search text contains `query`
    (already normalised). Three or more characters use the trigram index; shorter
    ones scan the plain text with LIKE (about twice as fast as instr() on UTF-8)."""
    if len(query) >= 3:
        return "SELECT rowid FROM customer_search WHERE customer_search MATCH ?", [
            '"' + query.replace('"', '""') + '"']
    return "SELECT local_id FROM customer_search_text WHERE text LIKE ? ESCAPE '\\'", [_like_pattern(query)]


def search_clause(query: str, ent: Entity | None = None) -> tuple[str, list]:
    """The WHERE clause of a search: customers by their search text; a customer's
    records (complaints, orders) by their customer's search text, so 张伟, zw or a
    phone finds them as it finds the customer, or by their own `searchable` text,
    folded as the query is (`search_fold`, crm_tui.domain.search.fold)."""
    sql, params = customer_matches(query)
    if ent is None or ent.table == "customers":
        return f"local_id IN ({sql})", params
    columns = [f'"{name}"' for name in ent.searchable]
    own = "".join(f" OR {folded(column)} LIKE ? ESCAPE '\\'" for column in columns)
    return (f"(customer_id IN (SELECT id FROM customers WHERE local_id IN ({sql})){own})",
            [*params, *[_like_pattern(query)] * len(ent.searchable)])


# How a search gets its page and its count, by the share of customers it matches
# (estimated on a sample in storage order, which is unrelated to the list's order):
# - sparse (张伟): sort the matches and count them in the same scan;
# - broad ("13" is in every mobile): walk the customers in the list's order testing
#   each one's search text, which fills a page after a few rows, then count;
# - broad but bunched late in the order (pinyin "z…" under Z), found by a walk that
#   ends without a page: count, then sort the top of the matches. A window count over
#   a broad set would carry every match through the sort, so it is not used there.
SPARSE_SHARE = 0.05
SAMPLE_ROWS = 1000


def select(
    conn: sqlite3.Connection,
    ent: Entity,
    *,
    filters: Sequence[Filter] = (),
    search: str | None = None,
    order: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    return select_counted(conn, ent, filters=filters, search=search, order=order, limit=limit,
                          offset=offset)[0]


def select_counted(
    conn: sqlite3.Connection,
    ent: Entity,
    *,
    filters: Sequence[Filter] = (),
    search: str | None = None,
    order: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of records and, with a search, the number of all matches (None without
    one). The count comes first and picks the plan for the page."""
    broad = False
    if search and limit is not None and ent.table == "customers":
        share = _sample_share(conn, search)
        broad = share >= SPARSE_SHARE
        walkable = order is None or order.replace('"', "") == f"{ent.default_order} DESC"  # index order
        if broad and walkable:
            bound = int((offset + limit) / share * 4) + 100
            page = _walk(conn, ent, filters, search, order, limit, offset, bound)
            if page is not None:
                return page, count(conn, ent, filters=filters, search=search)
    search_sql, search_params = search_clause(search, ent) if search else (None, [])
    where, params = _where(ent, filters, search_sql)
    params += search_params
    window = search and not broad
    sql = (f"SELECT {', '.join(_columns(ent))}{', count(*) OVER () AS _total' if window else ''} "
           f"FROM {ent.table}{where} ORDER BY {order or ent.default_order}, id")
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    page = [dict(row) for row in conn.execute(sql, params)]
    total = None
    if window and page:
        total = page[0]["_total"]
        for row in page:
            del row["_total"]
    elif search:
        total = count(conn, ent, filters=filters, search=search)
    return page, total


def _sample_share(conn: sqlite3.Connection, search: str) -> float:
    """The share of customers matching `search` in the first SAMPLE_ROWS stored."""
    hits, seen = conn.execute(
        "SELECT total(text LIKE ? ESCAPE '\\'), count(*) FROM "
        "(SELECT text FROM customer_search_text LIMIT ?)", (_like_pattern(search), SAMPLE_ROWS)).fetchone()
    return hits / seen if seen else 0.0


def _walk(conn: sqlite3.Connection, ent: Entity, filters: Sequence[Filter], search: str, order: str | None,
          limit: int, offset: int, bound: int) -> list[dict[str, Any]] | None:
    """A page of matches found by walking the first `bound` records in the list's order;
    None when the bound held too few (the caller sorts the matches instead)."""
    where, params = _where(ent, filters, None)
    order_sql = f"{order or ent.default_order}, id"
    sql = (f"SELECT {', '.join(_columns(ent))} FROM (SELECT * FROM {ent.table}{where} ORDER BY {order_sql} "
           "LIMIT ?) AS walked WHERE EXISTS (SELECT 1 FROM customer_search_text AS s "
           "WHERE s.local_id = walked.local_id AND s.text LIKE ? ESCAPE '\\') "
           f"ORDER BY {order_sql} LIMIT ? OFFSET ?")
    page = [dict(row) for row in conn.execute(sql, [*params, bound, _like_pattern(search), limit, offset])]
    return page if len(page) == limit else None


def count(conn: sqlite3.Connection, ent: Entity, *, filters: Sequence[Filter] = (), search: str | None = None) -> int:
    if search and not filters and ent.table == "customers":
        sql, params = customer_matches(search)
        return conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
    search_sql, search_params = search_clause(search, ent) if search else (None, [])
    where, params = _where(ent, filters, search_sql)
    return conn.execute(f"SELECT count(*) FROM {ent.table}{where}", [*params, *search_params]).fetchone()[0]


def get(conn: sqlite3.Connection, ent: Entity, record_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(_columns(ent))} FROM {ent.table} WHERE id = ?", (record_id,)).fetchone()
    return dict(row) if row else None


def get_many(conn: sqlite3.Connection, ent: Entity, record_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The records of `record_ids` that exist, by id; a few hundred per query."""
    ids = list(record_ids)
    cols = ", ".join(_columns(ent))
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        found.update((r["id"], dict(r)) for r in conn.execute(
            f"SELECT {cols} FROM {ent.table} WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return found


def ids_with_prefix(conn: sqlite3.Connection, ent: Entity, prefix: str, limit: int = 2) -> list[str]:
    upper = prefix + "\U0010ffff"
    return [r[0] for r in conn.execute(f"SELECT id FROM {ent.table} WHERE id >= ? AND id < ? LIMIT ?", (prefix, upper, limit))]


def insert(conn: sqlite3.Connection, ent: Entity, values: Mapping[str, Any]) -> None:
    cols = list(values)
    conn.execute(
        f"INSERT INTO {ent.table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [values[c] for c in cols],
    )


def insert_many(conn: sqlite3.Connection, ent: Entity, cols: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many records in the caller's transaction, captured and indexed in bulk."""
    return bulk_insert(conn, ent.table, cols, rows)


def update(conn: sqlite3.Connection, ent: Entity, record_id: str, values: Mapping[str, Any]) -> None:
    cols = list(values)
    conn.execute(
        f"UPDATE {ent.table} SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
        [*(values[c] for c in cols), record_id],
    )


def delete(conn: sqlite3.Connection, ent: Entity, record_id: str) -> None:
    conn.execute(f"DELETE FROM {ent.table} WHERE id = ?", (record_id,))


def exists(conn: sqlite3.Connection, table: str, record_id: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (record_id,)).fetchone() is not None


def ids_with_value(conn: sqlite3.Connection, ent: Entity, column: str, value: Any,
                   other_than: str | None = None) -> list[str]:
    """Ids of records whose `column` holds `value`, but for the record `other_than`."""
    return [r[0] for r in conn.execute(
        f"SELECT id FROM {ent.table} WHERE {column} = ? AND id IS NOT ? LIMIT 2", (value, other_than))]


# A customer's name as it sounds: the full pinyin of a Chinese name, else the name in
# lower case without spaces (crm_tui.domain.search.name_key, in SQL).
_NAME_SOUND = ("coalesce(nullif(substr(pinyin, 1, instr(pinyin, ' ') - 1), ''), "
               "lower(replace(name, ' ', '')))")


def duplicate_groups(conn: sqlite3.Connection) -> list[tuple[str, str, list[str]]]:
    """(kind, key, customer ids) of every group of two or more customers sharing a
    normalised phone (either column) or an email. Names and companies are grouped by
    crm_tui.domain.duplicates.company_groups, from `customer_companies`: a company
    is compared by its key (华为 = 华为技术有限公司), which SQL does not know."""
    queries = {
        "phone": "SELECT key, group_concat(id) FROM (SELECT phone AS key, id FROM customers WHERE phone IS NOT NULL "
                 "UNION SELECT mobile, id FROM customers WHERE mobile IS NOT NULL) "
                 "GROUP BY key HAVING count(DISTINCT id) > 1",
        "email": "SELECT email, group_concat(id) FROM customers WHERE email IS NOT NULL "
                 "GROUP BY email HAVING count(*) > 1",
    }
    return [(kind, key, ids.split(",")) for kind, sql in queries.items() for key, ids in conn.execute(sql)]


def customer_companies(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    """(id, name, the name's sound, company) of every customer, oldest first."""
    return list(conn.execute(f"SELECT id, name, {_NAME_SOUND}, company FROM customers ORDER BY id"))


def value_index(conn: sqlite3.Connection, ent: Entity, column: str) -> list[tuple[Any, str]]:
    """(value, id) of every record with a value in `column`."""
    return list(conn.execute(f"SELECT {column}, id FROM {ent.table} WHERE {column} IS NOT NULL"))


def skus(conn: sqlite3.Connection, product_ids: Iterable[str]) -> dict[str, str]:
    """Product id -> SKU, for the ids that name a product."""
    ids = list(product_ids)
    if not ids:
        return {}
    return dict(conn.execute(f"SELECT id, sku FROM products WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall())


def refunds_of(conn: sqlite3.Connection, order_ids: Iterable[str]) -> list[tuple[str, float, str | None, str | None,
                                                                                 float]]:
    """Of the orders `order_ids`, those with refunds (not cancelled): id, amount, its
    own refund_of, status, and what the refunds come to; a few hundred per query."""
    ids = list(order_ids)
    found: list[tuple[str, float, str | None, str | None, float]] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        found += conn.execute(
            "SELECT o.id, o.amount, o.refund_of, o.status, total(r.amount) FROM orders o "
            "JOIN orders r ON r.refund_of = o.id AND r.status IS NOT 'cancelled' "
            f"WHERE o.id IN ({', '.join('?' * len(chunk))}) GROUP BY o.id", chunk).fetchall()
    return found


def existing_ids(conn: sqlite3.Connection, table: str, ids: Iterable[str]) -> set[str]:
    """Which of `ids` name a record of `table`, a few hundred per query."""
    ids = list(ids)
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        found.update(r[0] for r in conn.execute(
            f"SELECT id FROM {table} WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return found


def records_by_contact(conn: sqlite3.Connection, table: str, *, phones: Sequence[str] = (),
                       email: str | None = None) -> list[dict[str, Any]]:
    """Customers or contacts (`table`) sharing a normalised phone (either phone
    column) or email."""
    clauses, params = [], []
    for phone in phones:
        clauses.append("phone = ? OR mobile = ?")
        params += [phone, phone]
    if email:
        clauses.append("email = ?")
        params.append(email)
    if not clauses:
        return []
    named = "company" if table == "customers" else "customer_id"
    sql = f"SELECT id, name, {named}, phone, mobile, email FROM {table} WHERE {' OR '.join(clauses)}"
    return [dict(r) for r in conn.execute(sql, params)]


def resolve_contact(conn: sqlite3.Connection, customer_id: str, item: str) -> list[str]:
    """Ids of the customer's contacts that `item` names: its id, a unique prefix of
    the id (6+ characters), or the contact's name."""
    item = item.strip()
    rows = conn.execute("SELECT id FROM contacts WHERE customer_id = ? AND id = ?", (customer_id, item.upper()))
    found = [r[0] for r in rows]
    if not found and len(item) >= 6:
        found = [r[0] for r in conn.execute(
            "SELECT id FROM contacts WHERE customer_id = ? AND id >= ? AND id < ? LIMIT 2",
            (customer_id, item.upper(), item.upper() + "\U0010ffff"))]
    if not found:
        found = [r[0] for r in conn.execute(
            "SELECT id FROM contacts WHERE customer_id = ? AND name = ? LIMIT 2", (customer_id, item))]
    return found


def resolve_product(conn: sqlite3.Connection, item: str) -> list[str]:
    """Ids of the products `item` names: its SKU, its id, or a unique prefix of the id
    (6+ characters)."""
    item = item.strip()
    found = [r[0] for r in conn.execute("SELECT id FROM products WHERE sku = ? LIMIT 2", (item,))]
    if not found:
        found = [r[0] for r in conn.execute("SELECT id FROM products WHERE id = ?", (item.upper(),))]
    if not found and len(item) >= 6:
        found = [r[0] for r in conn.execute("SELECT id FROM products WHERE id >= ? AND id < ? LIMIT 2",
                                            (item.upper(), item.upper() + "\U0010ffff"))]
    return found


def product_names(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Product id -> (SKU, name), for the ids that name a product of the catalogue."""
    wanted = sorted({i for i in ids if i})
    out: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        out.update((r[0], (r[1], r[2])) for r in conn.execute(
            f"SELECT id, sku, name FROM products WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return out


def contact_index(conn: sqlite3.Connection) -> dict[str, str]:
    """Every normalised phone and email -> customer id, for de-duplicating an import."""
    index: dict[str, str] = {}
    for cid, phone, mobile, email in conn.execute("SELECT id, phone, mobile, email FROM customers"):
        for key in (phone, mobile, email):
            if key:
                index.setdefault(key, cid)
    return index


def data_version(conn: sqlite3.Connection) -> tuple[int, int]:
    """Changes by this connection and commits by others since it opened."""
    return conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0]


def local_rep(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT rep FROM replica").fetchone()[0]


# Where a rep's name is written: the owner of the records the figures count, a
# complaint's handler and a target's rep.
_REP_COLUMNS = (("customers", "owner"), ("visits", "owner"), ("complaints", "owner"), ("complaints", "handler"),
                ("orders", "owner"), ("opportunities", "owner"), ("targets", "rep"))


def rep_named(conn: sqlite3.Connection, rep: str) -> bool:
    """Whether a record of the book names `rep` (see _REP_COLUMNS), or this laptop is theirs."""
    named = " OR ".join(f"EXISTS (SELECT 1 FROM {tbl} WHERE {col} = :rep)" for tbl, col in _REP_COLUMNS)
    return bool(conn.execute(f"SELECT {named} OR EXISTS (SELECT 1 FROM replica WHERE rep = :rep)",
                             {"rep": rep}).fetchone()[0])


def rep_names(conn: sqlite3.Connection) -> list[str]:
    """Every rep a record of the book names, and this laptop's, in order."""
    named = " UNION ".join(f"SELECT {col} FROM {tbl} WHERE {col} <> ''" for tbl, col in _REP_COLUMNS)
    return [r[0] for r in conn.execute(f"{named} UNION SELECT rep FROM replica ORDER BY 1")]


def set_local_rep(conn: sqlite3.Connection, rep: str) -> None:
    conn.execute("UPDATE replica SET rep = ?", (rep,))


def is_made_up(conn: sqlite3.Connection) -> bool:
    """Whether `crm seed` put made-up records in this database (it never syncs)."""
    return bool(conn.execute("SELECT made_up FROM replica").fetchone()[0])


def mark_made_up(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE replica SET made_up = 1")


def changes(conn: sqlite3.Connection, *, table: str | None = None, row_id: str | None = None,
            since_seq: int = 0, limit: int | None = None, local_only: bool = False) -> list[dict[str, Any]]:
    clauses: list[str] = ["seq > ?"]
    params: list[Any] = [since_seq]
    if table:
        clauses.append("tbl = ?")
        params.append(table)
    if row_id:
        clauses.append("row_id = ?")
        params.append(row_id)
    if local_only:
        clauses.append("node = (SELECT node FROM replica)")
    sql = f"SELECT * FROM change_log WHERE {' AND '.join(clauses)} ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [dict(r) for r in conn.execute(sql, params)]


def replica_info(conn: sqlite3.Connection) -> dict[str, Any]:
    return dict(conn.execute("SELECT node, rep, wall, counter, seq FROM replica").fetchone())


def missing_derived(conn: sqlite3.Connection, ent: Entity, column: str) -> list[dict[str, Any]]:
    """Records written around the API (a user's script) whose derived `column` is
    unset (NULL); an index per derived column keeps this cheap when there are none."""
    return [dict(r) for r in conn.execute(
        f"SELECT {', '.join(_columns(ent))} FROM {ent.table} WHERE {column} IS NULL")]


def derived_versions(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """(table, column) -> the version of the rule a derived column's stored values were
    made by (Derived.version); a column not listed was made by version 1."""
    return {(tbl, col): version for tbl, col, version in conn.execute("SELECT tbl, col, version FROM derived_versions")}


def set_derived_versions(conn: sqlite3.Connection, versions: Iterable[tuple[str, str, int]]) -> None:
    """Record (table, column, version): the column's stored values are that rule's."""
    conn.executemany("INSERT INTO derived_versions (tbl, col, version) VALUES (?, ?, ?) "
                     "ON CONFLICT (tbl, col) DO UPDATE SET version = excluded.version", versions)


def derived_inputs(conn: sqlite3.Connection, ent: Entity, column: str,
                   sources: Sequence[str]) -> list[tuple[str, dict[str, Any], Any]]:
    """Every record's id, the fields its derived `column` is computed from, and the
    value stored."""
    return [(r[0], dict(zip(sources, r[1:-1], strict=True)), r[-1])
            for r in conn.execute(f"SELECT id, {', '.join(sources)}, {column} FROM {ent.table}")]


def set_derived(conn: sqlite3.Connection, ent: Entity, column: str, rows: Iterable[tuple[Any, str]]) -> None:
    """Set a derived column: (value, id) pairs; the capture triggers ignore it."""
    conn.executemany(f"UPDATE {ent.table} SET {column} = ? WHERE id = ?", rows)


# A customer's computed classes (crm_tui.api.classes.ensure_classes) are current
# while class_state holds today's date, the change log's last seq and the settings.
def class_state(conn: sqlite3.Connection) -> tuple[str | None, int | None, str | None]:
    """(as_of day, change-log seq, settings digest) the stored classes were computed for."""
    as_of, log_seq, settings = conn.execute("SELECT as_of, log_seq, settings FROM class_state").fetchone()
    return as_of, log_seq, settings


def written_nothing(conn: sqlite3.Connection) -> bool:
    """Whether a database holds only what making it wrote: no change logged, no sync
    tried (a failed first sync keeps its error for `crm sync --status`)."""
    return bool(conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM change_log) AND NOT EXISTS (SELECT 1 FROM sync_state"
        " WHERE server_id IS NOT NULL OR last_error IS NOT NULL OR last_sync_at IS NOT NULL)").fetchone()[0])


def log_position(conn: sqlite3.Connection) -> int:
    """The change log's last seq: it moves on every captured or pulled write."""
    return conn.execute("SELECT coalesce(max(seq), 0) FROM change_log").fetchone()[0]


def set_class_state(conn: sqlite3.Connection, as_of: str, log_seq: int, settings: str) -> None:
    conn.execute("UPDATE class_state SET as_of = ?, log_seq = ?, settings = ?", (as_of, log_seq, settings))


def forget_class_state(conn: sqlite3.Connection) -> None:
    """After a write the change log does not show (a record put back, customers that
    left the view): the next read classifies the whole book."""
    conn.execute("UPDATE class_state SET as_of = NULL")
