"""Search: any substring of name, company, phones and email; 1- and 2-character
Chinese queries; pinyin in full and by initials."""

from __future__ import annotations

import pytest

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
