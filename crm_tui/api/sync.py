"""Sync use cases: log in to a server, run a sync (push, then pull and apply), the
sync status, and the review of conflicts. Shared by the CLI, the UI and scripts:

    from crm_tui.api import Crm
    from crm_tui.api.sync import Sync
    report = Sync(Crm()).run()
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crm_tui.api import pull_worker, sync_apply
from crm_tui.api.privacy import erased_message
from crm_tui.api.records import NotFound, Records
from crm_tui.config import Config, ConfigError, save_settings
from crm_tui.db import records as records_sql
from crm_tui.db import sync_state as sql
from crm_tui.db.connection import transaction
from crm_tui.db.migrations import SCHEMA_VERSION
from crm_tui.domain.changes import scope_field
from crm_tui.domain.entities import ENTITIES, SYSTEM_COLUMNS, derive, entity
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import entity_name, field_label, has, language, t
from crm_tui.sync.batches import SPAN, push_cut
from crm_tui.sync.errors import BAD_TOKEN, SEQUENCE_GAP, UNREACHABLE, ProtocolError
from crm_tui.sync.merge import Change, fold

if TYPE_CHECKING:
    from crm_tui.api import Crm
    from crm_tui.sync.client import SyncClient
    from crm_tui.sync.protocol import Hello, PushResult

PUSH_BATCH = 1000
# The server's largest page (MAX_PULL_LIMIT): each page costs its own transaction,
# trigger swap and look-ups, about 10 ms, whatever its size.
PULL_LIMIT = 5000

# SQLite's page cache while a pull writes, in KiB (PRAGMA cache_size). A first sync
# writes tens of megabytes of rows and indexes; with the default cache (2 MB) their
# index pages are read back from the operating system again and again: about 10% of
# SQLite's CPU in a first sync of 100k changes. SQLite fills it only as it needs,
# and the usual size is set back when the pull ends, which frees the rest.
PULL_CACHE_KIB = 64 * 1024

# phase ("push" or "pull"), done, total (an upper bound for a pull)
Progress = Callable[[str, int, int], None]

# Tables of records that belong to a customer, with the field naming it.
SCOPED_TABLES = {tbl: f.name for tbl, e in ENTITIES.items() if (f := scope_field(e)) is not None}

# Local-only columns the API derives from a record (declared on the Entity); sync
# fills them for pulled records with the same declaration.
DERIVE = {e.table: partial(derive, e) for e in ENTITIES.values() if e.derived}


def server_message(exc: ProtocolError) -> str:
    """What a sync error says to the rep: the server's own words when they are in the
    rep's language (it answers in the language the laptop asks for), else the
    catalog's sentence for the error's code (an older server writes English; an
    unreachable one writes nothing), else the server's words."""
    key = f"sync.error.{exc.code}"
    if language() == "en" or exc.lang == language() or not has(key):
        return exc.message
    return t(key)


class SyncError(Exception):
    """A sync that could not finish, with a message for the user and the server's code."""

    def __init__(self, message: str, code: str = "sync_failed"):
        super().__init__(message)
        self.code = code


class Crash(Exception):
    """Raised by test hooks to stand for a process dying at a chosen point."""


@dataclass
class SyncReport:
    pushed: int = 0
    push_duplicates: int = 0
    pulled: int = 0
    pull_duplicates: int = 0
    rows_written: int = 0
    rows_deleted: int = 0
    orphans: int = 0
    conflicts: int = 0
    set_aside: int = 0   # pulled changes that cannot be applied here, kept with the reason
    rejected: int = 0    # our changes the server refused, kept for the rep to fix or discard
    by_table: dict[str, int] = field(default_factory=dict)
    cursor: int = 0
    clock_warning: str | None = None
    gone: int = 0  # customers that left our view, removed from this laptop
    # Erases carried out here by this sync, in words for the rep (docs/privacy.md).
    erased: list[str] = field(default_factory=list)
    # The server was restored from a backup since the last sync (a new epoch): this
    # sync sent every change of this laptop again and read the server from the start.
    new_epoch: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Hooks:
    """Test seams standing for a crash at the points invariant 4 is about."""

    after_push: Callable[[], None] | None = None   # the server stored it; we have no ack yet
    before_commit: Callable[[], None] | None = None  # a pulled batch applied, not committed
    worker_started: Callable[[int], None] | None = None  # the pull's second process, by its pid


