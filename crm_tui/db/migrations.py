"""Numbered schema migrations, tracked in `PRAGMA user_version`.

Each migration is frozen once released: a new column is a new migration, never an
edit of an old one. Every migration that changes a synced table ends by
regenerating the change-capture triggers, which are built from the live columns."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from crm_tui.db.capture import install_capture

# The tables of schema 1; later migrations add their own synced tables below.
V1_TABLES = ("customers", "visits", "complaints", "orders")
SYNCED_TABLES: tuple[str, ...] = (*V1_TABLES, "surveys", "classification_overrides")
SYNCED_TABLES += ("erasures", "erase_requests")  # privacy (migration 6)
SYNCED_TABLES += ("opportunities", "opportunity_stages", "targets")  # sales pipeline
SYNCED_TABLES += ("contacts", "products", "order_lines")  # issue 13
SYNCED_TABLES += ("quotes", "quote_lines")  # quotations (migration 14)
SYNCED_TABLES += ("merges",)  # merges of duplicate customers (issue 13)

_V1 = """
CREATE TABLE replica (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    node TEXT NOT NULL,            -- this replica's node id, made once per database
    rep TEXT NOT NULL DEFAULT '',  -- the rep who works on this replica
    wall INTEGER NOT NULL DEFAULT 0,    -- hybrid logical clock: milliseconds part
    counter INTEGER NOT NULL DEFAULT 0, -- hybrid logical clock: counter part
    seq INTEGER NOT NULL DEFAULT 0,     -- last local change sequence
    capture INTEGER NOT NULL DEFAULT 1  -- 0 only while a pulled change is applied
);

CREATE TABLE change_log (
    seq INTEGER PRIMARY KEY,        -- local order of arrival
    node TEXT NOT NULL,             -- replica that made the change
    node_seq INTEGER NOT NULL,      -- that replica's sequence: (node, node_seq) is global
    hlc INTEGER NOT NULL,           -- wall_ms * 65536 + counter
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    data TEXT NOT NULL,             -- JSON object: new values of the changed fields
    old TEXT,                       -- JSON object: the values they replaced (history)
    base TEXT,                      -- JSON object: field -> [hlc, node] of the replaced version
    rep TEXT NOT NULL DEFAULT '',
    UNIQUE (node, node_seq)
);
CREATE INDEX change_log_row ON change_log (tbl, row_id, hlc);

CREATE TABLE customers (
    -- A stable rowid for the search index (VACUUM may renumber implicit rowids).
    local_id INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    name TEXT NOT NULL,
    company TEXT,
    title TEXT,
    phone TEXT,
    mobile TEXT,
    email TEXT,
    wechat TEXT,
    address TEXT,
    region TEXT,
    industry TEXT,
    company_size TEXT,
    purchasing_power TEXT,
    source TEXT,
    tags TEXT,
    territory TEXT,
    birthday TEXT,
    status TEXT,
    lifecycle_stage TEXT,
    tier TEXT,
    notes TEXT,
    pinyin TEXT                     -- derived search key, local only
);
CREATE INDEX customers_phone ON customers (phone);
CREATE INDEX customers_mobile ON customers (mobile);
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_sort ON customers (coalesce(nullif(pinyin, ''), lower(name)));
-- Rows a user's script wrote, whose pinyin the API has yet to fill in.
CREATE INDEX customers_no_pinyin ON customers (local_id) WHERE pinyin IS NULL;

CREATE TABLE visits (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    visited_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    purpose TEXT NOT NULL,
    notes TEXT,
    outcome TEXT,
    next_action TEXT,
    next_action_date TEXT,
    follow_up_done INTEGER
);
CREATE INDEX visits_customer ON visits (customer_id, visited_at);
CREATE INDEX visits_next_action ON visits (next_action_date) WHERE next_action_date IS NOT NULL;

CREATE TABLE complaints (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    received_at TEXT NOT NULL,
    channel TEXT,
    type TEXT NOT NULL,
    cause TEXT,
    product TEXT,
    description TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    handler TEXT,
    due_at TEXT,
    acknowledged_at TEXT,
    first_response_at TEXT,
    resolution TEXT,
    root_cause TEXT,
    resolved_at TEXT,
    closed_at TEXT
);
CREATE INDEX complaints_customer ON complaints (customer_id, received_at);
CREATE INDEX complaints_status ON complaints (status, priority);

CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    ordered_at TEXT NOT NULL,
    product TEXT NOT NULL,
    quantity INTEGER,
    amount REAL NOT NULL,
    notes TEXT
);
CREATE INDEX orders_customer ON orders (customer_id, ordered_at);
CREATE INDEX orders_date ON orders (ordered_at);

-- Search over every substring of name, company, phones, email and pinyin: a
-- trigram index answers queries of 3+ characters; shorter ones scan the plain text
-- table, which is several times faster to scan than the FTS table itself.
CREATE TABLE customer_search_text (local_id INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE VIRTUAL TABLE customer_search USING fts5 (
    text, content = 'customer_search_text', content_rowid = 'local_id', tokenize = 'trigram'
);
"""

# Search text is built in SQL so that writes from any path (a user's script too)
# index in the same transaction; only the pinyin part needs the API.
_SEARCH_TEXT = (
    "lower(coalesce(NEW.name, '') || ' ' || coalesce(NEW.company, '') || ' ' || "
    "coalesce(NEW.phone, '') || ' ' || coalesce(NEW.mobile, '') || ' ' || "
    "coalesce(NEW.email, '') || ' ' || coalesce(NEW.pinyin, ''))"
)

_V1_SEARCH_TRIGGERS = f"""
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search_text (local_id, text) VALUES (NEW.local_id, {_SEARCH_TEXT});
    INSERT INTO customer_search (rowid, text) VALUES (NEW.local_id, {_SEARCH_TEXT});
END;
CREATE TRIGGER customers_search_update
AFTER UPDATE OF name, company, phone, mobile, email, pinyin ON customers BEGIN
    INSERT INTO customer_search (customer_search, rowid, text)
        SELECT 'delete', local_id, text FROM customer_search_text WHERE local_id = OLD.local_id;
    UPDATE customer_search_text SET text = {_SEARCH_TEXT} WHERE local_id = NEW.local_id;
    INSERT INTO customer_search (rowid, text) VALUES (NEW.local_id, {_SEARCH_TEXT});
END;
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customer_search (customer_search, rowid, text)
        SELECT 'delete', local_id, text FROM customer_search_text WHERE local_id = OLD.local_id;
    DELETE FROM customer_search_text WHERE local_id = OLD.local_id;
END;
"""


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one inside the caller's transaction (executescript
    would commit it first)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            conn.execute(buf)
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buf[:80]!r}")


def _v1(conn: sqlite3.Connection) -> None:
    run_script(conn, _V1 + _V1_SEARCH_TRIGGERS)
    for table in V1_TABLES:
        install_capture(conn, table)


_V2 = """
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    server_id TEXT,                         -- the server the cursor below belongs to
    cursor INTEGER NOT NULL DEFAULT 0,      -- server sequence pulled and applied up to
    pushed_seq INTEGER NOT NULL DEFAULT 0,  -- our node_seq the server acknowledged
    last_sync_at TEXT,                      -- UTC time of the last complete sync
    last_error TEXT,                        -- why the last sync failed, if it did
    clock_warning TEXT                      -- a far-future stamp seen in a pull
);
INSERT INTO sync_state (id) VALUES (1);

-- Same-field concurrent writes: the loser is kept here for the rep to review.
-- Local to each replica: not synced, not captured. Values are JSON.
CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    field TEXT NOT NULL,
    winner_value TEXT,
    winner_hlc INTEGER NOT NULL,
    winner_node TEXT NOT NULL,
    winner_rep TEXT NOT NULL DEFAULT '',
    loser_value TEXT,
    loser_hlc INTEGER NOT NULL,
    loser_node TEXT NOT NULL,
    loser_rep TEXT NOT NULL DEFAULT '',
    detected_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    resolved_at TEXT,
    resolution TEXT,                -- mine / theirs / value / superseded
    UNIQUE (tbl, row_id, field, loser_node, loser_hlc)
);
CREATE INDEX conflicts_open ON conflicts (resolved_at, tbl, row_id);
"""


def _v2(conn: sqlite3.Connection) -> None:
    """Sync state: the server cursor, the acknowledged push, the conflicts table."""
    run_script(conn, _V2)


_V3 = """
-- Satisfaction surveys: C = perceived / expected (docs/analytics.md). complaint_id
-- has no foreign key: a synced survey may arrive before the complaint it follows.
CREATE TABLE surveys (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    surveyed_at TEXT NOT NULL,
    expected REAL NOT NULL,
    perceived REAL NOT NULL,
    complaint_id TEXT,
    notes TEXT
);
CREATE INDEX surveys_customer ON surveys (customer_id, surveyed_at);
CREATE INDEX surveys_date ON surveys (surveyed_at);

