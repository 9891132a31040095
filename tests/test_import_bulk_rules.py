"""The fast paths of a large import skip no rule: every row of a big file is
validated and a bad one is named, duplicates within the file are found, each row gets
its own derived pinyin key and its own id, the change log holds every imported row as
it is stored (so it syncs), and no cache hands one input's value to another."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from laptops import sync
from test_validation_fast_paths import library_phone, ours_phone
from ulid import ULID

from crm_tui.api import Crm
from crm_tui.api.importing import import_customers
from crm_tui.api.records import new_ids, ulids_from
from crm_tui.db.bulk import bulk_insert
from crm_tui.db.connection import transaction
from crm_tui.domain.entities import CUSTOMER, ENTITIES, synced_columns
from crm_tui.domain.search import pinyin_key
from crm_tui.domain.validation import (
    _DATE_FORMATS,
    CN_BLOCK,
    MEMO_SIZE,
    ValidationError,
    clean,
    normalize_date,
    normalize_phone,
    normalize_tags,
)

SURNAMES = "张王李赵刘陈杨黄吴周"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚"


def people(count: int) -> list[list[str]]:
    """Distinct customers: name, company, mobile, email, region, tags, birthday."""
    rows = []
    for i in range(count):
        name = SURNAMES[i % 10] + GIVEN[(i // 10) % 20] + GIVEN[(i // 200) % 20]
        rows.append([name, f"公司{i % 37}", f"1{[38, 39, 58][i % 3]}{i:08d}", f"c{i}@Example{i % 3}.COM",
                     ["华东", "华北", "华南"][i % 3], ["VIP,老客户", "老客户，VIP", "新品意向;VIP"][i % 3],
                     f"19{60 + i % 40}-{1 + i % 12}-{1 + i % 28}"])
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    lines = ["name,company,mobile,email,region,tags,birthday", *(",".join(f'"{c}"' for c in r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bad_cells_deep_in_a_big_file_are_named_and_nothing_is_written(crm: Crm, tmp_path: Path) -> None:
    rows = people(3000)
    rows[1499][3] = "not an email"  # line 1501
    rows[2998][2] = "12345"  # line 3000: not a phone
    rows[2999][6] = "1990-02-30"  # line 3001, the last: no such day
    report = import_customers(crm, write_csv(tmp_path / "big.csv", rows))
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (1501, "email"), (3000, "mobile"), (3001, "birthday")]
    assert "'12345'" in report.rejected[1].reason
    assert not report.written
    assert crm.customers.count() == 0 and crm.changes() == []  # all or nothing


def test_a_big_import_stores_each_row_normalised_with_its_own_key_and_logs_every_row(
        crm: Crm, tmp_path: Path) -> None:
    rows = people(2500)
    report = import_customers(crm, write_csv(tmp_path / "ok.csv", rows))
    assert (report.created, report.rejected, report.written) == (2500, [], True)
    stored = {r["mobile"]: dict(r) for r in crm.conn.execute("SELECT * FROM customers")}
    assert len(stored) == 2500
    for i, (name, company, mobile, email, region, _tags, birthday) in enumerate(rows):
        row = stored["+86" + mobile]
        assert (row["name"], row["company"], row["region"]) == (name, company, region)
        assert row["email"] == email.lower()
        assert row["tags"] == ["VIP,老客户", "老客户,VIP", "新品意向,VIP"][i % 3]
        y, m, d = birthday.split("-")
        assert row["birthday"] == f"{y}-{int(m):02d}-{int(d):02d}"
        # the derived key, computed afresh (the function behind the cache) for this name
        assert row["pinyin"] == pinyin_key.__wrapped__(name) != ""
        assert row["owner"] == "wang"
    ids = [r["id"] for r in stored.values()]
    assert len(set(ids)) == 2500 and all(str(ULID.from_str(i)) == i for i in ids)

    # the change log holds every row as stored, stamped like the triggers stamp
    log = crm.changes(table="customers")
    assert len(log) == 2500 and {e["op"] for e in log} == {"insert"}
    by_id = {r["id"]: r for r in stored.values()}
    for entry in log:
        assert json.loads(entry["data"]) == {c: by_id[entry["row_id"]][c] for c in synced_columns(CUSTOMER)}
    assert [e["node_seq"] for e in log] == list(range(1, 2501))
    stamps = [e["hlc"] for e in log]
    assert stamps == sorted(set(stamps))
    later = crm.customers.create({"name": "后来"})  # the next captured write comes after them
    assert crm.changes()[-1]["row_id"] == later["id"]
    assert crm.changes()[-1]["hlc"] > stamps[-1] and crm.changes()[-1]["node_seq"] == 2501


def test_duplicates_within_a_big_file_are_found(crm: Crm, tmp_path: Path) -> None:
    rows = people(2000)
    rows[1800] = [rows[5][0], "", rows[5][2], "", "", "", ""]  # line 1802: the same person again
    rows[1900] = ["别人", "", rows[7][2], "", "", "", ""]  # line 1902: another name, a taken mobile
    report = import_customers(crm, write_csv(tmp_path / "dup.csv", rows))
    assert [r.line for r in report.rejected] == [1902]
    assert "line 9" in report.rejected[0].reason and rows[7][0] in report.rejected[0].reason
    assert not report.written and crm.customers.count() == 0
    rows[1900] = [rows[7][0], "新公司", rows[7][2], "", "", "", ""]  # the same person, another company
    report = import_customers(crm, write_csv(tmp_path / "dup.csv", rows))
    assert [r.line for r in report.rejected] == [1902] and "line 9" in report.rejected[0].reason
    assert "'新公司' differs from '公司7'" in report.rejected[0].reason and not report.written
    rows[1900] = [rows[7][0], "", rows[7][2], "", "", "展会", ""]  # the same person, a tag more
    report = import_customers(crm, write_csv(tmp_path / "dup.csv", rows))
    assert (report.created, report.merged, report.rejected) == (1998, 2, [])
    [merged] = crm.conn.execute("SELECT * FROM customers WHERE mobile = ?", ("+86" + rows[7][2],)).fetchall()
    assert merged["company"] == "公司7" and merged["email"] == rows[7][3].lower()
    assert merged["tags"] == "老客户,VIP,展会"
    assert len(crm.changes()) == 1998


def test_an_imported_file_syncs_to_another_laptop(http_server: TestClient, tmp_path: Path) -> None:
    a, b = Crm(tmp_path / "a.db", rep="wang"), Crm(tmp_path / "b.db", rep="li")

    assert import_customers(a, write_csv(tmp_path / "f.csv", people(1200))).created == 1200
    sync(a, http_server), sync(b, http_server)
    columns = ", ".join(("id", *synced_columns(CUSTOMER), "pinyin"))
    query = f"SELECT {columns} FROM customers ORDER BY id"
    mine, theirs = a.conn.execute(query).fetchall(), b.conn.execute(query).fetchall()
    assert len(theirs) == 1200 and [tuple(r) for r in theirs] == [tuple(r) for r in mine]
    assert [r["id"] for r in b.customers.search("zhangweiwei")] == [r["id"] for r in a.customers.search("zhangweiwei")]


def test_the_change_log_numbers_rows_whose_rowids_have_gaps(crm: Crm) -> None:
    """Rows whose rowids are not consecutive (given explicitly) are numbered in order,
    not by their rowid."""
    made = [crm.customers.prepare({"name": n}) for n in ("甲", "乙", "丙")]
    cols = ["local_id", *made[0]]
    with transaction(crm.conn):
        bulk_insert(crm.conn, "customers", cols, [[10 * (i + 1), *m.values()] for i, m in enumerate(made)])
    log = crm.changes()
    assert [e["row_id"] for e in log] == [m["id"] for m in made]
    assert [e["node_seq"] for e in log] == [1, 2, 3]
    assert [e["hlc"] - log[0]["hlc"] for e in log] == [0, 1, 2]
    assert crm.customers.create({"name": "丁"}) and crm.changes()[-1]["node_seq"] == 4


def test_ids_made_together_are_ulids_unique_and_in_order() -> None:
    before = dt.datetime.now(dt.UTC)
    ids = new_ids(5000)
    after = dt.datetime.now(dt.UTC)
    assert len(set(ids)) == 5000 and ids == sorted(ids)
    for i in ids[:: 499]:
        made = ULID.from_str(i)
        assert str(made) == i and before - dt.timedelta(milliseconds=1) <= made.datetime <= after
    assert not set(new_ids(100)) & set(new_ids(100))
    assert new_ids(0) == []


def test_ids_made_together_are_the_ulids_of_consecutive_numbers() -> None:
    """Each block of 2**20 ids writes its first 22 digits once: every id is the ULID
    library's own writing of its number, across a block's end too."""
    for first in (0, (1 << 20) - 5, (7 << 100) + (3 << 20) - 2, (1 << 128) - 40):
        assert ulids_from(first, 40) == [str(ULID.from_int(first + i)) for i in range(40)]


def test_a_memo_of_checked_values_answers_as_clean_does(crm: Crm, tmp_path: Path) -> None:
    """`clean` with a memo kept across rows gives each row what it gives without:
    per field (one text, two fields, two answers), failures never remembered, and
    past MEMO_SIZE values a column is still checked."""
    rows = [{"name": "  张伟 ", "region": "  张伟 ", "company_size": "SMALL", "tags": "a;b;a"},
            {"name": "李娜", "company_size": "huge", "birthday": "1990-02-30"},
            {"name": "李娜", "company_size": "huge", "mobile": "12345"},
            {"name": "王五", "company_size": "small", "mobile": "13812345678", "email": "A@Example.COM"},
            *({"name": f"客{i}", "company_size": "medium", "notes": f"n{i}"} for i in range(MEMO_SIZE + 10)),
            {"name": "赵六", "notes": "x" * 20001, "company_size": "medium"}]

    def outcome(row: dict[str, str], memo: dict | None) -> object:
        try:
            return clean(CUSTOMER, row, memo=memo)
        except ValidationError as exc:
            return [str(e) for e in exc.errors]

    memo: dict[str, dict[str, object]] = {}
    for _ in range(2):
        assert [outcome(r, memo) for r in rows] == [outcome(r, None) for r in rows]
    assert outcome(rows[0], memo) == {"name": "张伟", "region": "张伟", "company_size": "small", "tags": "a,b"}
    assert "huge" not in memo["company_size"] and len(memo["notes"]) == MEMO_SIZE
    assert isinstance(outcome(rows[-1], memo), list)  # too long, past the memo's size

    # in an import: the same bad value on many rows is named on each
    lines = ["name,company_size,region", *(f"客{i},{'huge' if i % 3 == 0 else 'small'},华东" for i in range(30))]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_customers(crm, tmp_path / "m.csv")
    assert [r.line for r in report.rejected] == [i + 2 for i in range(0, 30, 3)]
    assert all(r.reason.startswith("company_size: 'huge'") for r in report.rejected)


def test_a_memo_remembers_numbers_by_their_type_too() -> None:
    """A memo serves numbers (a JSON file's, the prices and quantities of a file of
    order lines) as it serves text, each by its type as well as its value: 3 and 3.0
    are one key to a dict but not one value to a text field, True is no number, and
    a refused number is checked again on every row."""
    orders = ENTITIES["orders"]
    base = {"customer_id": "c1", "ordered_at": "2026-03-01", "product": "传感器", "amount": 10}

    def outcome(row: dict[str, object], memo: dict | None) -> object:
        try:
            return clean(orders, {**base, **row}, memo=memo)
        except ValidationError as exc:
            return [str(e) for e in exc.errors]

    rows: list[dict[str, object]] = [{"notes": 3}, {"notes": 3.0}, {"notes": "3"}, {"quantity": 2.0},
                                     {"quantity": 2}, {"quantity": True}, {"amount": 12.345}, {"amount": 12.5},
                                     {"amount": 12.345}, {"amount": -1.0}, {"amount": -1.0}, {"amount": 0.0}]
    memo: dict[str, dict[str, object]] = {}
    for _ in range(2):
        assert [outcome(r, memo) for r in rows] == [outcome(r, None) for r in rows]
    assert [outcome(r, memo)["notes"] for r in rows[:3]] == ["3", "3.0", "3"]  # type: ignore[index]
    assert isinstance(outcome({"amount": -1.0}, memo), list) and -1.0 not in memo["amount"].values()


def test_a_first_import_builds_the_indexes_after_the_rows(crm: Crm, tmp_path: Path) -> None:
    """Into an empty table the plain indexes are dropped and made again after the
    rows, from the same SQL; a failure half-way rolls back to the table as it was,
    indexes and all."""
    conn = crm.conn
    schema = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers' ORDER BY name"
    before = conn.execute(schema).fetchall()
    assert len(before) >= 5
    cols = ["id", "name", "mobile", "pinyin"]

    def rows(fail_at: int | None = None):
        for i, made in enumerate(new_ids(3000)):
            if i == fail_at:
                raise RuntimeError("the disk says no")
            yield [made, f"客{i}", f"+8613{i:09d}", ""]

    with pytest.raises(RuntimeError), transaction(conn):
        bulk_insert(conn, "customers", cols, rows(fail_at=2000))
    assert conn.execute(schema).fetchall() == before
    assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 0 and crm.changes() == []
    with transaction(conn):
        assert bulk_insert(conn, "customers", cols, rows()) == 3000
    assert [tuple(r) for r in conn.execute(schema)] == [tuple(r) for r in before]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM customers WHERE mobile = ?", ("x",)))
    assert "customers_mobile" in plan
    assert [r["name"] for r in crm.customers.find(search="13000002999")] == ["客2999"]
    # into a table that has rows, the indexes stay as they are
    assert import_customers(crm, write_csv(tmp_path / "more.csv", people(50))).created == 50
    assert conn.execute(schema).fetchall() == before


def _date_the_long_way(text: str) -> str | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _ours(text: str) -> str | None:
    try:
        return normalize_date(text)
    except ValueError:
        return None


@settings(max_examples=600)
@given(st.one_of(
    st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,3}", fullmatch=True),
    st.builds(lambda y, m, d, sep: f"{y}{sep}{m}{sep}{d}", st.integers(0, 9999), st.integers(0, 13),
              st.integers(0, 32), st.sampled_from(["-", "/", ".", "--"])),
    st.text(alphabet="0123456789-２０ 年月日", max_size=12),
))
def test_the_date_fast_path_agrees_with_strptime(text: str) -> None:
    assert _ours(text) == _date_the_long_way(text)


def test_cached_normalisers_answer_each_input_for_itself() -> None:
    assert normalize_tags("VIP,老客户") == "VIP,老客户"
    assert normalize_tags("老客户，VIP") == "老客户,VIP"
    assert normalize_tags("VIP,老客户") == "VIP,老客户"
    assert normalize_tags(["a", "b", "a"]) == "a,b"
    assert normalize_tags("a;b;a") == "a,b"
    assert normalize_date("2026-1-5") == "2026-01-05"
    assert normalize_date("2026-01-06") == "2026-01-06"
    assert normalize_date("2026年1月5日") == "2026-01-05"
    with pytest.raises(ValueError):
        normalize_date("2026-02-29")
    assert normalize_date("2024-02-29") == "2024-02-29"


AREA_CODES = ["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311", "351", "371", "411", "431",
              "451", "471", "510", "512", "531", "551", "571", "574", "591", "592", "731", "755", "757", "769",
              "791", "851", "871", "898", "931", "951", "991", "400", "800", "335", "433", "754", "978"]

landlines = st.builds(
    lambda area, digits, sep, paren: (f"(0{area}){sep}" if paren else f"0{area}{sep}") + digits,
    st.sampled_from(AREA_CODES), st.from_regex(r"[0-9]{5,9}", fullmatch=True),
    st.sampled_from(["", "-", " ", "--"]), st.booleans())


@settings(max_examples=600)
@given(st.one_of(landlines, st.from_regex(r"0[1-9][0-9]{8,10}", fullmatch=True)))
def test_the_landline_fast_path_agrees_with_phonenumbers(text: str) -> None:
    assert ours_phone(text) == library_phone(text)


def test_phones_the_fast_paths_leave_to_the_library() -> None:
    # full-width digits, as a Chinese input method types them: stored in ASCII, as phonenumbers gives
    assert normalize_phone("１３８１２３４５６７８") == library_phone("１３８１２３４５６７８") == "+8613812345678"
    assert normalize_phone("０２１-２９９５０９６９") == library_phone("０２１-２９９５０９６９")
    # numbers of one block: each answered for itself
    assert normalize_phone("0571-65263809") == "+8657165263809"
    assert normalize_phone("0571-65263808") == "+8657165263808"
    assert ours_phone("0571-6526380") == library_phone("0571-6526380")
    assert ours_phone("010-1234567890") == library_phone("010-1234567890")


def test_the_leading_digits_decide_a_mainland_numbers_validity() -> None:
    """The premise of the mobile fast path (one check per block): numbers of one
    length that share their first CN_BLOCK digits are all valid or all not (here:
    their first, last and random members, by phonenumbers); checked for landlines of
    every kind of area code too, should they be checked by blocks some day."""
    import random

    rng = random.Random(7)
    starts = [*AREA_CODES, "13", "14", "15", "16", "17", "18", "19"]
    checked = 0
    for start in starts:
        for _ in range(25):
            block = (start + "".join(rng.choice("0123456789") for _ in range(9)))[:CN_BLOCK]
            for length in (9, 10, 11):
                rest = length - CN_BLOCK
                members = [block + "0" * rest, block + "9" * rest,
                           *(block + "".join(rng.choice("0123456789") for _ in range(rest)) for _ in range(2))]
                dialled = [("" if m[0] == "1" and length == 11 else "0") + m for m in members]
                valid = [library_phone(d) is not None for d in dialled]
                assert len(set(valid)) == 1, (start, dialled, valid)
                checked += 1
    assert checked == len(starts) * 25 * 3


def test_text_cells_keep_every_check_and_the_collector_comes_back(crm: Crm, tmp_path: Path) -> None:
    import gc

    rows = people(1200)
    rows[100][1] = "华为\x07"  # line 102: a control character in a text field
    rows[200][0] = "   "  # line 202: a name of blanks is no name
    rows[300][1] = "公司" * 101  # line 302: longer than a company may be
    rows[400][1] = "\tTab 公司\n"  # line 402: tabs and line ends around a cell are trimmed, not refused
    assert gc.isenabled()
    report = import_customers(crm, write_csv(tmp_path / "t.csv", rows))
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (102, "company"), (202, "name"), (302, "company")]
    assert [r.reason.split(": ", 1)[1] for r in report.rejected] == [
        "holds the control character U+0007", "is required", "is 202 characters long; at most 200 allowed"]
    assert gc.isenabled()  # the import paused the cycle collector and resumed it
    gc.disable()
    try:
        rows[100][1], rows[200][0], rows[300][1] = "华为", "某人", "公司"
        assert import_customers(crm, write_csv(tmp_path / "t.csv", rows)).created == 1200
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    assert crm.conn.execute("SELECT company FROM customers WHERE mobile = ?",
                            ("+86" + rows[400][2],)).fetchone()[0] == "Tab 公司"


def test_a_new_database_is_made_in_one_transaction(tmp_path: Path) -> None:
    """All pending migrations commit together (one sync of the disk for a first
    import), so a migration that fails leaves the file as it was, not half made."""
    import sqlite3

    from crm_tui.db import connection
    from crm_tui.db.migrations import MIGRATIONS

    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk says no")

    kept, MIGRATIONS[5] = MIGRATIONS[5], broken
    try:
        # replayed one by one, as an upgrade does (a new database is made from the
        # script of them all, db/schema.py, in the same one transaction)
        half = connection.connect(tmp_path / "half.db")
        with pytest.raises(sqlite3.OperationalError):
            connection.migrate(half, tmp_path / "half.db", replay=True)
        half.close()
    finally:
        MIGRATIONS[5] = kept
    raw = sqlite3.connect(tmp_path / "half.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'customers'").fetchone()[0] == 0
    raw.close()
    commits: list[str] = []
    conn = connection.connect(tmp_path / "whole.db")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    connection.migrate(conn, tmp_path / "whole.db")
    assert len(commits) == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
