"""The one API of crm_tui: the terminal UI, the CLI and users' own scripts all reach
the data through `Crm`.

    from crm_tui.api import Crm
    crm = Crm("crm.db")
    c = crm.customers.create({"name": "张伟", "phone": "138 1234 5678"})
    crm.customers.search("zw")
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_tui.api.agenda import Agenda
from crm_tui.api.complaints import ComplaintWorkflow
from crm_tui.api.merging import Merges
from crm_tui.api.opportunities import OpportunityRecords, Pipeline
from crm_tui.api.orders import OrderBook
from crm_tui.api.privacy import Privacy
from crm_tui.api.quotes import QuoteBook
from crm_tui.api.records import NotFound, Record, Records, local_now, parse_filter
from crm_tui.config import Config, ConfigError, data_dir, default_rep, is_demo_db, resolve_db_path
from crm_tui.db import records as sql
from crm_tui.db.connection import (
    DatabaseBusy,
    DatabaseError,
    DatabaseMissing,
    DatabaseTooNew,
    KeyRequired,
    WrongKey,
    is_encrypted,
    open_database,
    transaction,
)
from crm_tui.db.encryption import find_key
from crm_tui.db.records import Filter
from crm_tui.domain.entities import COMPLAINT, CONTACT, CUSTOMER, ENTITIES, ORDER, ORDER_LINE, PRODUCT, VISIT
from crm_tui.domain.validation import FieldError, ValidationError
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api.analytics import Analytics
    from crm_tui.api.sync import Sync

__all__ = [
    "Config", "ConfigError", "Crm", "DatabaseBusy", "DatabaseError", "DatabaseMissing", "DatabaseTooNew",
    "FieldError", "Filter", "KeyRequired", "NotFound", "Record",
    "Records", "ValidationError", "WrongKey", "parse_filter",
]


def _failed(exc: BaseException | None) -> bool:
    """An exception that is a failure: not an exit with status 0 (a command's end)."""
    if exc is None:
        return False
    return getattr(exc, "exit_code", getattr(exc, "code", 1)) not in (0, None)


class Crm:
    """A rep's local CRM database. Thread-safe: calls are serialised on one lock, so
    UI workers may share one instance.

    `config` is the validated settings (default: `Config.load()`, the user's config
    file); the complaint workflow, the agenda and (on first use) the analytics are built
    from it, once, and the UI uses these same objects. `now` is the local wall clock of
    user-facing times, injectable so tests and snapshots see a fixed time.
    `create=False` refuses (DatabaseMissing) a path with no database, where a typo
    would otherwise leave an empty new file behind. An encrypted database opens with
    `key`, else the key in CRM_DB_KEY or the OS keyring (KeyRequired when none, WrongKey
    when it does not fit); `encrypt=True` makes a new database encrypted with that key."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, rep: str | None = None,
                 config: Config | None = None, now: Callable[[], dt.datetime] | None = None,
                 create: bool = True, key: str | None = None, encrypt: bool = False):
        self.config = config if config is not None else Config.load()
        self.now: Callable[[], dt.datetime] = now or local_now
        self.path: Path = resolve_db_path(path)
        # Made by this Crm: a first write refused whole leaves no empty database behind.
        self.made_here = not self.path.exists()
        # The demo's database: never synced, and every front end says when it is in use.
        self.is_demo = is_demo_db(self.path)
        # Things the user should hear about on opening (a database made private).
        self.notices: list[str] = []
        if key is None and (encrypt or is_encrypted(self.path)):
            key = find_key(self.path)
        self.encrypted = encrypt or is_encrypted(self.path)
        # The key an encrypted database was opened with: its backups are encrypted with it.
        self.key: str | None = key if self.encrypted else None
        self.conn = open_database(self.path, rep=rep, notices=self.notices,
                                  private_dir=self.path.parent.resolve() == data_dir().resolve(),
                                  create=create, key=key, encrypt=encrypt)
        if rep is None and not sql.local_rep(self.conn):
            with transaction(self.conn):
                sql.set_local_rep(self.conn, default_rep(self.config))
        self.lock = threading.RLock()
        self.customers = Records(self.conn, CUSTOMER, self.lock)
        self.visits = Records(self.conn, VISIT, self.lock)
        self.complaints = Records(self.conn, COMPLAINT, self.lock)
        self.orders = Records(self.conn, ORDER, self.lock)
        self.contacts = Records(self.conn, CONTACT, self.lock)  # the people of each customer
        self.products = Records(self.conn, PRODUCT, self.lock)  # the catalogue, SKU unique
        self.order_lines = Records(self.conn, ORDER_LINE, self.lock)
        self.order_book = OrderBook(self)  # orders with lines, refunds
        self.agenda = Agenda(self)  # follow-ups: log_visit, mark_done, schedule_next
        self.complaint_workflow = ComplaintWorkflow(self, self.config.sla)  # acknowledge ... close, reopen
        # lists and counts of customers show their classes as computed now
        self.customers.before_read = self._ensure_classes
        self.privacy = Privacy(self)  # export and erase a person's data; erase requests
        self.pipeline = Pipeline(self)  # stage moves, pipeline, forecast, funnel, targets
        self.opportunities = OpportunityRecords(self)
        self.quote_book = QuoteBook(self)  # quotations: add, edit, accept (makes the order)
        self.quotes = self.quote_book.quotes
        self.merges = Merges(self)  # merge two customers into one, and undo it
        self._keep_derived_columns()

    def _ensure_classes(self) -> None:
        """Before customers are read: their computed classes as of today and the data
        as it is (crm_tui.api.classes; the rest of the analytics is not loaded)."""
        from crm_tui.api.classes import ensure_classes

        ensure_classes(self, self.config.analytics, self.now().date())

    @cached_property
    def analytics(self) -> Analytics:
        """Classification, RFM, KPIs, reminders, reports: built on first use, so that a
        command that only lists or writes records does not load them."""
        from crm_tui.api.analytics import Analytics

        return Analytics(self)

    @staticmethod
    def exists(path: str | os.PathLike[str] | None = None) -> bool:
        """Whether there is a database at `path` (None: the default place)."""
        return resolve_db_path(path).exists()

    @cached_property
    def sync(self) -> Sync:
        """Push, pull and merge with the server; conflicts. Built on first use, like
        the analytics."""
        from crm_tui.api.sync import Sync

        return Sync(self)

    def records(self, table: str) -> Records:
        try:
            return {"customers": self.customers, "visits": self.visits,
                    "complaints": self.complaints, "orders": self.orders,
                    "opportunities": self.opportunities, "contacts": self.contacts,
                    "products": self.products, "quotes": self.quotes}[table]
        except KeyError:
            raise ValueError(f"unknown record kind {table!r}") from None

    def catalogue_read_only(self) -> bool:
        """True when only managers change the kinds marked manager_only (the product
        catalogue, targets) and this laptop's rep is not one: it syncs with a team
        server where they are a rep (or have not synced yet to learn their role)."""
        return self.privacy.must_request()

    def check_rep(self, rep: str | None) -> None:
        """Figures of a rep no record of this book names (a typo: wnag) would be all
        zeros: refused, naming the reps there are. A rep with a target only is one."""
        if rep is None:
            return
        with self.lock:
            if sql.rep_named(self.conn, rep):
                return
            names = sql.rep_names(self.conn)
        raise ValidationError.one("rep", t("reps.unknown", rep=repr(rep), reps=", ".join(names)))

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Crm:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        """Close; a database this Crm made is removed again when the work with it
        failed before anything was written (an import refused whole, an add refused),
        so a later command says there is no database rather than read an empty one."""
        discard = self.made_here and _failed(exc)
        if discard:
            with self.lock:
                discard = sql.written_nothing(self.conn)
        self.close()
        if discard:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    @property
    def replica(self) -> dict[str, Any]:
        """This database's node id, rep, clock and last local change sequence."""
        with self.lock:
            return sql.replica_info(self.conn)

    def set_rep(self, rep: str) -> None:
        with self.lock, transaction(self.conn):
            sql.set_local_rep(self.conn, rep)

    def changes(self, *, table: str | None = None, row_id: str | None = None, since: int = 0,
                limit: int | None = None, local_only: bool = False) -> list[dict[str, Any]]:
        """The change log, oldest first."""
        with self.lock:
            return sql.changes(self.conn, table=table, row_id=row_id, since_seq=since,
                               limit=limit, local_only=local_only)

    def _keep_derived_columns(self) -> None:
        """Derived columns (the pinyin search key) as their rules make them now: made
        anew once when a rule moved on since they were stored (Derived.version; only
        the values that differ are written, each a rewrite of the search index), and
        given to records written around the API (a user's own sqlite3 script); the
        rest of the search text is kept by triggers."""
        with self.lock:
            versions = sql.derived_versions(self.conn)
            for ent in ENTITIES.values():
                for d in ent.derived:
                    if versions.get((ent.table, d.column), 1) != d.version:
                        with transaction(self.conn):
                            rows = sql.derived_inputs(self.conn, ent, d.column, d.sources)
                            sql.set_derived(self.conn, ent, d.column, (
                                (value, rid) for rid, inputs, stored in rows if (value := d.compute(inputs)) != stored))
                            sql.set_derived_versions(self.conn, [(ent.table, d.column, d.version)])
                    missing = sql.missing_derived(self.conn, ent, d.column)
                    if missing:
                        with transaction(self.conn):
                            sql.set_derived(self.conn, ent, d.column,
                                            ((d.compute(record), record["id"]) for record in missing))