-- A rep's manual classification with its reason; id = the customer's id, so one
-- override per customer that merges field by field. The computed classification
-- is written to customers.status / lifecycle_stage / tier with the override on top.
CREATE TABLE classification_overrides (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status TEXT,
    lifecycle_stage TEXT,
    tier TEXT,
    reason TEXT NOT NULL
);

-- Per-customer aggregates of RFM and classification read only this index.
CREATE INDEX orders_customer_amount ON orders (customer_id, ordered_at, amount);
"""


def _v3(conn: sqlite3.Connection) -> None:
    """Analytics: satisfaction surveys and classification overrides (both synced)."""
    run_script(conn, _V3)
    for table in ("surveys", "classification_overrides"):
        install_capture(conn, table)


def _customer_since(conn: sqlite3.Connection) -> None:
    """customers.customer_since: when the customer became one, from imported history
    (docs/analytics.md, "Periods"); synced like any field."""
    conn.execute("ALTER TABLE customers ADD COLUMN customer_since TEXT")
    install_capture(conn, "customers")


_V4_SYNC_REFUSALS = """
-- Pulled changes this replica could not apply (a table or column this schema does
-- not know, a value that fails validation, a record whose customer is unknown here):
-- kept with the reason, out of the change log so they take no part in any merge.
-- Local to each replica. (node, node_seq) identify the change; NULL when the server
-- sent none. Changes set aside under an older schema are tried again after an upgrade.
CREATE TABLE set_aside (
    id INTEGER PRIMARY KEY,
    node TEXT,
    node_seq INTEGER,
    server_seq INTEGER,
    tbl TEXT NOT NULL DEFAULT '',
    row_id TEXT NOT NULL DEFAULT '',
    op TEXT NOT NULL DEFAULT '',
    change TEXT NOT NULL,           -- the change as received, JSON (ASCII-escaped)
    code TEXT NOT NULL,             -- malformed / unknown_table / unknown_column / invalid / constraint
    reason TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    set_aside_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (node, node_seq)
);

-- This replica's own changes the server refused (403 "refused"), each with the
-- server's reason, until the rep retries the record (a corrected change re-issued)
-- or discards the change. The change itself stays in change_log until discarded.
CREATE TABLE rejected (
    id INTEGER PRIMARY KEY,
    node_seq INTEGER NOT NULL UNIQUE,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    op TEXT NOT NULL,
    data TEXT,                      -- JSON: what the change wrote
    code TEXT NOT NULL,             -- invalid / forbidden
    reason TEXT NOT NULL,
    rejected_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    resolved_at TEXT,
    resolution TEXT,                -- retried / discarded / superseded
    retry_seq INTEGER               -- node_seq of the change that re-issued the record
);
CREATE INDEX rejected_open ON rejected (resolved_at, tbl, row_id);
"""


def _sync_refusals(conn: sqlite3.Connection) -> None:
    """Sync that no single change can stop: set-aside pulled changes, refused pushes."""
    run_script(conn, _V4_SYNC_REFUSALS)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _customer_since, _sync_refusals]

_PRIVACY = """
-- An erase (docs/privacy.md): id = the erased customer's id; synced so that every
-- replica scrubs that customer. No foreign key: a replica may never have held them.
CREATE TABLE erasures (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    erased_at TEXT NOT NULL,
    erased_by TEXT NOT NULL,
    reason TEXT,
    request_id TEXT
);

-- A rep's request that a manager erase a customer, and the manager's decision.
CREATE TABLE erase_requests (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    reason TEXT,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    decision_reason TEXT
);
CREATE INDEX erase_requests_status ON erase_requests (status, created_at);

-- The role the sync server gave this laptop's rep at the last sync: a rep's erase
-- on a team server becomes a request to the managers.
ALTER TABLE sync_state ADD COLUMN role TEXT;
"""


def _privacy(conn: sqlite3.Connection) -> None:
    """Privacy: erasures and erase requests (both synced), the rep's server role."""
    run_script(conn, _PRIVACY)
    for table in ("erasures", "erase_requests"):
        install_capture(conn, table)


MIGRATIONS.append(_privacy)  # 6


# -- sales pipeline (docs/pipeline.md) --------------------------------------------------