# A token travels in an HTTP header: visible ASCII, no spaces (the server's are
# crm_ and URL-safe base64).
_TOKEN = re.compile(r"[!-~]+")


def _server_url(server: str) -> str:
    """The server's address as login saves it, or ValidationError when no request
    could go to it (a malformed address ended in a traceback, or was saved)."""
    server = server.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise ValidationError.one("server", t("sync.msg.server_url"))
    try:
        parts = urlsplit(server)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise ValidationError.one("server", t("sync.login.url", url=repr(server))) from None
    if not parts.hostname or any(c.isspace() for c in server):
        raise ValidationError.one("server", t("sync.login.url", url=repr(server)))
    if parts.username is not None or parts.password is not None:
        # a name and password in it would be sent in place of the token
        raise ValidationError.one("server", t("sync.login.url_credentials"))
    return server


def login(server: str, token: str, *, check: bool = True, http: Any = None) -> dict[str, Any]:
    """Save the server and token to the user config (mode 0600). With `check`, ask the
    server first: a bad token is refused before it is saved."""
    server = _server_url(server)
    token = token.strip()
    if not token:
        raise ValidationError.one("token", t("sync.msg.token_empty"))
    if not _TOKEN.fullmatch(token):
        # a header cannot carry it: cut, or pasted with a line break or another character
        raise ValidationError.one("token", t("sync.login.token"))
    info: dict[str, Any] = {"server": server, "checked": False}
    if check:
        from crm_tui.sync.client import SyncClient  # httpx and pydantic: only when used

        with SyncClient(server, token, http=http) as client:
            try:
                hello = client.hello()
                info.update(checked=True, rep=hello.rep, role=hello.role)
            except ProtocolError as exc:
                if exc.code != UNREACHABLE:
                    raise SyncError(server_message(exc), exc.code) from None
                info["warning"] = server_message(exc)
    changes: dict[str, Any] = {"sync": {"server": server, "token": token}}
    if info.get("rep"):
        changes["rep"] = info["rep"]  # new databases on this laptop belong to this rep
    info["config"] = str(save_settings(changes))
    return info


def client_from_config(config: Config, http: Any = None) -> SyncClient:
    from crm_tui.sync.client import SyncClient  # httpx and pydantic: only when used

    if not config.sync.server or not config.sync.token:
        raise ConfigError(t("sync.msg.not_logged_in"))
    return SyncClient(config.sync.server, config.sync.token, http=http)


# The columns every write stamps by itself: not what a rep changed.
STAMPED = frozenset(SYSTEM_COLUMNS) - {"owner"}


def _fields_written(row: dict[str, Any]) -> str:
    """The fields a refused change wrote, as the forms name them (备注), without the
    columns every write stamps (updated_at) and, of a refused new record, the empty ones."""
    ent = ENTITIES.get(row["tbl"])
    names = [name for name, value in (row["data"] or {}).items()
             if name not in STAMPED and (value is not None or row["op"] != "insert")]
    return ", ".join(sorted(field_label(ent, name) if ent is not None else name for name in names))


def _check_acked(acked_seq: int, batch: list[dict[str, Any]]) -> None:
    """The server must acknowledge a whole pushed batch, under any node id; anything
    less is an error the rep can retry (one message, in the catalog)."""
    if acked_seq < batch[-1]["node_seq"]:
        raise SyncError(t("sync.msg.short_ack", acked=acked_seq, sent=batch[-1]["node_seq"]))


