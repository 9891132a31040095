"""Search finds the same customers however a query is typed: in any case, with or
without accents, in full-width letters, by 1, 2 or 3+ characters (the plain scan and
the trigram index), on every page of a broad query, and the count it shows is the
number of rows it lists. One fold (crm_tui.domain.search.fold) for every search path."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest
from cli_steps import run_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from old_books import book_before

from crm_tui.api import Crm, ValidationError
from crm_tui.db import records as sql
from crm_tui.domain.catalogue import product_matches
from crm_tui.domain.search import fold, normalize_query

PEOPLE = [
    {"name": "Émile Zola"},
    {"name": "ÉMILE DURAND"},
    {"name": "Jens Ørsted"},
    {"name": "Ayşe Kaya", "company": "İSTANBUL Ltd"},
    {"name": "Jürgen Weiß"},
    {"name": "JÜRGEN WEISS"},
    {"name": "张伟", "company": "华为技术有限公司"},
    {"name": "Bob Smith"},
]
EMILE = sorted(["Émile Zola", "ÉMILE DURAND"])
JURGEN = sorted(["JÜRGEN WEISS", "Jürgen Weiß"])


@pytest.fixture
def people(crm: Crm) -> Crm:
    for row in PEOPLE:
        crm.customers.create(row)
    return crm


def names(crm: Crm, query: str) -> list[str]:
    return sorted(r["name"] for r in crm.customers.find(search=query))


@pytest.mark.parametrize(("query", "expected"), [
    # one character: the plain scan
    ("ø", ["Jens Ørsted"]), ("Ø", ["Jens Ørsted"]), ("ß", JURGEN), ("ẞ", JURGEN),
    # two characters: the plain scan
    ("ém", EMILE), ("ÉM", EMILE), ("Ém", EMILE), ("em", EMILE), ("EM", EMILE),
    ("ør", ["Jens Ørsted"]), ("ØR", ["Jens Ørsted"]), ("ay", ["Ayşe Kaya"]),
    ("张伟", ["张伟"]), ("zw", ["张伟"]), ("ＺＷ", ["张伟"]),
    # three and more: the trigram index
    ("émile", EMILE), ("ÉMILE", EMILE), ("emile", EMILE), ("Emile", EMILE),
    ("ørs", ["Jens Ørsted"]), ("ØRSTED", ["Jens Ørsted"]),
    ("İst", ["Ayşe Kaya"]), ("ist", ["Ayşe Kaya"]), ("istanbul", ["Ayşe Kaya"]), ("İstanbul", ["Ayşe Kaya"]),
    ("ayşe", ["Ayşe Kaya"]), ("AYSE", ["Ayşe Kaya"]),
    ("weiss", JURGEN), ("WEISS", JURGEN), ("weiß", JURGEN), ("WEIẞ", JURGEN),
    ("jür", JURGEN), ("JÜR", JURGEN), ("jurgen", JURGEN),
    ("zhangwei", ["张伟"]), ("华为", ["张伟"]), ("有限公司", ["张伟"]),
    ("smi", ["Bob Smith"]), ("SMITH", ["Bob Smith"]),
])
def test_every_query_shape_finds_the_same_customers_however_typed(people: Crm, query: str,
                                                                  expected: list[str]) -> None:
    assert names(people, query) == expected
    assert people.customers.count(search=query) == len(expected)
    # a page, then the count the list shows beside it
    page = people.customers.find(search=query, limit=50)
    assert sorted(r["name"] for r in page) == expected
    assert people.customers.count(search=query) == len(expected)


def test_a_contacts_name_finds_its_customer_in_any_case(crm: Crm) -> None:
    acme = crm.customers.create({"name": "Acme"})
    crm.contacts.create({"customer_id": acme["id"], "name": "ÉLODIE Ørsted"})
    for query in ("él", "el", "ÉL", "élodie", "ELODIE", "ørsted", "ØR"):
        assert names(crm, query) == ["Acme"], query
    crm.contacts.update(crm.contacts.find()[0]["id"], {"name": "Zoë"})
    assert names(crm, "élodie") == [] and names(crm, "ZOË") == names(crm, "zoe") == ["Acme"]


def test_a_broad_query_lists_on_every_page_what_it_counts(crm: Crm, monkeypatch) -> None:
    # A query that matches more than 5% of the book is paged by walking the list in
    # its order (sql._walk), and counted apart: both must fold alike, or a page skips
    # the customers whose letters the walk did not fold ("RÉMI" for "rémi").
    for i in range(30):
        crm.customers.create({"name": f"Rémi Dupont {i:02d}"})
        crm.customers.create({"name": f"RÉMI MARTIN {i:02d}"})
        crm.customers.create({"name": f"Bob {i:02d}"})
    every = {r["id"] for r in crm.customers.find()} - {r["id"] for r in crm.customers.find(search="bob")}
    assert len(every) == 60
    for query in ("rémi", "RÉMI", "remi", "ré", "RÉ", "Ré"):
        listed: list[str] = []
        for offset in range(0, 70, 7):
            page = crm.customers.find(search=query, limit=7, offset=offset)
            listed += [r["id"] for r in page]
            assert crm.customers.count(search=query) == 60, (query, offset)
        assert len(listed) == len(set(listed)) == 60 and set(listed) == every, query
    walked = [r["id"] for r in crm.customers.find(search="ré", limit=7, offset=14)]
    monkeypatch.setattr(sql, "_walk", lambda *args: None)  # the plan that sorts every match
    assert [r["id"] for r in crm.customers.find(search="ré", limit=7, offset=14)] == walked


def test_the_cli_lists_and_counts_them(people: Crm) -> None:
    rows = run_json(people.path, "customers", "list", "--search", "ém")
    assert sorted(r["name"] for r in rows) == EMILE
    rows = run_json(people.path, "customers", "list", "--search", "WEISS")
    assert sorted(r["name"] for r in rows) == JURGEN


def test_a_customers_records_are_found_by_their_own_text_folded(crm: Crm) -> None:
    bob = crm.customers.create({"name": "Bob"})
    crm.orders.create({"customer_id": bob["id"], "ordered_at": "2026-03-02", "product": "CRÈME BRÛLÉE",
                       "amount": 10})
    crm.orders.create({"customer_id": bob["id"], "ordered_at": "2026-03-03", "product": "Tea", "amount": 5})
    for query in ("crème", "creme", "CRÈ", "brûlée", "brulee", "rû"):
        assert [r["product"] for r in crm.orders.find(search=query)] == ["CRÈME BRÛLÉE"], query
        assert crm.orders.count(search=query) == 1


def test_the_pipeline_board_finds_deals_by_title_and_customer_folded(crm: Crm) -> None:
    emile = crm.customers.create({"name": "ÉMILE DURAND"})["id"]
    bob = crm.customers.create({"name": "Bob"})["id"]
    crm.opportunities.create({"customer_id": bob, "title": "Système ÉLECTRIQUE", "amount": 100})
    crm.opportunities.create({"customer_id": emile, "title": "Pumps", "amount": 50})
    crm.opportunities.create({"customer_id": bob, "title": "Tea", "amount": 5})
    for query, titles in (("électrique", ["Système ÉLECTRIQUE"]), ("SYSTEME", ["Système ÉLECTRIQUE"]),
                          ("émi", ["Pumps"]), ("EMILE", ["Pumps"])):
        cards = [card["title"] for stage in crm.pipeline.board(search=query).values() for card in stage]
        assert cards == titles, query
        assert sum(row["count"] for row in crm.pipeline.pipeline(search=query)["stages"]) == len(titles), query


def test_the_catalogue_filter_folds_alike() -> None:
    product = {"sku": "CF-1", "name": "Café Crème", "category": "Getränke", "unit": "STÜCK"}
    for query in ("café", "CAFÉ", "cafe", "creme", "getranke", "GETRÄNKE", "stück", "stuck"):
        assert product_matches(product, query), query
    assert not product_matches(product, "tea")


def test_the_fold() -> None:
    assert fold("ÉMILE") == fold("émile") == fold("Emile") == "emile"
    assert fold("Straße") == fold("STRASSE") == fold("STRAẞE") == "strasse"
    assert fold("İstanbul") == fold("ISTANBUL") == "istanbul"
    assert fold("ＺＷ１３８") == "zw138"
    assert fold("Ørsted") == "ørsted" and fold("Łódź") == "łodz"  # letters of their own stay
    assert fold("张伟 华为") == "张伟 华为"
    assert fold("がぎ") == "がぎ"  # the kana keep their dakuten
    assert normalize_query(" ＺｈａｎｇＷｅｉ ") == "zhangwei"
    assert normalize_query("０２１-２９９５ ０９６９") == "+862129950969"  # a full-width phone


def test_the_trigram_index_folds_folded_text_no_further() -> None:
    # The index folds case itself (its tokenizer's setting); on text already folded by
    # `fold` it must change nothing, or a query of 3+ characters would find what one of
    # 1-2 characters (LIKE on the same text) does not. Every character fold gives of
    # any but the caseless letters of their own (Lo: Han, kana, Arabic ...), the
    # unassigned and the private-use ones (a million, without a case to fold).
    image = sorted({c for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
                    and unicodedata.category(chr(cp)) not in ("Lo", "Cn", "Co") for c in fold(chr(cp))} - {"\0"})
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'trigram')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, row)")
    conn.executemany("INSERT INTO t VALUES (?)", [("ab" + c,) for c in image])
    terms = {r[0] for r in conn.execute("SELECT term FROM v")}
    assert len(image) > 10_000 and [c for c in image if "ab" + c not in terms] == []


CASED = st.text(st.characters(codec="utf-8", categories=["Lu", "Ll", "Lt", "Lo", "Mn", "Nd", "Zs"],
                              exclude_characters="\0"), min_size=1, max_size=12).filter(lambda s: s.strip() == s and s.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=CASED, start=st.integers(0, 11), length=st.integers(1, 5),
       case=st.sampled_from([str.upper, str.lower, str.title, str.casefold, str]))
def test_any_piece_of_a_name_finds_it_typed_in_any_case(crm: Crm, name: str, start: int, length: int,
                                                        case) -> None:
    try:
        record = crm.customers.create({"name": name})
    except ValidationError:  # a name the rules refuse is no case for search
        return
    try:
        piece = case(name[start:start + length]).strip()
        if not fold(piece).strip():
            return
        found = [r["id"] for r in crm.customers.find(search=piece)]
        if normalize_query(piece) in fold(record["name"]):  # (a run of digits may read as a phone)
            assert record["id"] in found, (name, piece)
        assert crm.customers.count(search=piece) == len(found)
        text = crm.conn.execute("SELECT text FROM customer_search_text JOIN customers USING (local_id) "
                                "WHERE id = ?", (record["id"],)).fetchone()[0]
        assert text.startswith(fold(record["name"]) + " ")  # the stored text is folded by the same rule
    finally:
        crm.customers.delete(record["id"])


ANY = st.characters(codec="utf-8", exclude_characters="\0")


@settings(max_examples=300, deadline=None)
@given(text=st.text(ANY, max_size=12), start=st.integers(0, 11), length=st.integers(1, 4),
       other=st.text(ANY, max_size=3))
def test_the_folded_sql_of_a_records_own_text_is_the_fold(text: str, start: int, length: int, other: str) -> None:
    # A complaint's description, an order's product ...: text of ASCII and Han alone is
    # compared as it is (LIKE folds A-Z), any other through search_fold(); either way
    # as `fold` makes it.
    from crm_tui.db.connection import connect

    conn = connect(":memory:")
    for piece in (text[start:start + length], text[start:start + length].upper(), other):
        query = fold(piece)
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = conn.execute(f"SELECT {sql.folded('?1')} LIKE ?2 ESCAPE '\\'", (text, pattern)).fetchone()[0]
        assert bool(found) == (query in fold(text)), (text, piece)
    conn.close()


def test_an_old_book_is_folded_on_opening(tmp_path: Path) -> None:
    # A book of the schema before the fold, written as that version's API wrote it;
    # on opening, the records whose text the fold changes are indexed anew, the others
    # not, and nothing is logged for sync (the folded text is local).
    from crm_tui.db.connection import transaction
    from crm_tui.db.migrations import _search_folded
    from crm_tui.domain.search import pinyin_key

    path = tmp_path / "old.db"
    conn = book_before(path, _search_folded)
    with transaction(conn):
        conn.executemany("INSERT INTO customers (id, name, company, pinyin) VALUES (?, ?, ?, ?)",
                         [("C1", "Émile Zola", None, ""), ("C2", "张伟", "华为", pinyin_key("张伟")),
                          ("C3", "Bob", "ÖKO GmbH", ""), ("C4", "Ann", None, "")])
        conn.execute("INSERT INTO contacts (id, customer_id, name, pinyin) VALUES ('K1', 'C4', 'ÉLODIE', '')")
        conn.execute("CREATE TABLE reindexed (local_id INTEGER)")
        conn.execute("CREATE TRIGGER reindexed AFTER UPDATE ON customer_search_text "
                     "BEGIN INSERT INTO reindexed VALUES (NEW.local_id); END")
    assert [r[0] for r in conn.execute("SELECT id FROM customers WHERE local_id IN "
                                       "(SELECT local_id FROM customer_search_text WHERE text LIKE '%ém%')")] == []
    logged = conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    conn.close()
    with Crm(path) as crm:
        assert names(crm, "ém") == names(crm, "emile") == ["Émile Zola"]
        assert names(crm, "öko") == names(crm, "ok") == ["Bob"]
        assert names(crm, "él") == names(crm, "elodie") == ["Ann"]
        assert names(crm, "张伟") == names(crm, "zw") == ["张伟"]
        local = dict(crm.conn.execute("SELECT id, local_id FROM customers"))
        assert sorted(r[0] for r in crm.conn.execute("SELECT DISTINCT local_id FROM reindexed")) == sorted(
            local[c] for c in ("C1", "C3", "C4"))
        assert crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == logged
        assert crm.conn.execute("SELECT count(*) FROM customers WHERE folded IS NULL").fetchone()[0] == 0


def test_a_row_a_script_wrote_is_folded_on_opening(tmp_path: Path) -> None:
    with Crm(tmp_path / "book.db") as crm:
        crm.customers.create({"name": "Émile"})
    conn = sqlite3.connect(tmp_path / "book.db")
    with conn:
        conn.execute("INSERT INTO customers (id, name) VALUES ('S1', 'ÉMILE SCRIPT')")
    conn.close()
    with Crm(tmp_path / "book.db") as crm:
        assert names(crm, "ém") == ["ÉMILE SCRIPT", "Émile"]
        assert not any("folded" in (r["data"] or "") for r in crm.changes())  # never synced


def test_an_erased_persons_folded_name_goes(crm: Crm) -> None:

    c = crm.customers.create({"name": "ÉLODIE ØRSTED", "company": "ØKO"})
    assert crm.conn.execute("SELECT folded FROM customers WHERE id = ?", (c["id"],)).fetchone()[0]
    crm.privacy.erase(c["id"], reason="asked")
    assert crm.conn.execute("SELECT folded FROM customers WHERE id = ?", (c["id"],)).fetchone()[0] == ""
    assert names(crm, "élodie") == names(crm, "øko") == []


@pytest.mark.anyio
async def test_the_customer_list_shows_them_and_counts_what_it_shows(people: Crm) -> None:
    import datetime as dt

    from pilot_steps import settle
    from textual.widgets import Input

    from crm_tui.app import CrmApp
    from crm_tui.widgets.record_table import RecordTable

    app = CrmApp(crm=people, config={}, lang="en", now=lambda: dt.datetime(2026, 3, 2, 9, 0))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for query, expected in (("ém", EMILE), ("ÉMILE", EMILE), ("ø", ["Jens Ørsted"]), ("weiß", JURGEN)):
            box = app.screen.query_one("#search", Input)
            box.focus()
            box.value = ""
            await settle(pilot)
            await pilot.press(*query)
            await settle(pilot)
            table = app.screen.query_one(RecordTable)
            assert sorted(r["name"] for r in table.rows_loaded()) == expected, query
            assert table.total == len(expected)
            assert f"{len(expected)} of {len(PEOPLE)}" in str(app.screen.query_one("#status-line").render()), query