_PIPELINE = """
-- Sales opportunities (docs/pipeline.md). order_id has no foreign key: a synced
-- opportunity may arrive before the order it was won into.
CREATE TABLE opportunities (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    amount REAL NOT NULL,
    stage TEXT NOT NULL,
    probability INTEGER,
    close_date TEXT,
    source TEXT,
    next_step TEXT,
    next_step_date TEXT,
    notes TEXT,
    closed_on TEXT,
    lost_reason TEXT,
    order_id TEXT
);
CREATE INDEX opportunities_customer ON opportunities (customer_id);
-- The pipeline and the forecast group open deals by stage and close date per rep.
CREATE INDEX opportunities_stage ON opportunities (stage, owner, close_date, amount, probability);
CREATE INDEX opportunities_closed ON opportunities (closed_on) WHERE closed_on IS NOT NULL;

-- Stage moves; opportunity_id has no foreign key (a move may sync before its deal).
CREATE TABLE opportunity_stages (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    opportunity_id TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    moved_at TEXT NOT NULL,
    rep TEXT
);
CREATE INDEX opportunity_stages_opportunity ON opportunity_stages (opportunity_id, moved_at);

CREATE TABLE targets (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    rep TEXT,
    period TEXT NOT NULL,
    amount REAL NOT NULL
);
"""


def _pipeline(conn: sqlite3.Connection) -> None:
    """Sales pipeline: opportunities, their stage moves and the reps' targets (synced)."""
    run_script(conn, _PIPELINE)
    for table in ("opportunities", "opportunity_stages", "targets"):
        install_capture(conn, table)


# Indexes for the pipeline at 300k opportunities (docs/benchmarks.md): the board reads
# each stage's nearest closes, the funnel the deals created in a period, attainment
# the orders of a period per rep without visiting the table.
_PIPELINE_INDEXES = """
CREATE INDEX opportunities_board ON opportunities (stage, close_date);
CREATE INDEX opportunities_created ON opportunities (created_at);
CREATE INDEX orders_date_owner_amount ON orders (ordered_at, owner, amount);
"""


def _pipeline_indexes(conn: sqlite3.Connection) -> None:
    """Indexes for the pipeline's board, funnel and attainment (no table changes)."""
    run_script(conn, _PIPELINE_INDEXES)


MIGRATIONS.append(_pipeline)
MIGRATIONS.append(_pipeline_indexes)


def _classes_local(conn: sqlite3.Connection) -> None:
    """A customer's status, lifecycle stage and tier become computed classes, local
    to each laptop like the pinyin key (docs/analytics.md, "Where classes live"): the
    capture triggers stop logging them, and `class_state` records for which day and
    which change-log position they were last computed."""
    run_script(conn, """
        CREATE TABLE class_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            as_of TEXT,          -- the local day the stored classes were computed for
            log_seq INTEGER      -- the change log's last seq when they were
        );
        INSERT INTO class_state (id) VALUES (1);
    """)
    install_capture(conn, "customers")


MIGRATIONS.append(_classes_local)


# -- migration 10: contacts -----------------------------------------------------------

# A contact's part of its customer's search text: reps look a customer up by the
# name, pinyin or phone of the person they deal with.
_CONTACT_TEXT = ("lower(coalesce(k.name, '') || ' ' || coalesce(k.phone, '') || ' ' || "
                 "coalesce(k.mobile, '') || ' ' || coalesce(k.email, '') || ' ' || coalesce(k.pinyin, ''))")


def _contact_search(customer_id: str, contact_text: str) -> str:
    """SQL for the derived `customers.contact_search` of the customer `customer_id`
    (an SQL expression): its contacts' search text, NULL without contacts."""
    return f"(SELECT group_concat({contact_text}, ' ') FROM contacts AS k WHERE k.customer_id = {customer_id})"


# The customer's search text gains its contacts' text; `coalesce(' ' || x, '')` keeps
# the text of a customer without contacts as it was, so the index need not be rebuilt.
_SEARCH_TEXT_CONTACTS = _SEARCH_TEXT[:-1] + " || coalesce(' ' || NEW.contact_search, ''))"