class Sync:
    """Sync and conflict review for one local database."""

    def __init__(self, crm: Crm):
        self.crm = crm
        self.conn = crm.conn
        self.lock = crm.lock
        self._max_push = 0  # the most changes a push may hold: the server's, from its hello

    # -- status ----------------------------------------------------------------

    def never_syncs(self) -> str | None:
        """Why this book never syncs, or None: "demo" (the demo's made-up customers) or
        "made_up" (`crm seed` wrote into it): neither may reach the team's book."""
        if self.crm.is_demo:
            return "demo"
        with self.lock:
            return "made_up" if records_sql.is_made_up(self.conn) else None

    def status(self) -> dict[str, Any]:
        with self.lock:
            st = sql.state(self.conn)
            return {
                "never_syncs": self.never_syncs(),
                "pending": sql.pending_count(self.conn),
                "last_sync_at": st["last_sync_at"],
                "last_error": st["last_error"],
                "open_conflicts": sql.open_conflict_count(self.conn),
                "rejected": sql.rejected_count(self.conn),
                "set_aside": sql.set_aside_count(self.conn),
                "cursor": st["cursor"],
                "pushed_seq": st["pushed_seq"],
                "clock_warning": st["clock_warning"],
                "node": sql.local_node(self.conn),
                "server": self.crm.config.sync.server,
            }

    # -- the sync itself -------------------------------------------------------

    def run(self, client: SyncClient | None = None, *, progress: Progress | None = None,
            push_batch: int = PUSH_BATCH, pull_limit: int = PULL_LIMIT, hooks: Hooks | None = None,
            max_pages: int | None = None, second_process: bool = False) -> SyncReport:
        """Push our changes, then pull and apply everyone else's. Safe to cut at any
        point: the next run resumes with nothing lost or doubled. `max_pages` stops
        the pull early (a partial sync). `second_process`: a pull of more than one
        page may fetch and check the pages after the first in a forked process
        (crm_tui.api.pull_worker.possible says where; `crm sync` asks for it)."""
        never = self.never_syncs()
        if never == "demo":
            raise SyncError(t("demo.no_sync"), code="demo")
        if never == "made_up":
            raise SyncError(t("seed.no_sync", path=str(self.crm.path)), code="made_up")
        own_client = client is None
        client = client or client_from_config(self.crm.config)
        hooks = hooks or Hooks()
        report = SyncReport()
        try:
            hello = client.hello()
            with self.lock:
                report.new_epoch = sql.bind_server(self.conn, hello.server_id, hello.epoch) == sql.NEW_EPOCH
                # The token proves who we are: sign changes with the server's name for
                # us (the server attributes pushed changes to it anyway).
                sql.adopt_rep(self.conn, hello.rep)
            # On a team server only managers erase; a rep's erase becomes a request.
            self.crm.privacy.remember_role(hello.role)
            with self.lock:
                node = sql.local_node(self.conn)
                # Our changes this sync sends: an erase pulled below discards them.
                self._own_since = sql.state(self.conn)["pushed_seq"]
            self._max_push = hello.max_push_batch  # a push may grow to it to keep an order whole
            self._push(client, node, min(push_batch, hello.max_push_batch), report, progress, hooks)
            self._pull(client, node, min(pull_limit, hello.max_pull_limit), hello, report, progress,
                       hooks, max_pages, second_process)
            self._retry_set_aside(hello, report)
        except ProtocolError as exc:
            self._finish(server_message(exc))
            raise SyncError(server_message(exc), exc.code) from None
        except pull_worker.WorkerLost as exc:
            self._finish(str(exc))
            raise SyncError(str(exc), "worker_lost") from None
        except Crash:
            raise
        except Exception as exc:
            self._finish(str(exc))
            raise
        finally:
            if own_client:
                client.close()
        self._finish(None)
        return report

    def _finish(self, error: str | None) -> None:
        with self.lock:
            sql.finish_sync(self.conn, error)

    def _push(self, client: SyncClient, node: str, batch_size: int, report: SyncReport,
              progress: Progress | None, hooks: Hooks) -> None:
        with self.lock:
            acked = sql.state(self.conn)["pushed_seq"]
            total = sql.pending_count(self.conn)
            former = sql.former_nodes(self.conn)
        # First what a restored backup holds under its node id from before the restore.
        for old, old_acked in former:
            self._push_former(client, old, old_acked, batch_size, report, progress, total)

        def record(batch: list[dict[str, Any]], result: PushResult) -> int:
            if hooks.after_push:
                hooks.after_push()
            with self.lock:
                own_last = self.crm.replica["seq"]
            if result.acked_seq > own_last:
                # The server holds changes of ours this database no longer has: it was
                # restored from a backup or copied. Our new changes reuse their numbers
                # and would be taken for duplicates, so stop before anything is lost.
                raise SyncError(t("sync.msg.replica_behind", here=own_last, server=result.acked_seq),
                                "replica_behind")
            # Refused changes are not in the server's log but their numbers are acked:
            # keep them, with the reason, for the rep to fix or discard; the rest syncs.
            refused = [(r.node_seq, r.tbl, r.row_id, r.code, r.reason) for r in result.refused]
            with self.lock, transaction(self.conn):
                if refused:
                    report.rejected += sql.record_refusals(self.conn, refused)
                sql.set_pushed(self.conn, result.acked_seq)
            return result.acked_seq

        self._push_batches(client, node, None, acked, batch_size, record, report, progress, total)

    def _push_former(self, client: SyncClient, node: str, acked: int, batch_size: int, report: SyncReport,
                     progress: Progress | None, total: int) -> None:
        """Send the changes of a node id this database had before a restore that the
        server had not acknowledged when the backup was taken (crm_tui.db.backup).
        The server may hold more of that node than the backup (the laptop synced
        after it): those come back in the pull like anyone else's."""

        def record(batch: list[dict[str, Any]], result: PushResult) -> int:
            with self.lock:
                sql.set_former_pushed(self.conn, node, batch[-1]["node_seq"], done=False)
            # Refused ones stay in the log; the server's audit names them (they were
            # made under another node id, so `crm sync rejected` cannot list them).
            report.rejected += len(result.refused)
            return batch[-1]["node_seq"]

        acked = self._push_batches(client, node, node, acked, batch_size, record, report, progress, total)
        with self.lock:
            sql.set_former_pushed(self.conn, node, acked, done=True)

    def _push_batches(self, client: SyncClient, node: str, local_node: str | None, acked: int, batch_size: int,
                      record: Callable[[list[dict[str, Any]], PushResult], int], report: SyncReport,
                      progress: Progress | None, total: int) -> int:
        """Push the changes logged under `local_node` (None: this replica's own) after
        `acked`, batch by batch, as `node`; `record` keeps each answer and says how
        far the server now holds; the report counts what was stored. When the server
        holds less of the sequence than we thought (a lost batch, a restored server)
        it says where to resend from: at most three times. Returns the last
        acknowledged sequence."""
        gaps = 0
        most = max(batch_size, self._max_push)
        while True:
            with self.lock:
                # Cut where no order is cut from its lines: the server judges each by what
                # the whole push leaves it with (crm_tui.sync.batches).
                keys = sql.pending_totals(self.conn, acked, most + SPAN, node=local_node)
                cut = push_cut(keys, batch_size, most, ended=len(keys) < most + SPAN)
                batch = sql.pending_changes(self.conn, acked, cut, node=local_node) if cut else []
            if not batch:
                return acked
            try:
                result = client.push(node, batch)
            except ProtocolError as exc:
                if exc.code != SEQUENCE_GAP or exc.expected_seq is None or gaps >= 3:
                    raise
                gaps += 1
                acked = exc.expected_seq - 1
                continue
            _check_acked(result.acked_seq, batch)
            acked = record(batch, result)
            report.pushed += result.accepted
            report.push_duplicates += result.duplicates
            if progress:
                progress("push", report.pushed + report.push_duplicates, total)

    def _pull(self, client: SyncClient, node: str, limit: int, hello: Hello, report: SyncReport,
              progress: Progress | None, hooks: Hooks, max_pages: int | None, second_process: bool) -> None:
        """Pull pages until the server has no more. The customers the pull erased are
        scrubbed page by page, in each page's transaction; the freed bytes leave the
        file once, when the pull ends or stops (a VACUUM per page would rewrite the
        whole file as many times)."""
        erased_before = len(report.erased)
        with self.lock:
            cache = sql.page_cache(self.conn, -PULL_CACHE_KIB)
        try:
            self._pull_pages(client, node, limit, hello, report, progress, hooks, max_pages, second_process)
        finally:
            with self.lock:
                sql.page_cache(self.conn, cache)
            if len(report.erased) > erased_before:
                self.crm.privacy.purge()

    def _pull_pages(self, client: SyncClient, node: str, limit: int, hello: Hello, report: SyncReport,
                    progress: Progress | None, hooks: Hooks, max_pages: int | None, second_process: bool) -> None:
        with self.lock:
            cursor = sql.state(self.conn)["cursor"]
            # From 0, the current state will do only for a laptop holding nothing of
            # the server yet (a snapshot's edits are based on that).
            snapshot = cursor == 0 and not sql.holds_others_changes(self.conn)
            synced = sql.Tables(self.conn).synced()
        start = cursor
        pages = self._pages(client, node, cursor, limit, snapshot, max_pages, synced, second_process, hooks)
        with closing(pages):
            for page, ready in pages:
                with _collector_paused():
                    self._apply_page(page, ready, cursor, start, hello, report, progress, hooks)
                cursor = page["cursor"]

    @staticmethod
    def _pages(client: SyncClient, node: str, cursor: int, limit: int, snapshot: bool, max_pages: int | None,
               synced: dict[str, frozenset[str]], second_process: bool,
               hooks: Hooks) -> Generator[tuple[dict[str, Any], sync_apply.Ready], None, None]:
        """The server's pages from `cursor`, in order, each with its changes made
        ready to apply (sync_apply.ready_page). When the first page says more are
        coming and the caller allows it, a second process fetches and readies the
        rest while this one applies (crm_tui.api.pull_worker); else they are asked
        for ahead by a thread (pages_ahead) and made ready here."""
        # Never with a borrowed HTTP client (a test transport): another process cannot use it.
        if not (second_process and client.owns_http and pull_worker.possible()):
            for page in pages_ahead(client, node, cursor, limit, snapshot, max_pages):
                yield page, sync_apply.ready_page(page.pop("changes"), synced)
            return
        first = client.pull(node, cursor, limit, snapshot=snapshot and cursor == 0)
        more = first["more"] and (max_pages is None or max_pages > 1)
        if not more:
            yield first, sync_apply.ready_page(first.pop("changes"), synced)
            return
        rest = max_pages and max_pages - 1
        try:
            # Forked before any thread of this pull starts (and before the progress bar's).
            worker = pull_worker.start(client, node, first["cursor"], limit, snapshot, rest, synced)
        except OSError:  # no process to be had (a limit on processes, no memory): pull in this one
            yield first, sync_apply.ready_page(first.pop("changes"), synced)
            for page in pages_ahead(client, node, first["cursor"], limit, snapshot, rest):
                yield page, sync_apply.ready_page(page.pop("changes"), synced)
            return
        try:
            if hooks.worker_started:
                hooks.worker_started(worker.pid)
            yield first, sync_apply.ready_page(first.pop("changes"), synced)
            yield from worker
        finally:
            worker.close()

    def _apply_page(self, page: dict[str, Any], ready: sync_apply.Ready, cursor: int, start: int, hello: Hello,
                    report: SyncReport, progress: Progress | None, hooks: Hooks) -> None:
        """Apply one pulled page and move the cursor, in one transaction."""
        if page["cursor"] < cursor:
            raise SyncError(t("sync.msg.cursor_back", got=page["cursor"], had=cursor))
        # An empty page is fine while the cursor moves (a snapshot page whose
        # changes were all our own); one that does not move it would loop forever.
        stuck = not ready.changes and not page.get("gone") and page["cursor"] == cursor
        gone = [str(g) for g in page.get("gone") or ()]
        with self.lock, transaction(self.conn):
            applied = sync_apply.apply_batch(self.conn, ready, cursor=page["cursor"],
                                             max_offset_ms=hello.max_offset_ms,
                                             server_now_ms=hello.server_time_ms, derive=DERIVE,
                                             before_commit=self._forgetting(gone, hooks.before_commit))
            # Erase beats everything: in the same transaction as the batch.
            erased = self.crm.privacy.enforce([c for c in ready.changes if isinstance(c, Change)],
                                              getattr(self, "_own_since", None))
        report.gone += len(gone)
        if erased:
            report.erased += [erased_message(e) for e in erased]
        cursor = page["cursor"]
        report.cursor = cursor
        report.pulled += applied.received
        report.pull_duplicates += applied.duplicates
        report.rows_written += applied.rows_written
        report.rows_deleted += applied.rows_deleted
        report.orphans += applied.orphans
        report.conflicts += applied.conflicts
        report.set_aside += applied.set_aside
        for tbl, n in applied.by_table.items():
            report.by_table[tbl] = report.by_table.get(tbl, 0) + n
        if applied.refused_stamp is not None:
            with self.lock:
                report.clock_warning = sql.state(self.conn)["clock_warning"]
        if progress:
            progress("pull", cursor - start, max(page["watermark"] - start, 1))
        if stuck and page["more"]:
            raise SyncError(t("sync.msg.stuck"))

    def _forgetting(self, gone: list[str], then: Callable[[], None] | None) -> Callable[[], None] | None:
        """The step that removes the customers that left our view, run inside the
        transaction that applies the page and moves the cursor (so a lost answer or a
        crash repeats both or neither)."""
        if not gone:
            return then

        def forget() -> None:
            sql.forget_customers(self.conn, gone, SCOPED_TABLES)
            if then is not None:
                then()

        return forget

    def _retry_set_aside(self, hello: Hello, report: SyncReport) -> None:
        """Changes set aside by an older version of crm_tui (a table or column it did
        not know) are tried again once this database's schema is newer, and those that
        named a record this laptop did not have, once the pull is done (it may have
        brought it). Those that fail again stay set aside, not counted anew."""
        with self.lock:
            old = sql.set_aside_to_retry(self.conn, SCHEMA_VERSION, [sync_apply.CONSTRAINT])
            if not old:
                return
            batch = [sync_apply.decode(_loads(change)) for _, change in old]
            applied = sync_apply.apply_batch(
                self.conn, batch, cursor=sql.state(self.conn)["cursor"], max_offset_ms=hello.max_offset_ms,
                server_now_ms=hello.server_time_ms, derive=DERIVE, replacing=[i for i, _ in old])
        report.pulled += applied.received
        report.rows_written += applied.rows_written

    # -- set-aside and rejected changes ----------------------------------------

    def set_aside(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Pulled changes this laptop could not apply, with the reason, oldest first."""
        with self.lock:
            return sql.list_set_aside(self.conn, limit=limit)

    def rejected(self, *, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Our changes the server refused, with its reason, oldest first; each with
        `record`, what it is about in words."""
        with self.lock:
            rows = sql.list_rejected(self.conn, include_resolved=include_resolved)
        return [self._label(r) | {"fields": _fields_written(r)} for r in rows]

    def _open_rejection(self, rejected_id: int) -> dict[str, Any]:
        with self.lock:
            row = sql.get_rejected(self.conn, rejected_id)
        if row is None:
            raise NotFound(t("sync.msg.no_rejected", id=rejected_id))
        if row["resolved_at"]:
            raise ValidationError.one("rejected", t("sync.msg.already_settled", id=rejected_id,
                                                             how=row["resolution"]))
        return row

    def retry(self, rejected_id: int) -> dict[str, Any]:
        """Send a refused record again, as it is now (fix it first: edit it as usual).
        Its current state is written as a new change of ours, which the next sync
        pushes: the whole record when the server never got it (a refused insert),
        else the fields the refused changes wrote. Every open refusal of the record
        is settled by it; a change of it refused later is reported anew."""
        row = self._open_rejection(rejected_id)
        with self.lock, transaction(self.conn):
            return self._retry(row)

    def retry_all(self) -> list[dict[str, Any]]:
        """Send every refused record again, as `retry` does one, after the rep fixed
        them (e.g. in one bulk edit): in the order they were refused, so a customer
        goes before its visits, and in one transaction, so a record that cannot be
        sent again (gone) leaves every refusal open."""
        with self.lock, transaction(self.conn):
            done, sent = [], set()
            for row in sql.list_rejected(self.conn):
                if (row["tbl"], row["row_id"]) not in sent:  # a record's retry settles all its refusals
                    sent.add((row["tbl"], row["row_id"]))
                    done.append(self._retry(row))
            return done

    def _retry(self, row: dict[str, Any]) -> dict[str, Any]:
        """`retry`'s work, inside the caller's transaction."""
        tbl, row_id = row["tbl"], row["row_id"]
        node = sql.local_node(self.conn)
        open_rows = sql.open_rejected_of(self.conn, tbl, row_id)
        current = sql.current_row(self.conn, tbl, row_id)
        if any(r["op"] == "insert" for r in open_rows):
            if current is None:
                raise ValidationError.one("rejected", t("sync.msg.record_gone", id=row["id"]))
            op, data, base = "insert", current, None
        elif current is None:
            op, data, base = "delete", {}, None
        else:
            names = sorted({k for r in open_rows for k in (r["data"] or {})})
            op, data = "update", {k: current[k] for k in names if k in current}
            # What the server and the other laptops hold of each field: the latest
            # change of it that was not refused, so a concurrent edit is a conflict.
            past = sql.full_history(self.conn, tbl, row_id, node=node,
                                    excluding=sql.refused_seqs(self.conn, tbl, row_id))
            winners = fold(past).winners
            base = {k: [winners[k].hlc, winners[k].node] for k in data if k in winners} or None
        seq = sql.log_own_change(self.conn, tbl, row_id, op, data, base)
        sql.mark_rejected(self.conn, [r["id"] for r in open_rows], "retried", retry_seq=seq)
        return {**self._label({**row, "resolution": "retried"}), "retry_seq": seq, "retry_op": op}

    def discard(self, rejected_id: int) -> dict[str, Any]:
        """Give up a refused change: it leaves the local log, and its record goes back
        to what the rest of the log says (without capture: nothing to sync)."""
        row = self._open_rejection(rejected_id)
        tbl, row_id = row["tbl"], row["row_id"]
        with self.lock, transaction(self.conn):
            sql.drop_own_change(self.conn, row["node_seq"])
            sql.mark_rejected(self.conn, [row["id"]], "discarded")
            values = fold(sql.full_history(self.conn, tbl, row_id)).values()
            record = None
            if values is not None:
                record = sql.Tables(self.conn).record(tbl, values)
                if tbl in DERIVE:
                    record.update(DERIVE[tbl](record))
            sql.write_uncaptured(self.conn, tbl, row_id, record)
        return {**self._label({**row, "resolution": "discarded"}), "restored": record}

    # -- conflicts -------------------------------------------------------------

    def conflicts(self, *, include_resolved: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Open conflicts (oldest first), each with `mine` and `theirs` as `resolve`
        would understand them."""
        with self.lock:
            node = sql.local_node(self.conn)
            rows = sql.list_conflicts(self.conn, include_resolved=include_resolved, limit=limit)
        return [self._label(self._sides(r, node)) for r in rows]

    def _records(self, table: str) -> Records:
        """The use cases of any synced record kind (KeyError for one this version lacks)."""
        try:
            return self.crm.records(table)
        except ValueError:
            return Records(self.conn, entity(table), self.lock)

    def _label(self, row: dict[str, Any]) -> dict[str, Any]:
        """What the conflict is about, in words: the customer's name, or the kind of
        record and its customer's name; "(deleted)" when the record was deleted here,
        "(no longer on this laptop)" when it left with a customer that left the rep's view
        (nothing of it is left here, not even its history)."""
        try:
            records = self._records(row["tbl"])
        except KeyError:
            row["record"] = f"{row['tbl']} {row['row_id']}"
            return row
        try:
            record = records.get(row["row_id"])
        except NotFound:
            record_id = f"{entity_name(records.entity)} {row['row_id'][:10]}"
            with self.lock:
                deleted = bool(sql.full_history(self.conn, row["tbl"], row["row_id"]))
            row["record"] = t("sync.record_deleted" if deleted else "sync.record_not_here", record=record_id)
            return row
        name = record.get("name")
        if name is None and record.get("customer_id"):
            try:
                name = self.crm.customers.get(record["customer_id"]).get("name")
            except NotFound:
                name = None
        # in the rep's language, as the screen and `crm conflicts list` show it: 订单 张伟
        kind = entity_name(records.entity)
        row["record"] = f"{kind} {name or row['row_id'][:10]}" if row["tbl"] != "customers" else str(name)
        return row

    def conflict(self, conflict_id: int) -> dict[str, Any]:
        with self.lock:
            row = sql.get_conflict(self.conn, conflict_id)
            node = sql.local_node(self.conn)
        if row is None:
            raise NotFound(t("sync.msg.no_conflict", id=conflict_id))
        return self._label(self._sides(row, node))

    @staticmethod
    def _sides(row: dict[str, Any], node: str) -> dict[str, Any]:
        # "mine" is the value written on this replica when one side was; otherwise the
        # value the record holds now (the winner), and "theirs" the one that lost.
        mine_is_loser = row["loser_node"] == node and row["winner_node"] != node
        row["mine"] = row["loser_value"] if mine_is_loser else row["winner_value"]
        row["theirs"] = row["winner_value"] if mine_is_loser else row["loser_value"]
        # who wrote each side, in the same order as the values (not winner/loser)
        row["mine_rep"] = row["loser_rep"] if mine_is_loser else row["winner_rep"]
        row["theirs_rep"] = row["winner_rep"] if mine_is_loser else row["loser_rep"]
        return row

    def resolve(self, conflict_id: int, keep: str) -> dict[str, Any]:
        """Settle a conflict keeping `mine`, `theirs` or a new VALUE. A value other
        than the current one is written as a normal captured change, so it syncs like
        any other edit; keeping the current value only closes the conflict here."""
        c = self.conflict(conflict_id)
        if c["resolved_at"]:
            raise ValidationError.one("conflict", t("sync.msg.already_resolved", id=conflict_id,
                                                                   how=c["resolution"]))
        if keep == "mine":
            value, how = c["mine"], "mine"
        elif keep == "theirs":
            value, how = c["theirs"], "theirs"
        else:
            value, how = keep, "value"
        records = self._records(c["tbl"])
        if c["field"] not in records.entity.field_names:
            raise ValidationError.one(c["field"], t("sync.msg.managed_field"))
        with self.lock:
            now = fold(sql.full_history(self.conn, c["tbl"], c["row_id"])).winners.get(c["field"])
        if now is not None and now.stamp != (c["winner_hlc"], c["winner_node"]):
            # The field was written after the conflict's winner: keeping either side
            # now would overwrite that later edit. (Such a conflict is settled when the
            # edit arrives; one kept open by a sync before that rule held is closed here.)
            with self.lock, transaction(self.conn):
                sql.mark_resolved(self.conn, conflict_id, "superseded")
            raise ValidationError.one("conflict", t("sync.msg.resolve.outdated", id=conflict_id,
                                                    value=repr(now.data[c["field"]])))
        with self.lock, transaction(self.conn):
            # The write funnel's sanctioned way to settle a field, workflow fields
            # included (to mine or theirs): validation, state rule, derived columns.
            records.settle(c["row_id"], c["field"], value, allowed=(c["mine"], c["theirs"]))
            sql.mark_resolved(self.conn, conflict_id, how)
        return {**self.conflict(conflict_id), "kept": value}


def pages_ahead(client: SyncClient, node: str, cursor: int, limit: int, snapshot: bool,
                max_pages: int | None) -> Generator[dict[str, Any], None, None]:
    """The server's pages from `cursor`, in order, each asked for while the one
    before it is being applied: the server's work and the HTTP overlap the
    laptop's writes. Pages are still applied, and committed with their cursor,
    one after the other; a page asked for and not applied (the sync stopped) is
    asked for again next time, from the committed cursor."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-pull") as fetch:
        ahead = fetch.submit(client.pull, node, cursor, limit, snapshot=snapshot and cursor == 0)
        pages = 0
        while True:
            page = ahead.result()
            pages += 1
            more = page["more"] and (max_pages is None or pages < max_pages)
            if more:
                ahead = fetch.submit(client.pull, node, page["cursor"], limit,
                                     snapshot=snapshot and page["cursor"] == 0)
            yield page
            if not more:
                return


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while one page is applied. A page
    makes tens of thousands of objects that live until it is written, each young
    generation's collection walks them again, and the full ones walk the whole
    process: measured at 12% of a first sync's CPU. A page's objects hold no cycles
    (they are freed as soon as it is written), and a page is bounded (PULL_LIMIT
    changes), so the pause costs no memory beyond the page."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # decode() sets it aside again, with the reason


__all__ = ["BAD_TOKEN", "Crash", "Hooks", "Sync", "SyncError", "SyncReport", "client_from_config", "login"]
