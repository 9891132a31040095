"""Search: any substring of name, company, phones and email; 1- and 2-character
Chinese queries; pinyin in full and by initials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from old_books import book_before

from crm_tui.api import Crm
from crm_tui.domain.search import customer_pinyin, normalize_query, pinyin_key


@pytest.fixture
def people(crm: Crm) -> Crm:
    rows = [
        {"name": "张伟", "company": "华为技术有限公司", "phone": "13812345678", "email": "zw@huawei.com"},
        {"name": "张伟明", "company": "小米科技", "mobile": "15900001111"},
        {"name": "王芳", "company": "阿里巴巴", "email": "fang.wang@alibaba-inc.com"},
        {"name": "John Smith", "company": "Acme Corp", "phone": "+1 650 253 0000"},
        {"name": "李伟", "company": "腾讯"},
    ]
    for row in rows:
        crm.customers.create(row)
    return crm


def names(crm: Crm, query: str) -> list[str]:
    return sorted(r["name"] for r in crm.customers.search(query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("张伟", ["张伟", "张伟明"]),
        ("伟", ["张伟", "张伟明", "李伟"]),
        ("王", ["王芳"]),
        ("zhangwei", ["张伟", "张伟明"]),
        ("zw", ["张伟", "张伟明"]),
        ("ZW", ["张伟", "张伟明"]),
        ("wf", ["王芳"]),
        ("1381234", ["张伟"]),
        ("138 1234 5678", ["张伟"]),
        ("2530000", ["John Smith"]),
        ("0000", ["John Smith", "张伟明"]),
        ("alibaba", ["王芳"]),
        ("smi", ["John Smith"]),
        ("acme", ["John Smith"]),
        ("华为", ["张伟"]),
        ("有限公司", ["张伟"]),
        ("nobody", []),
    ],
)
def test_search_finds_substrings_and_pinyin(people: Crm, query: str, expected: list[str]) -> None:
    assert names(people, query) == expected


def test_search_follows_edits_in_the_same_transaction(people: Crm) -> None:
    c = people.customers.search("王芳")[0]
    people.customers.update(c["id"], {"name": "王丽"})
    assert names(people, "王芳") == []
    assert names(people, "wl") == ["王丽"]
    people.customers.delete(c["id"])
    assert names(people, "王丽") == []


def test_search_counts_and_combines_with_filters(people: Crm) -> None:
    assert people.customers.count(search="伟") == 3
    assert people.customers.count(search="") == 5


def test_quotes_and_operators_in_a_query_are_plain_text(people: Crm) -> None:
    for query in ('"', 'a"b', "AND", "*", "NEAR(", "%", "_"):
        assert isinstance(people.customers.search(query), list)


def test_pinyin_keys() -> None:
    assert pinyin_key("张伟") == "zhangwei zw"
    assert pinyin_key("Smith") == ""
    assert customer_pinyin("张伟") == "zhangwei zw"
    assert customer_pinyin("Bob") == ""
    assert normalize_query(" 138-1234 ") == "1381234"
    assert normalize_query("ZhangWei") == "zhangwei"


# Names whose characters pypinyin's phrase dictionary reads as a phrase: as names,
# each character keeps its own reading (柏 Bai, not Berlin's bo; 殷红 is not "dark red").
NAMES_NOT_PHRASES = {"柏林": "bailin bl", "殷红霞": "yinhongxia yhx", "张朝阳": "zhangchaoyang zcy",
                     "牟平": "mouping mp"}


def test_a_name_is_read_character_by_character(crm: Crm) -> None:
    assert {name: pinyin_key(name) for name in NAMES_NOT_PHRASES} == NAMES_NOT_PHRASES
    crm.customers.create({"name": "张朝阳"})
    crm.contacts.create({"customer_id": crm.customers.create({"name": "Acme"})["id"], "name": "柏林"})
    assert names(crm, "chaoyang") == names(crm, "zcy") == ["张朝阳"]
    assert names(crm, "bailin") == ["Acme"]
    assert names(crm, "zhaoyang") == names(crm, "bolin") == []


def in_a_fresh_interpreter(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYPINYIN_NO_PHRASES"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_pypinyin_is_loaded_without_its_phrase_dictionary() -> None:
    # Three quarters of its import; the environment is left as it was.
    out = in_a_fresh_interpreter(
        "import os, sys\n"
        "from crm_tui.domain.search import pinyin_key\n"
        "print(pinyin_key('张伟'), 'pypinyin' in sys.modules, 'pypinyin.phrases_dict' in sys.modules,\n"
        "      os.environ.get('PYPINYIN_NO_PHRASES'))")
    assert out.split() == ["zhangwei", "zw", "True", "False", "None"]


def test_the_keys_are_the_same_when_pypinyin_has_its_phrases() -> None:
    # A user's script (or another library) may have imported pypinyin with them first.
    out = in_a_fresh_interpreter(
        "import json, sys, pypinyin\n"
        "from crm_tui.domain.search import pinyin_key\n"
        f"print('pypinyin.phrases_dict' in sys.modules, json.dumps([pinyin_key(n) for n in {list(NAMES_NOT_PHRASES)!r}]))")
    loaded, keys = out.split(" ", 1)
    assert loaded == "True"
    assert json.loads(keys) == list(NAMES_NOT_PHRASES.values())


def test_keys_made_the_old_way_are_made_anew_on_opening(tmp_path: Path) -> None:
    # A database of the schema before the rules' versions, holding keys read by phrase
    # (柏林 'bolin'), as that version's API wrote them.
    from crm_tui.db.connection import transaction
    from crm_tui.db.migrations import _derived_versions

    path = tmp_path / "old.db"
    conn = book_before(path, _derived_versions)
    with transaction(conn):
        conn.execute("INSERT INTO customers (id, name, pinyin) VALUES ('C1', '柏林', 'bolin bl'), "
                     "('C2', 'Bob', ''), ('C3', '张朝阳', 'zhangzhaoyang zzy'), ('C4', '张伟', 'zhangwei zw')")
        conn.execute("INSERT INTO contacts (id, customer_id, name, pinyin) VALUES ('K1', 'C2', '殷红霞', 'yanhongxia yhx')")
        # Which keys are written again: only those the new rule makes otherwise.
        conn.execute("CREATE TABLE rewritten (id TEXT)")
        for table in ("customers", "contacts"):
            conn.execute(f"CREATE TRIGGER {table}_rewritten AFTER UPDATE OF pinyin ON {table} "
                         "BEGIN INSERT INTO rewritten VALUES (NEW.id); END")
    logged = conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    conn.close()
    with Crm(path) as crm:
        keys = dict(crm.conn.execute("SELECT id, pinyin FROM customers UNION ALL SELECT id, pinyin FROM contacts"))
        assert keys == {"C1": "bailin bl", "C2": "", "C3": "zhangchaoyang zcy", "C4": "zhangwei zw",
                        "K1": "yinhongxia yhx"}
        assert sorted(r[0] for r in crm.conn.execute("SELECT id FROM rewritten")) == ["C1", "C3", "K1"]
        assert names(crm, "bailin") == ["柏林"] and names(crm, "bolin") == []
        assert names(crm, "yinhong") == ["Bob"] and names(crm, "yanhong") == []
        assert names(crm, "zcy") == ["张朝阳"] and names(crm, "zzy") == []
        assert crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == logged  # local only
    with Crm(path) as crm:  # once: the rule's version is recorded
        assert crm.conn.execute("SELECT count(*) FROM rewritten").fetchone()[0] == 3


def test_a_new_database_holds_keys_of_the_rules_it_has(tmp_path: Path) -> None:
    # Made at the current versions: nothing to make anew when it is opened again.
    from crm_tui.domain.entities import ENTITIES

    with Crm(tmp_path / "new.db") as crm:
        versions = {tuple(r) for r in crm.conn.execute("SELECT tbl, col, version FROM derived_versions")}
    assert versions == {(e.table, d.column, d.version) for e in ENTITIES.values() for d in e.derived}
    assert ("customers", "pinyin", 2) in versions


def test_count_after_a_page_follows_new_writes(people: Crm) -> None:
    assert len(people.customers.find(search="伟", limit=2)) == 2
    assert people.customers.count(search="伟") == 3
    people.customers.create({"name": "陈伟"})
    assert people.customers.count(search="伟") == 4
    people.customers.find(search="伟", limit=1)
    assert people.customers.count(search="伟") == 4


def test_search_survives_vacuum(people: Crm) -> None:
    # VACUUM may renumber implicit rowids; the index points at an explicit one
    for record in people.customers.find(search="张"):
        people.customers.delete(record["id"])
    people.conn.execute("VACUUM")
    assert names(people, "李伟") == ["李伟"]
    assert names(people, "wf") == ["王芳"]
    assert names(people, "alibaba") == ["王芳"]


def test_wildcards_in_short_queries_are_literal(crm: Crm) -> None:
    crm.customers.create({"name": "Under_Score"})
    crm.customers.create({"name": "Percent"})
    assert names(crm, "_") == ["Under_Score"]
    assert names(crm, "%") == []
    assert names(crm, "e_") == []
    assert names(crm, "r_") == ["Under_Score"]


def test_walking_and_sorting_plans_give_the_same_pages(crm: Crm, monkeypatch) -> None:
    from crm_tui.db import records as sql

    for i in range(30):
        crm.customers.create({"name": f"客户{i:02d}", "mobile": f"1391234{i:04d}"})
    crm.customers.create({"name": "张伟", "mobile": "13700000000"})
    queries = [(q, order, offset) for q in ("13", "1", "kh", "zw", "客户1")
               for order in (None, "name", "-name", "mobile") for offset in (0, 5, 29)]
    walked = {k: [r["id"] for r in crm.customers.find(search=k[0], order=k[1], limit=7, offset=k[2])]
              for k in queries}
    monkeypatch.setattr(sql, "_walk", lambda *args: None)  # always sort the matches
    for (query, order, offset), ids in walked.items():
        assert [r["id"] for r in crm.customers.find(search=query, order=order, limit=7, offset=offset)] == ids
    assert crm.customers.count(search="13") == 31


def test_chinese_names_sort_by_pinyin_among_english_ones(crm: Crm) -> None:
    for name in ("张伟", "Bob", "安娜", "王芳", "alice", "丁一"):
        crm.customers.create({"name": name})
    assert [r["name"] for r in crm.customers.find()] == ["alice", "安娜", "Bob", "丁一", "王芳", "张伟"]
    assert [r["name"] for r in crm.customers.find(order="-name")][0] == "张伟"


def test_the_index_made_again_without_sizes_finds_what_it_found(tmp_path: Path) -> None:
    # A book of the schema before the index lost its token counts, searched before
    # and after the migration that makes the index again: the same matches, the
    # same trigrams at the same places, and no table of counts any more.
    from crm_tui.db.connection import transaction
    from crm_tui.db.migrations import _search_without_sizes

    path = tmp_path / "old.db"
    conn = book_before(path, _search_without_sizes)
    rows = [("C1", "张伟", "华为技术有限公司", "13812345678", "zw@huawei.com"),
            ("C2", "张伟明", "小米科技", "15900001111", None),
            ("C3", "王芳", "阿里巴巴", None, "fang.wang@alibaba-inc.com"),
            ("C4", "John Smith", "Acme Corp", "16502530000", None),
            ("C5", "李伟", "腾讯", None, None), ("C6", "赵敏", "已删除", "13900000000", None)]
    with transaction(conn):
        conn.executemany("INSERT INTO customers (id, name, company, mobile, email, pinyin) VALUES (?, ?, ?, ?, ?, ?)",
                         [(*row, pinyin_key(row[1])) for row in rows])
        conn.execute("UPDATE customers SET name = '王丽', pinyin = ? WHERE id = 'C3'", (pinyin_key("王丽"),))
        conn.execute("DELETE FROM customers WHERE id = 'C6'")
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'customer_search_docsize'").fetchone()[0] == 1

    def trigrams(db) -> list:
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.trigrams USING fts5vocab(main, customer_search, instance)")
        return db.execute("SELECT term, doc, col, offset FROM temp.trigrams ORDER BY 1, 2, 4").fetchall()

    queries = ["张伟", "伟", "zhangwei", "zw", "wl", "王丽", "王芳", "1381234", "0000", "alibaba", "smi",
               "有限公司", "赵敏", "139000", "nobody"]

    def found(db) -> dict[str, list[str]]:
        from crm_tui.db.records import customer_matches

        out = {}
        for query in queries:
            sql, params = customer_matches(normalize_query(query))
            out[query] = sorted(r[0] for r in db.execute(
                f"SELECT name FROM customers WHERE local_id IN ({sql})", params))
        return out

    before_trigrams, before = trigrams(conn), found(conn)
    conn.close()
    assert before["张伟"] == ["张伟", "张伟明"] and before["zw"] == ["张伟", "张伟明"] and before["赵敏"] == []
    assert before["1381234"] == ["张伟"] and before["alibaba"] == ["王丽"] and before["王芳"] == []
    with Crm(path) as crm:
        assert "columnsize = 0" in crm.conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'customer_search'").fetchone()[0]
        assert crm.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'customer_search_docsize'").fetchone()[0] == 0
        assert trigrams(crm.conn) == before_trigrams
        assert found(crm.conn) == before
        crm.conn.execute("INSERT INTO customer_search (customer_search) VALUES ('integrity-check')")
        # The triggers keep the made-again index as they kept the old one.
        crm.customers.update("C1", {"name": "张三"})
        crm.customers.delete("C2")
        assert names(crm, "张伟") == [] and names(crm, "zhangwei") == [] and names(crm, "zhangsan") == ["张三"]
        assert names(crm, "华为技术") == ["张三"]
        crm.conn.execute("INSERT INTO customer_search (customer_search) VALUES ('integrity-check')")