_CONTACTS_SCHEMA = f"""
CREATE TABLE contacts (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    title TEXT,
    department TEXT,
    phone TEXT,
    mobile TEXT,
    email TEXT,
    wechat TEXT,
    role TEXT,
    attitude TEXT,
    notes TEXT,
    pinyin TEXT                     -- derived search key, local only
);
CREATE INDEX contacts_customer ON contacts (customer_id);
CREATE INDEX contacts_phone ON contacts (phone);
CREATE INDEX contacts_mobile ON contacts (mobile);
CREATE INDEX contacts_email ON contacts (email);
CREATE INDEX contacts_no_pinyin ON contacts (id) WHERE pinyin IS NULL;

ALTER TABLE visits ADD COLUMN contact_ids TEXT;
ALTER TABLE customers ADD COLUMN contact_search TEXT;  -- derived, local only

DROP TRIGGER customers_search_insert;
DROP TRIGGER customers_search_update;
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search_text (local_id, text) VALUES (NEW.local_id, {_SEARCH_TEXT_CONTACTS});
    INSERT INTO customer_search (rowid, text) VALUES (NEW.local_id, {_SEARCH_TEXT_CONTACTS});
END;
CREATE TRIGGER customers_search_update
AFTER UPDATE OF name, company, phone, mobile, email, pinyin, contact_search ON customers BEGIN
    INSERT INTO customer_search (customer_search, rowid, text)
        SELECT 'delete', local_id, text FROM customer_search_text WHERE local_id = OLD.local_id;
    UPDATE customer_search_text SET text = {_SEARCH_TEXT_CONTACTS} WHERE local_id = NEW.local_id;
    INSERT INTO customer_search (rowid, text) VALUES (NEW.local_id, {_SEARCH_TEXT_CONTACTS});
END;

CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
    UPDATE customers SET contact_search = {_contact_search("customers.id", _CONTACT_TEXT)} WHERE id = NEW.customer_id;
END;
CREATE TRIGGER contacts_search_update
AFTER UPDATE OF customer_id, name, phone, mobile, email, pinyin ON contacts BEGIN
    UPDATE customers SET contact_search = {_contact_search("customers.id", _CONTACT_TEXT)}
        WHERE id IN (OLD.customer_id, NEW.customer_id);
END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
    UPDATE customers SET contact_search = {_contact_search("customers.id", _CONTACT_TEXT)} WHERE id = OLD.customer_id;
END;
"""


def _contacts(conn: sqlite3.Connection) -> None:
    """Contacts (synced, in their customer's scope), the contacts a visit met, and the
    contacts' names and phones in their customer's search text."""
    run_script(conn, _CONTACTS_SCHEMA)
    for table in ("contacts", "visits"):
        install_capture(conn, table)


# -- migration 11: the product catalogue --------------------------------------------

_PRODUCTS_SCHEMA = """
CREATE TABLE products (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT,
    unit TEXT,
    list_price REAL,
    active INTEGER,
    notes TEXT
);
-- Not UNIQUE: two laptops may each have taken a SKU before they sync, and a pulled
-- change must always apply. The API refuses a SKU that is taken on this laptop.
CREATE INDEX products_sku ON products (sku);
CREATE INDEX products_category ON products (category);
"""


def _products(conn: sqlite3.Connection) -> None:
    """The product catalogue (synced whole to every laptop)."""
    run_script(conn, _PRODUCTS_SCHEMA)
    install_capture(conn, "products")


# -- migration 12: orders with lines, a status and refunds ------------------------------

_ORDER_LINES_SCHEMA = """
ALTER TABLE orders ADD COLUMN status TEXT;
ALTER TABLE orders ADD COLUMN refund_of TEXT;  -- a refund order: the order it refunds

CREATE TABLE order_lines (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    product_id TEXT,                -- no foreign key: a product may be retired meanwhile
    product TEXT NOT NULL,
    quantity REAL NOT NULL,
    unit_price REAL NOT NULL,
    discount REAL,
    amount REAL NOT NULL
);
CREATE INDEX order_lines_order ON order_lines (order_id);
CREATE INDEX order_lines_product ON order_lines (product_id);

-- Every order already there becomes one line of the same id, written here on each
-- replica alike (before the capture triggers exist, so not logged): the same line on
-- every laptop, nothing to sync, the amount kept to the cent. Its unit price is the
-- amount per unit.
INSERT INTO order_lines (id, owner, created_at, updated_at, order_id, customer_id, product, quantity,
                         unit_price, amount)
SELECT id, owner, created_at, updated_at, id, customer_id, product, coalesce(nullif(quantity, 0), 1),
       round(amount / coalesce(nullif(quantity, 0), 1), 2), amount
FROM orders;

-- Sales: the net amounts of orders that are not cancelled, a refund counting against
-- them. Every sales figure (RFM, value, CLV, loyalty, KPIs, reports) reads this view.
CREATE VIEW sales AS
SELECT id, owner, customer_id, ordered_at, refund_of IS NULL AS is_sale,
       CASE WHEN refund_of IS NULL THEN amount ELSE -amount END AS amount
FROM orders WHERE status IS NOT 'cancelled';
-- The few customers with a refund or a cancelled order: per-customer figures read
-- the view for them only (crm_tui/db/analytics.py).
CREATE INDEX orders_exceptional ON orders (customer_id) WHERE refund_of IS NOT NULL OR status = 'cancelled';
CREATE INDEX orders_refund_of ON orders (refund_of) WHERE refund_of IS NOT NULL;
"""


