"""Applying a pulled batch: which changes are new, folding each record's history,
merging, deciding the values to write, and setting aside, with the reason, every
change this replica cannot apply, so that no single change can stop a sync. The
SQL is in `crm_tui.db.sync_state`; the merge rules are pure, in `crm_tui.sync.merge`.

A batch is applied the fast way first (bulk inserts, one savepoint). When a change
fails while it is written, the batch is cut around it, each part in its own
savepoint, until the change that cannot be written is alone: it is set aside and
the parts around it still go the bulk way, so one bad record neither rolls back the
others nor sends its whole batch down a change-by-change path."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_tui.db import sync_state as sql
from crm_tui.db.connection import ERRORS, transaction
from crm_tui.db.migrations import SCHEMA_VERSION
from crm_tui.domain.changes import ChangeRefused, check_change
from crm_tui.domain.entities import OPS
from crm_tui.i18n import entity_label, t
from crm_tui.sync import clock
from crm_tui.sync.merge import Change, Conflict, Outcome, fold, merge

# table -> function(record values) -> local-only derived columns (e.g. pinyin).
Derive = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]

INT64 = 1 << 63

# Why a change was set aside (stable codes; the reason says the detail).
MALFORMED = "malformed"          # not a change at all: a field missing or of the wrong type
UNKNOWN_TABLE = "unknown_table"  # a table this version does not sync (a newer schema)
UNKNOWN_COLUMN = "unknown_column"
INVALID = "invalid"              # a value this replica cannot store or the rules refuse
CONSTRAINT = "constraint"        # the database refused it (a required field, a customer never received)


@dataclass
class Applied:
    """What one applied batch did."""

    received: int = 0       # new changes stored in the log
    duplicates: int = 0     # changes already held (a re-sent page, our own echo)
    rows_written: int = 0
    rows_deleted: int = 0
    orphans: int = 0        # child records whose customer is deleted: left out
    conflicts: int = 0
    set_aside: int = 0      # changes that cannot be applied here, kept with the reason
    by_table: dict[str, int] = field(default_factory=dict)
    refused_stamp: int | None = None  # a far-future stamp not adopted by our clock


class Unreadable:
    """A pulled change that cannot even be decoded, and why."""

    def __init__(self, raw: Any, reason: str, code: str = MALFORMED):
        self.raw, self.reason, self.code = raw, reason, code


def _raw_json(raw: Any) -> str:
    """The change as received, for the rep to see; ASCII-escaped, so a lone
    surrogate or NaN cannot break the row that keeps it."""
    try:
        return json.dumps(raw, ensure_ascii=True, default=repr)
    except (ValueError, TypeError, RecursionError):
        return repr(raw)


def decode(raw: Any) -> Change | Unreadable:
    """One change of a pulled page as a `Change`, or why it is not one."""
    # The common case in as few steps as possible: a pull decodes every change.
    try:
        node, seq, hlc, tbl, row_id = raw["node"], raw["node_seq"], raw["hlc"], raw["tbl"], raw["row_id"]
        op, data, old, base, rep = raw["op"], raw["data"], raw.get("old"), raw.get("base"), raw.get("rep", "")
    except (KeyError, TypeError, AttributeError):
        return _decode_slowly(raw)
    if (type(node) is str and type(tbl) is str and type(row_id) is str and type(op) is str
            and type(rep) is str and type(data) is dict and type(seq) is int and type(hlc) is int
            and 0 < seq < INT64 and 0 <= hlc < INT64 and node and row_id
            and (base is None or type(base) is dict) and (old is None or type(old) is dict)):
        return Change(node, seq, hlc, tbl, row_id, op, data, old, base, rep)
    return _decode_slowly(raw)


def _decode_slowly(raw: Any) -> Change | Unreadable:
    if not isinstance(raw, dict):
        return Unreadable(raw, t("refusal.pulled.not_an_object"))
    try:
        node, seq, hlc, tbl, row_id = raw["node"], raw["node_seq"], raw["hlc"], raw["tbl"], raw["row_id"]
        op, data = raw["op"], raw["data"]
    except KeyError as exc:
        return Unreadable(raw, t("refusal.pulled.field_missing", field=repr(exc.args[0])))
    old, base, rep = raw.get("old"), raw.get("base"), raw.get("rep", "")
    for name, value, kind in (("node", node, str), ("tbl", tbl, str), ("row_id", row_id, str), ("op", op, str),
                              ("rep", rep, str), ("data", data, dict)):
        if not isinstance(value, kind):
            return Unreadable(raw, t("refusal.pulled.not_of_type", field=name, type=_type_name(kind)))
    for name, value in (("node_seq", seq), ("hlc", hlc)):
        if type(value) is not int or not 0 <= value < INT64:
            return Unreadable(raw, t("refusal.pulled.not_int64", field=name))
    if not node or not row_id or seq < 1:
        return Unreadable(raw, t("refusal.pulled.ids_unset"))
    if old is not None and not isinstance(old, dict):
        old = None  # history only: a broken one is dropped, the change kept
    if base is not None and not isinstance(base, dict):
        return Unreadable(raw, t("refusal.pulled.base_not_object"))
    return Change(node, seq, hlc, tbl, row_id, op, data, old, base, rep)


# Types whose every value a column can hold (text that is not valid Unicode fails
# when it is written, and is set aside then).
_PLAIN = frozenset({str, type(None), bool})


def _bad_value(value: Any) -> str | None:
    """Why a value cannot be stored as a column value here, or None."""
    kind = type(value)
    if value is None or kind is bool:
        return None
    if kind is str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return t("refusal.pulled.not_unicode")
        return None
    if kind is int:
        return None if -INT64 <= value < INT64 else t("refusal.pulled.beyond_int64")
    if kind is float:
        return None if math.isfinite(value) else t("refusal.pulled.not_finite")
    return t("refusal.pulled.not_a_value", type=_type_name(kind))


def _type_name(kind: type) -> str:
    """A JSON value's type as the catalog names it (text, object, list), else Python's name."""
    key = {str: "text", dict: "object", list: "list", int: "integer", float: "number"}.get(kind)
    return t(f"refusal.pulled.type_{key}") if key else kind.__name__


def check_storable(c: Change, synced: Mapping[str, frozenset[str]]) -> tuple[str, str] | None:
    """(code, reason) when this replica cannot store the change, else None: a table or
    column this schema does not know (`synced`: sql.Tables.synced()), an operation
    that does not exist, a value no column can hold (the rules of a value, and the
    shapes of base and old, are check_change's)."""
    columns = synced.get(c.tbl)
    if columns is None:
        return UNKNOWN_TABLE, t("refusal.pulled.unknown_table", table=repr(c.tbl))
    if c.op not in OPS:
        return MALFORMED, t("refusal.pulled.unknown_op", op=repr(c.op))
    if not columns.issuperset(c.data):
        unknown = sorted(c.data.keys() - columns)[0]
        return UNKNOWN_COLUMN, t("refusal.pulled.unknown_column", table=c.tbl, column=repr(unknown))
    if not _PLAIN.issuperset(map(type, c.data.values())):  # most changes: text and nulls only
        for name, value in c.data.items():
            why = None if type(value) in _PLAIN else _bad_value(value)
            if why:
                return INVALID, t("refusal.pulled.bad_column_value", table=c.tbl, column=name, why=why)
    if c.old and not _PLAIN.issuperset(map(type, c.old.values())) and any(map(_bad_value, c.old.values())):
        return INVALID, t("refusal.pulled.old_unstorable")
    return None  # the shape of base and old: check_change


def check_rules(c: Change) -> tuple[str, str] | None:
    """(code, reason) when the change breaks the rules of a local write (the same
    `check_change` the server runs on every push), else None. References are left to
    the database: a record may name a customer inserted in the same batch."""
    try:
        check_change(c.tbl, c.op, c.row_id, c.data, old=c.old, base=c.base)
    except ChangeRefused as exc:
        return INVALID, exc.reason
    return None


class Ready:
    """A pulled page made ready to apply, by the work that needs no database: each
    change decoded, checked (check_storable, then the rules) and, when it passes, its
    log row's JSON encoded. Made in the process that applies the page, or by the
    second process of a big pull (crm_tui.api.pull_worker), with the same code."""

    def __init__(self, changes: list[Change | Unreadable], refused: dict[int, tuple[str, str]],
                 texts: list[sql.LogTexts | None]):
        self.changes = changes  # in server order
        self.refused = refused  # index in changes -> (code, reason) it is set aside with
        self.texts = texts      # index in changes -> its log texts (None: refused or unreadable)

    def __getstate__(self) -> tuple[list[Any], dict[int, tuple[str, str]], list[sql.LogTexts | None]]:
        # A change crosses the pipe as a plain tuple: unpickling a named tuple calls
        # its Python-level __new__, a microsecond a change.
        return [tuple(c) if type(c) is Change else c for c in self.changes], self.refused, self.texts

    def __setstate__(self, state: tuple[list[Any], dict[int, tuple[str, str]], list[sql.LogTexts | None]]) -> None:
        changes, self.refused, self.texts = state
        new = tuple.__new__
        self.changes = [new(Change, c) if type(c) is tuple else c for c in changes]


def ready(batch: Iterable[Change | Unreadable], synced: Mapping[str, frozenset[str]],
          check: Callable[[Change], tuple[str, str] | None] = check_rules) -> Ready:
    """A batch made ready to apply: see Ready. `synced` is sql.Tables.synced() of the
    replica it is for; `check` the domain's rules (check_rules)."""
    changes = list(batch)
    refused: dict[int, tuple[str, str]] = {}
    texts: list[sql.LogTexts | None] = []
    log_texts = sql.log_texts
    for i, c in enumerate(changes):
        if type(c) is not Change:
            texts.append(None)
            continue
        why = check_storable(c, synced) or check(c)
        if why:
            refused[i] = why
            texts.append(None)
        else:
            texts.append(log_texts(c))
    return Ready(changes, refused, texts)


def ready_page(raw_changes: Iterable[Any], synced: Mapping[str, frozenset[str]]) -> Ready:
    """The changes of a pulled page, as the server sent them, made ready to apply."""
    return ready([decode(c) for c in raw_changes], synced)


def _set_aside_item(c: Change | Unreadable, code: str, reason: str) -> sql.SetAside:
    if isinstance(c, Unreadable):
        raw = c.raw if isinstance(c.raw, dict) else {}

        def pick(key: str, kind: type) -> Any:
            value = raw.get(key)
            return value if type(value) is kind else None

        seq = pick("node_seq", int)
        return sql.SetAside(pick("node", str), seq if seq is not None and abs(seq) < INT64 else None,
                            pick("server_seq", int), pick("tbl", str) or "", pick("row_id", str) or "",
                            pick("op", str) or "", _raw_json(c.raw), code, reason)
    raw_change = {"node": c.node, "node_seq": c.node_seq, "hlc": c.hlc, "tbl": c.tbl, "row_id": c.row_id,
                  "op": c.op, "data": c.data, "old": c.old, "base": c.base, "rep": c.rep}
    return sql.SetAside(c.node, c.node_seq, None, c.tbl, c.row_id, c.op, _raw_json(raw_change), code, reason)


# SQLite's words for a constraint a write broke ("NOT NULL constraint failed: t.c").
_CONSTRAINT = re.compile(r"^([A-Z][A-Z ]*?) constraint failed(?:: (.*))?$", re.S)


def _reason(exc: BaseException) -> tuple[str, str]:
    """Why a pulled change could not be written here, in the rep's language (the
    database and Python say it in English)."""
    if isinstance(exc, sql.MissingParent):
        return CONSTRAINT, t("refusal.pulled.missing_parent", table=exc.tbl, column=exc.column,
                             parent=entity_label(exc.parent), value=repr(exc.value))
    text = str(exc) or type(exc).__name__
    broken = _CONSTRAINT.match(text)
    if broken:
        kind, where = broken.groups()
        if where:
            return CONSTRAINT, t("refusal.pulled.constraint_on", kind=kind, where=where)
        return CONSTRAINT, t("refusal.pulled.constraint", kind=kind)
    if "constraint failed" in text:  # a trigger's own words
        return CONSTRAINT, text
    if isinstance(exc, UnicodeError):
        return INVALID, t("refusal.pulled.not_unicode_text")
    return INVALID, text


def _decide(past: Sequence[Change] | None, changes: Sequence[Change],
            ) -> tuple[Mapping[str, Any] | None, list[Conflict], list[tuple[str, tuple[int, str]]]]:
    """The merged fields of a record after `changes`, given its `past` changes (None:
    no history here), with the conflicts found and the winners superseded (not to be
    changed: they may be a change's own data)."""
    if past is None and len(changes) == 1 and changes[0].op == "insert":
        return changes[0].data, [], []  # a new record: nothing to merge
    state = fold(past or ())
    outcome = Outcome()
    for c in changes:
        merge(state, c, outcome)
    return state.values(), outcome.conflicts, outcome.superseded


class _Batch:
    """The fresh changes of one batch written to the log and the tables."""

    def __init__(self, conn: Any, tables: sql.Tables, derive: Derive | None,
                 texts: Mapping[tuple[str, int], sql.LogTexts] | None = None):
        self.conn, self.tables, self.derive = conn, tables, derive
        self.texts = texts  # the changes' log texts, encoded when the batch was made ready
        self.failing: tuple[str, str] | None = None  # the record the last failed write failed on

    def _whole(self, tbl: str, row_id: str) -> Callable[[], dict[str, Any] | None]:
        # Revived, or left out before (a deleted customer): the whole record comes from
        # its complete history, not just the fields merged here.
        return lambda: fold(sql.full_history(self.conn, tbl, row_id)).values()

    def write(self, changes: Sequence[Change], report: Applied) -> None:
        """All at once: bulk inserts of new records, one history query per chunk."""
        self.failing = None
        groups: dict[tuple[str, str], list[Change]] = {}
        for c in changes:
            record = (c.tbl, c.row_id)
            group = groups.get(record)
            if group is None:
                groups[record] = [c]
            else:
                group.append(c)
        history = sql.history(self.conn, groups)
        sql.log_changes(self.conn, changes, self.texts)
        conflicts: list[Conflict] = []
        superseded: list[tuple[str, str, str, tuple[int, str]]] = []
        writer = sql.Writer(self.conn, self.tables, self.derive)
        write_new = writer.write_new
        try:
            writer.read_ahead(history)  # the records with a past here: write_merged's
            for (tbl, row_id), group in groups.items():
                past = history.get((tbl, row_id))
                if past is None and len(group) == 1 and group[0].op == "insert":
                    write_new(tbl, row_id, group[0].data)  # a new record: nothing to merge (_decide)
                    continue
                values, found, settled = _decide(past, group)
                if found:
                    conflicts += found
                if settled:
                    superseded += [(tbl, row_id, name, stamp) for name, stamp in settled]
                if past is None:
                    writer.write_new(tbl, row_id, values)
                else:
                    writer.write_merged(tbl, row_id, values, self._whole(tbl, row_id))
            writer.flush()
        except BaseException:
            self.failing = writer.failing
            raise
        sql.record_conflicts(self.conn, conflicts, superseded)
        # Nothing is left to review on a deleted record: its conflicts are settled,
        # those found in this batch too (so after they are kept).
        for tbl, row_id in writer.deleted:
            sql.mark_resolved_row(self.conn, tbl, row_id, "deleted")
        for tbl, n in Counter(c.tbl for c in changes).items():
            report.by_table[tbl] = report.by_table.get(tbl, 0) + n
        report.received += len(changes)
        report.conflicts += len(conflicts)
        report.rows_written += writer.rows_written
        report.rows_deleted += writer.rows_deleted
        report.orphans += writer.orphans

    def write_parts(self, changes: list[Change], report: Applied, aside: list[sql.SetAside]) -> None:
        """After `changes` failed to be written at once (`self.failing` says on which
        record): write them in parts, in bulk, each in its own savepoint. A part that
        fails is cut around the first change of the record it failed on: what comes
        before, that change alone, what comes after; a change that fails alone is set
        aside with its reason. In server order, so the result is that of writing
        change by change, at the cost of about one more bulk write per bad change."""
        cuts = 1
        todo = _cut(changes, self.failing)[::-1]  # parts still to write, the next one last
        while todo:
            part = todo.pop()
            done = Applied()
            try:
                with transaction(self.conn):
                    self.write(part, done)
            except ERRORS.data as exc:
                if len(part) == 1:
                    aside.append(_set_aside_item(part[0], *_reason(exc)))
                else:
                    cuts += 1
                    todo += reversed(_cut(part, self.failing if cuts <= _POINTED_CUTS else None))
                continue
            _add(report, done)


# A page mostly made of bad changes would cost a bulk write per bad change (n
# squared): past this many cuts at the failing record, parts are cut in halves (n log n).
_POINTED_CUTS = 8


def _cut(part: list[Change], failing: tuple[str, str] | None) -> list[list[Change]]:
    """The parts a part that failed is written again in, in order, each shorter than
    it: what comes before the first change of the record it failed on, that change
    alone, what comes after; in halves when that record is not known (a bulk
    statement failed, or the page has too many bad changes)."""
    at = next((i for i, c in enumerate(part) if failing == (c.tbl, c.row_id)), None) if failing else None
    if at is None:
        mid = len(part) // 2
        return [p for p in (part[:mid], part[mid:]) if p]
    return [p for p in (part[:at], [part[at]], part[at + 1:]) if p]


def _add(report: Applied, part: Applied) -> None:
    for name in ("received", "rows_written", "rows_deleted", "orphans", "conflicts"):
        setattr(report, name, getattr(report, name) + getattr(part, name))
    for tbl, n in part.by_table.items():
        report.by_table[tbl] = report.by_table.get(tbl, 0) + n


def apply_batch(conn: Any, batch: Iterable[Change | Unreadable] | Ready, *, cursor: int,
                max_offset_ms: int = clock.DEFAULT_MAX_OFFSET_MS, server_now_ms: int = 0,
                derive: Derive | None = None, before_commit: Callable[[], None] | None = None,
                check: Callable[[Change], tuple[str, str] | None] | None = None,  # default: check_rules
                replacing: Sequence[int] = ()) -> Applied:
    """Apply pulled changes (in server order) and move the cursor, in one transaction:
    a crash anywhere leaves either all of it or none of it. Duplicates are skipped;
    capture is paused so the changes keep their own stamps in the log. A change that
    cannot be applied is set aside with its reason; the rest are applied. `check`
    adds the domain's rules for a change (a `Ready` batch was checked when it was
    made ready); `replacing` are set-aside rows tried again."""
    report = Applied()
    tables = sql.Tables(conn)
    page = batch if isinstance(batch, Ready) else ready(batch, tables.synced(), check or check_rules)
    with transaction(conn):
        if replacing:
            sql.drop_set_aside(conn, replacing)
        sql.set_capture(conn, False)
        # Every change of a page goes through these loops: plain steps, no calls
        # that can be spared (a first sync runs them 100k times).
        changes = page.changes
        aside = [_set_aside_item(c, c.code, c.reason) for c in changes if type(c) is Unreadable]
        held = sql.known(conn, [c for c in changes if type(c) is Change])
        refused, page_texts = page.refused, page.texts
        fresh: list[Change] = []
        texts: dict[tuple[str, int], sql.LogTexts] = {}
        for i, c in enumerate(changes):
            if type(c) is not Change:
                continue
            key = (c.node, c.node_seq)
            if key in held:
                report.duplicates += 1
                continue
            held.add(key)
            if refused and i in refused:
                aside.append(_set_aside_item(c, *refused[i]))
                continue
            fresh.append(c)
            encoded = page_texts[i]
            if encoded is not None:
                texts[key] = encoded
        # A new record naming a customer this replica never received fails when
        # written, whatever the rest of the batch: set aside now, not found by a
        # failed write of the whole batch (the usual bad change of a first sync).
        named = Counter([(c.tbl, c.row_id) for c in fresh])  # every record the batch changes, how often
        missing = sql.never_received(conn, tables, [c for c in fresh if c.op == "insert"
                                                     and named[(c.tbl, c.row_id)] == 1], named)
        writing = fresh
        if missing:
            writing = [c for c in fresh if c.key not in missing]
            aside += [_set_aside_item(c, *_reason(missing[c.key])) for c in fresh if c.key in missing]
        applying = _Batch(conn, tables, derive, texts)
        with sql.triggers_set_aside(conn):
            fast = Applied()
            try:
                with transaction(conn):
                    applying.write(writing, fast)
                _add(report, fast)
            except ERRORS.data:
                # Something in the batch cannot be written: find it, the rest in bulk.
                applying.write_parts(writing, report, aside)
        report.set_aside = sql.set_aside(conn, aside, SCHEMA_VERSION)
        report.duplicates += len(aside) - report.set_aside  # set aside already (a re-sent page)
        report.refused_stamp = _advance_clock(conn, fresh, max_offset_ms, server_now_ms)
        sql.set_cursor(conn, cursor)
        sql.set_capture(conn, True)
        if before_commit is not None:
            before_commit()  # a test seam: a crash here must leave nothing behind
    return report


def _advance_clock(conn: Any, fresh: Sequence[Change], max_offset_ms: int, server_now_ms: int) -> int | None:
    """Hybrid logical clock receive: our next stamp comes after everything we hold,
    except a stamp absurdly far ahead, which is refused (and reported). "Ahead" is
    measured from the later of our clock and the server's: the server already refused
    anything further ahead of its own clock, so a laptop whose clock is slow still
    follows every stamp the server let through."""
    if not fresh:
        return None
    wall, counter = sql.clock_state(conn)
    now = max(clock.now_ms(), server_now_ms)
    refused = None
    for hlc in sorted({c.hlc for c in fresh}, reverse=True):
        got = clock.receive(wall, counter, hlc, now=now, max_offset_ms=max_offset_ms)
        if got.refused is None:
            wall, counter = got.wall, got.counter
            break
        refused = refused or got.refused
    sql.set_clock(conn, wall, counter)
    if refused is not None:
        sql.set_clock_warning(conn, t("sync.msg.clock_warning", seconds=clock.ahead_ms(refused, now) // 1000))
    return refused