def _order_lines(conn: sqlite3.Connection) -> None:
    """Orders with lines (one line each for the orders there were), a status and
    refunds; the `sales` view of net amounts."""
    run_script(conn, _ORDER_LINES_SCHEMA)
    for table in ("orders", "order_lines"):
        install_capture(conn, table)


MIGRATIONS += [_contacts, _products, _order_lines]  # 10, 11, 12 (issue 13)


def _sync_epoch(conn: sqlite3.Connection) -> None:
    """The server's timeline the cursor belongs to (sync protocol 3): a restored
    server starts a new one, and the laptop then sends its changes again."""
    conn.execute("ALTER TABLE sync_state ADD COLUMN epoch TEXT")


MIGRATIONS.append(_sync_epoch)  # issue 10


# -- migration 14: quotations, and the products an opportunity is about ----------------

_QUOTES_SCHEMA = """
ALTER TABLE opportunities ADD COLUMN product_ids TEXT;  -- ids of catalogue products, comma separated

CREATE TABLE quotes (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    opportunity_id TEXT,            -- no foreign key: a quote may sync before its deal
    title TEXT,
    quoted_on TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    status TEXT NOT NULL,
    amount REAL NOT NULL,
    terms TEXT,
    notes TEXT,
    order_id TEXT                   -- the order accepting it made
);
CREATE INDEX quotes_customer ON quotes (customer_id, quoted_on);
CREATE INDEX quotes_opportunity ON quotes (opportunity_id) WHERE opportunity_id IS NOT NULL;

CREATE TABLE quote_lines (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    quote_id TEXT NOT NULL REFERENCES quotes (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position INTEGER,
    product_id TEXT,                -- no foreign key: a product may be retired meanwhile
    product TEXT NOT NULL,
    quantity REAL NOT NULL,
    unit_price REAL NOT NULL,
    discount REAL,
    amount REAL NOT NULL
);
CREATE INDEX quote_lines_quote ON quote_lines (quote_id, position);

-- The forecast's won deals and attainment's won deals without an order, read off
-- the index alone (docs/benchmarks.md): it now covers stage, owner, amount, order.
DROP INDEX opportunities_closed;
CREATE INDEX opportunities_closed ON opportunities (closed_on, stage, owner, amount, order_id)
    WHERE closed_on IS NOT NULL;
"""


def _quotes(conn: sqlite3.Connection) -> None:
    """Quotations with lines (synced in their customer's scope), and the products an
    opportunity is about."""
    run_script(conn, _QUOTES_SCHEMA)
    for table in ("opportunities", "quotes", "quote_lines"):
        install_capture(conn, table)


MIGRATIONS.append(_quotes)  # 14 (issue 12's products, issue 13's quotations)
def _former_nodes(conn: sqlite3.Connection) -> None:
    """The node ids this database had before a restore from a backup (crm_tui.db.backup),
    with how far the server acknowledged each: the changes the backup holds beyond that
    are pushed under their own node id. Local to the laptop, not synced."""
    conn.execute("CREATE TABLE former_nodes (node TEXT PRIMARY KEY, pushed_seq INTEGER NOT NULL)")


MIGRATIONS.append(_former_nodes)  # issue 10


def _classes_incremental(conn: sqlite3.Connection) -> None:
    """What keeping classes current after a few writes needs without classifying the
    whole book again (crm_tui.api.classes): each customer's value as last computed
    (the tiers rank everyone's), and the settings the classes were computed with.
    Local, like the classes: not synced, not captured. Empty, the next read classifies
    the whole book and fills them."""
    run_script(conn, """
        CREATE TABLE class_values (
            customer_id TEXT PRIMARY KEY,
            value REAL NOT NULL   -- historical value (net sales up to the as_of day)
        ) WITHOUT ROWID;
        ALTER TABLE class_state ADD COLUMN settings TEXT;  -- a digest of the analytics settings
    """)


MIGRATIONS.append(_classes_incremental)  # issue 9


# -- the merges of duplicate customers (issue 13, crm_tui.api.merging) -------------------

_MERGES_SCHEMA = """
-- other_id has no foreign key: the merged customer is deleted by the merge itself.
CREATE TABLE merges (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    other_id TEXT NOT NULL,
    merged_at TEXT NOT NULL,
    status TEXT NOT NULL,
    moved TEXT,
    taken TEXT,
    other_record TEXT,
    undone_at TEXT
);
CREATE INDEX merges_customer ON merges (customer_id);
CREATE INDEX merges_other ON merges (other_id);
"""


def _merges(conn: sqlite3.Connection) -> None:
    """Merges of duplicate customers (synced in the kept customer's scope)."""
    run_script(conn, _MERGES_SCHEMA)
    install_capture(conn, "merges")


MIGRATIONS.append(_merges)  # issue 13


def _sales_covering_index(conn: sqlite3.Connection) -> None:
    """The orders' covering index also holds status and refund_of, so that the sales
    of the customers with a refund or a cancelled order (the `sales` view) are read
    off the index too, as those of every other customer (crm_tui/db/analytics.py;
    docs/benchmarks.md, RFM with order lines)."""
    run_script(conn, """
DROP INDEX IF EXISTS orders_customer_amount;
CREATE INDEX orders_customer_amount ON orders (customer_id, ordered_at, amount, status, refund_of);
""")


MIGRATIONS.append(_sales_covering_index)  # issue 13


def _made_up(conn: sqlite3.Connection) -> None:
    """replica.made_up: this database holds made-up records (`crm seed`), so `crm sync`
    refuses it, as it refuses the demo: its fake customers, products and targets
    would reach every rep of the team (docs/cli.md, "Demo data")."""
    conn.execute("ALTER TABLE replica ADD COLUMN made_up INTEGER NOT NULL DEFAULT 0")


MIGRATIONS.append(_made_up)  # x-cli


def _derived_versions(conn: sqlite3.Connection) -> None:
    """The version of the rule each derived column's stored values were made by
    (crm_tui.domain.entities.Derived.version): when a rule moves on, the API makes
    the column anew once, writing only the values that differ. A column not listed
    was made by version 1 (a database older than this table); a new database lists
    every column at its current version (crm_tui.db.connection.migrate). Local only."""
    run_script(conn, """
CREATE TABLE derived_versions (
    tbl TEXT NOT NULL,
    col TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (tbl, col)
) WITHOUT ROWID;
""")


MIGRATIONS.append(_derived_versions)  # issue 9


def _orders_prefix_indexes(conn: sqlite3.Connection) -> None:
    """Drop the two orders indexes that lead two others: `orders_customer`
    (customer_id, ordered_at) begins `orders_customer_amount`, `orders_date`
    (ordered_at) begins `orders_date_owner_amount`. The longer ones answer every
    query the shorter ones did, with the same search and order (and cover more), while
    every order written paid for all four B-trees; tests/test_query_plans.py holds the
    plans and that no index of the book leads another."""
    run_script(conn, """
DROP INDEX IF EXISTS orders_customer;
DROP INDEX IF EXISTS orders_date;
""")


MIGRATIONS.append(_orders_prefix_indexes)  # issue 9


def _search_without_sizes(conn: sqlite3.Connection) -> None:
    """The trigram index stops keeping each row's token count (FTS5's `columnsize=0`):
    only ranking reads it (bm25, rank), and customer search filters, never ranks
    (crm_tui/db/records.customer_matches). Writing the counts was ~15% of building the
    index of an import (docs/benchmarks.md). The index is made again from the search
    text it indexes, so it finds what it found."""
    run_script(conn, """
DROP TABLE customer_search;
CREATE VIRTUAL TABLE customer_search USING fts5 (
    text, content = 'customer_search_text', content_rowid = 'local_id', tokenize = 'trigram',
    columnsize = 0
);
""")
    if conn.execute("SELECT 1 FROM customer_search_text LIMIT 1").fetchone():  # a new book: nothing to index
        conn.execute("INSERT INTO customer_search (customer_search) VALUES ('rebuild')")


MIGRATIONS.append(_search_without_sizes)  # issue 9


# -- migration 23: search folds every letter's case, as the trigram index does -------

# The searched fields of a customer and of a contact, lowered by SQL's lower() (A-Z
# only), unless the derived `folded` holds them folded (crm_tui.domain.search.fold):
# it does exactly where lower() falls short ('' elsewhere, NULL until the API has made
# it for a row a script wrote). Either way the text is the same as before for a
# record without such letters, so only those records are indexed anew.
_OWN_TEXT_FOLDED = (
    "coalesce(nullif(NEW.folded, ''), lower(coalesce(NEW.name, '') || ' ' || coalesce(NEW.company, '') || ' ' || "
    "coalesce(NEW.phone, '') || ' ' || coalesce(NEW.mobile, '') || ' ' || coalesce(NEW.email, ''))) || ' ' || "
    "lower(coalesce(NEW.pinyin, ''))"
)
_SEARCH_TEXT_FOLDED = f"{_OWN_TEXT_FOLDED} || coalesce(' ' || NEW.contact_search, '')"
_CONTACT_TEXT_FOLDED = (
    "coalesce(nullif(k.folded, ''), lower(coalesce(k.name, '') || ' ' || coalesce(k.phone, '') || ' ' || "
    "coalesce(k.mobile, '') || ' ' || coalesce(k.email, ''))) || ' ' || lower(coalesce(k.pinyin, ''))"
)


def search_text(row: str) -> str:
    """SQL for a customer's search text (as of the latest schema), `row` being NEW, OLD
    or a table alias."""
    return _SEARCH_TEXT_FOLDED.replace("NEW.", f"{row}.")


def contact_search(customer_id: str) -> str:
    """SQL for the derived `customers.contact_search` of the customer `customer_id` (as
    of the latest schema): its contacts' search text, NULL without contacts."""
    return _contact_search(customer_id, _CONTACT_TEXT_FOLDED)


def _search_folded(conn: sqlite3.Connection) -> None:
    """Search folds every letter's case, not A-Z only: a query of one or two
    characters, and the walk that pages a broad one, compared the search text, lowered
    by SQL's lower(), with LIKE (which folds A-Z only), where three or more characters
    went through the trigram index (which folds every letter): "ém" missed "Émile" that
    "émi" found, and a page could list other customers than its count counted. The
    text now holds the searched fields as crm_tui.domain.search.fold makes them (kept
    in the derived `folded`, local only), so both ways compare folded text with a
    folded query. The search trigger of customers fires only when the text changes,
    so making `folded` for every record of an existing book (the API does it on
    opening it) indexes anew only those it changes."""
    run_script(conn, f"""
ALTER TABLE customers ADD COLUMN folded TEXT;  -- derived, local only
ALTER TABLE contacts ADD COLUMN folded TEXT;  -- derived, local only
CREATE INDEX customers_no_folded ON customers (local_id) WHERE folded IS NULL;
CREATE INDEX contacts_no_folded ON contacts (id) WHERE folded IS NULL;

DROP TRIGGER customers_search_insert;
DROP TRIGGER customers_search_update;
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search_text (local_id, text) VALUES (NEW.local_id, {search_text("NEW")});
    INSERT INTO customer_search (rowid, text) VALUES (NEW.local_id, {search_text("NEW")});
END;
CREATE TRIGGER customers_search_update
AFTER UPDATE OF name, company, phone, mobile, email, pinyin, contact_search, folded ON customers
WHEN {search_text("NEW")} IS NOT {search_text("OLD")} BEGIN
    INSERT INTO customer_search (customer_search, rowid, text)
        SELECT 'delete', local_id, text FROM customer_search_text WHERE local_id = OLD.local_id;
    UPDATE customer_search_text SET text = {search_text("NEW")} WHERE local_id = NEW.local_id;
    INSERT INTO customer_search (rowid, text) VALUES (NEW.local_id, {search_text("NEW")});
END;

DROP TRIGGER contacts_search_insert;
DROP TRIGGER contacts_search_update;
DROP TRIGGER contacts_search_delete;
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
    UPDATE customers SET contact_search = {contact_search("customers.id")} WHERE id = NEW.customer_id;
END;
CREATE TRIGGER contacts_search_update
AFTER UPDATE OF customer_id, name, phone, mobile, email, pinyin, folded ON contacts BEGIN
    UPDATE customers SET contact_search = {contact_search("customers.id")}
        WHERE id IN (OLD.customer_id, NEW.customer_id);
END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
    UPDATE customers SET contact_search = {contact_search("customers.id")} WHERE id = OLD.customer_id;
END;
""")


MIGRATIONS.append(_search_folded)  # x-search
SCHEMA_VERSION = len(MIGRATIONS)
