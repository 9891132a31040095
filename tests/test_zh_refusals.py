"""The sync server says why it refused something in the language the laptop asks for
(issue 14, item 2: "sync and login messages" in Chinese): each pushed change it
refuses, and each whole request (a bad token, a malformed or oversized body, a rep
over the rate limit). Requests written by hand with httpx, as another client would,
against a real `crm server serve` on 127.0.0.1 (SQLite and PostgreSQL); then a rep's
story under CRM_LANG=zh through the real CLI and the UI; and a scan that fails when
a refusal's text is written in code instead of the catalog."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_server import Rep, Server, runner
from test_sync_attacks import MALFORMED, head
from test_sync_poison import NOW, inject
from test_zh_everywhere import CJK, english_fragments_in, without

from crm_tui import i18n
from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app
from crm_tui.screens.conflicts import ConflictsScreen
from crm_tui.sync import clock

ROOT = Path(__file__).resolve().parents[1]


def update_of(customer: str, *, node: str = "hand-1", node_seq: int = 1, **data: Any) -> dict[str, Any]:
    """A push of one edit of `customer`, as a client would write it by hand."""
    hlc = clock.pack(clock.now_ms(), 0)
    return {"node": node, "changes": [{"node": node, "node_seq": node_seq, "hlc": hlc, "tbl": "customers",
                                       "row_id": customer, "op": "update", "data": data}]}


def push(srv: Server, token: str, body: dict[str, Any], lang: str | None) -> httpx.Response:
    headers = head(token) if lang is None else {**head(token), "Accept-Language": lang}
    return httpx.post(srv.url + "/v1/push", headers=headers, json=body, timeout=30)


def chinese(text: str, *own: str) -> bool:
    """Whether `text` is said in Chinese: Chinese words, and no English text of the
    catalog once the values it names (ids, names, codes) are left out."""
    left = without(text, list(own))
    return bool(CJK.search(left)) and english_fragments_in(left) == []


def test_a_refused_change_is_explained_in_the_language_the_push_asks_for(server: Server,  # noqa: F811
                                                                        tmp_path: Path) -> None:
    li = Rep(tmp_path, "li")
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "west"))
    theirs = li.json("customers", "add", "--name", "李娜", "--territory", "west")["id"]
    li.crm("sync")
    wang = server.add_rep("wang", "--territory", "east")

    # Another rep's customer, changed by wang's own hand-written client.
    answers = {}
    for seq, lang in enumerate(["zh", "zh-CN, en;q=0.5", None, "fr", "en;q=0.2, zh;q=0.9", "*"], 1):
        r = push(server, wang, update_of(theirs, node_seq=seq, notes="改一下"), lang)
        assert r.status_code == 403, r.text
        refused = r.json()["refused"]
        assert [(c["node_seq"], c["code"]) for c in refused] == [(seq, "forbidden")]
        answers[lang] = (refused[0]["reason"], r.json()["message"], r.headers.get("content-language"))

    for lang in ("zh", "zh-CN, en;q=0.5", "en;q=0.2, zh;q=0.9"):
        reason, message, said_in = answers[lang]
        assert said_in == "zh", lang
        assert chinese(reason, theirs[:26], "li", "west"), reason
        assert "不是您的" in reason and theirs[:26] in reason and "li" in reason
        assert chinese(message, theirs[:26], "li", "west", "customers"), message
    for lang in (None, "fr", "*"):  # no header, or no language the catalog has: English
        reason, message, said_in = answers[lang]
        assert said_in == "en" and not CJK.search(reason + message), (lang, reason)
        assert f"customer {theirs[:26]} belongs to li in territory west: not yours to change" == reason

    # A value refused: the Chinese reason names the field by its label and quotes the value.
    r = push(server, wang, update_of(theirs, node_seq=7, email="not-an-email"), "zh")
    reason = r.json()["refused"][0]["reason"]
    assert reason.startswith("邮箱（email）：") and "'not-an-email'" in reason, reason

    # What the server keeps (its audit) is in its own language (English here) and
    # never quotes the refused value.
    result = runner.invoke(app, ["server", "audit", "--kind", "refused", "--json", "--db", server.url_db])
    assert result.exit_code == 0, result.output
    kept = [json.loads(e["detail"])["reason"] if isinstance(e["detail"], str) else e["detail"]["reason"]
            for e in json.loads(result.stdout)]
    assert len(kept) == 7 and not any(CJK.search(k) for k in kept), kept
    assert "email: not a valid email address (the value is not kept)" in kept
    assert not any("not-an-email" in k for k in kept)


def test_whole_requests_refused_in_the_language_they_ask_for(server: Server) -> None:  # noqa: F811
    token = server.add_rep("wang", "--territory", "east")
    zh = {"Accept-Language": "zh-CN"}
    url = server.url

    def said(r: httpx.Response, *own: str) -> str:
        message = r.json()["message"]
        assert r.status_code >= 400 and r.headers["content-language"] == "zh", r.text
        assert chinese(message, *own), (r.status_code, message)
        return message

    said(httpx.get(url + "/v1/hello", headers={**head(token), **zh, "Authorization": "Bearer nope"}))
    said(httpx.get(url + "/v1/hello", headers={k: v for k, v in {**head(token), **zh}.items()
                                               if k != "Authorization"}), "URL", "TOKEN")
    said(httpx.get(url + "/v1/hello", headers={**head(token), **zh, "X-CRM-Protocol": "1"}), "crm_tui")
    said(httpx.get(url + "/v1/nowhere", headers={**head(token), **zh}), "/v1/nowhere")
    said(httpx.get(url + "/v1/push", headers={**head(token), **zh}), "/v1/push", "GET")
    many = {"node": "n1", "changes": [{}] * 2001}
    said(httpx.post(url + "/v1/push", headers={**head(token), **zh}, json=many, timeout=30))
    other = dict(update_of("x", node="n2"), node="n1")
    said(httpx.post(url + "/v1/push", headers={**head(token), **zh}, json=other), "n2:1", "n1")
    ahead = update_of("x", node="n3")
    ahead["changes"][0]["hlc"] = clock.pack(clock.now_ms() + 3_600_000, 0)
    said(httpx.post(url + "/v1/push", headers={**head(token), **zh}, json=ahead))
    for body, what in MALFORMED:
        r = httpx.post(url + "/v1/pull", headers={**head(token), **zh, "Content-Type": "application/json"},
                       content=body, timeout=30)
        assert r.status_code in (400, 413), what
        said(r, "JSON", "UTF-8", "NaN", "true", "false", "after", "node", "extra", "9223372036854775808",
             "1e400", "64")
    # The same in English when nothing is asked for.
    r = httpx.get(url + "/v1/hello", headers={**head(token), "Authorization": "Bearer nope"})
    assert r.headers["content-language"] == "en" and "unknown token" in r.json()["message"]


def test_a_reps_refused_change_is_explained_in_chinese_in_the_cli_and_the_ui(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """wang works in Chinese against a server that speaks English: he adds a customer
    in a territory that is not his, syncs, and reads why in Chinese, in `crm sync`,
    `crm sync rejected` and on the refused changes' screen."""
    wang = Rep(tmp_path, "wang")
    wang.env["CRM_LANG"] = "zh"
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    west = wang.json("customers", "add", "--name", "西部客户", "--territory", "west")["id"]

    said = wang.crm("sync")
    assert CJK.search(said) and english_fragments_in(said) == [], said
    rows = wang.json("sync", "rejected")
    assert [(r["code"], r["record"]) for r in rows] == [("forbidden", "西部客户")]
    assert rows[0]["reason"] == "片区 west 不是您的片区", rows[0]["reason"]
    table = wang.crm("sync", "rejected")
    assert "片区 west 不是您的片区" in table and english_fragments_in(without(table, [west[:10]])) == [], table

    monkeypatch.setenv("CRM_LANG", "zh")
    with Crm(wang.env["CRM_DB"]) as crm:
        assert crm.sync.status()["rejected"] == 1
    import asyncio

    async def look() -> str:
        ui = CrmApp(wang.env["CRM_DB"], config={}, lang="zh")
        async with ui.run_test(size=(120, 40)) as pilot:
            screen = ConflictsScreen()
            await ui.push_screen(screen)
            for _ in range(200):
                await pilot.pause(0.05)
                if screen.rejected:
                    break
            table = screen.query_one("#rejected-table")
            return " ".join(str(cell) for cell in table.get_row_at(0))  # type: ignore[attr-defined]

    shown = asyncio.run(look())
    assert "片区 west 不是您的片区" in shown, shown


def test_a_sync_error_in_the_servers_own_words_when_it_speaks_the_reps_language(
        server: Server, tmp_path: Path) -> None:  # noqa: F811
    """A revoked token: the Chinese answer keeps what the server knows (whose token,
    since when) instead of the laptop's general sentence for the error."""
    wang = Rep(tmp_path, "wang")
    wang.env["CRM_LANG"] = "zh"
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang"))
    assert runner.invoke(app, ["server", "revoke-rep", "wang", "--db", server.url_db]).exit_code == 0
    result = runner.invoke(app, ["sync"], env=wang.env)
    assert result.exit_code == 1
    assert "业务员 'wang' 的令牌已于" in result.output and "被吊销" in result.output, result.output


def test_pulled_changes_set_aside_say_why_in_chinese(server: Server, tmp_path: Path) -> None:  # noqa: F811
    """Changes no laptop can apply, in the server's log as an older server stored them:
    a rep working in Chinese reads why each was set aside in Chinese (the database and
    Python say it in English)."""
    wang = Rep(tmp_path, "wang")
    wang.env["CRM_LANG"] = "zh"
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--role", "manager"))
    before = wang.json("customers", "add", "--name", "张伟")["id"]
    wang.crm("sync")
    poison = [
        ("visits", "V-orphan", "insert", json.dumps({"customer_id": "nobody", "visited_at": "2025-03-01T00:00:00",
                                                     "channel": "phone", "purpose": "visit"})),
        ("customers", "C-null", "insert", json.dumps({"name": None, "created_at": NOW, "updated_at": NOW})),
        ("customers", "C-list", "insert", json.dumps({"name": "列表", "tags": ["a", "b"]})),
        ("orders", "O-huge", "insert", json.dumps({"customer_id": before, "ordered_at": "2025-03-01",
                                                   "product": "tea", "quantity": 2**70, "amount": 1})),
        ("orders", "O-nan", "insert", json.dumps({"customer_id": before, "ordered_at": "2025-03-01",
                                                  "product": "tea", "amount": float("nan")})),
        ("customers", before, "update", json.dumps({'no"tes': "a key with a quote"})),
        ("customers", "C-surrogate", "insert", '{"name": "bad \\ud800 text"}'),
        ("zzz", "Z1", "insert", json.dumps({"anything": 1})),
        ("customers", "C-notdict", "insert", json.dumps(["not", "an", "object"])),
        ("customers", "C-badop", "upsert", json.dumps({"name": "x"})),
    ]
    inject(server.url_db, poison)
    said = wang.crm("sync")
    assert CJK.search(said) and english_fragments_in(said) == [], said
    rows = wang.json("sync", "set-aside")
    assert len(rows) == len(poison)
    own = ["V-orphan", "nobody", "customers", "visits", "orders", "zzz", "customer_id", "tags", "quantity", "amount",
           'no"tes', "name", "crm_tui", "upsert", "NOT NULL", "FOREIGN KEY", "base", "old", "node_seq", "row_id"]
    for r in rows:
        assert chinese(r["reason"], *own), (r["row_id"], r["reason"])
    reasons = {r["row_id"] or r["tbl"]: r["reason"] for r in rows}
    assert reasons["V-orphan"] == "visits.customer_id：本机没有客户 'nobody'", reasons["V-orphan"]
    assert reasons["C-list"] == "customers.tags 是列表，不是单个值", reasons["C-list"]


def test_a_server_that_cannot_be_reached_is_named_with_the_reason_in_chinese(tmp_path: Path) -> None:
    """Nothing listens on the port (loopback): the rep reads which server and why, in
    Chinese, from `crm login` and `crm sync` (not only the general sentence)."""
    wang = Rep(tmp_path, "wang")
    wang.env["CRM_LANG"] = "zh"
    closed = "http://127.0.0.1:9"
    saved = runner.invoke(app, ["login", "--server", closed, "--token", "t"], env=wang.env)
    failed = runner.invoke(app, ["sync"], env=wang.env)
    assert saved.exit_code == 0 and failed.exit_code == 1
    for result in (saved, failed):
        assert f"无法连接同步服务器 {closed}：该地址和端口无人应答" in result.output, result.output
        assert english_fragments_in(result.output) == [], result.output
    wang.env["CRM_LANG"] = "en"
    failed = runner.invoke(app, ["sync"], env=wang.env)
    assert f"cannot reach the sync server {closed}: nothing answers" in failed.output, failed.output


# -- every refusal's text comes from the catalog -------------------------------------------

# The functions that make a refusal: what they are given must be catalog texts, never
# text written in the code.
REFUSERS = {"ChangeRefused", "refused", "_invalid", "_forbidden", "_bad_value", "Refusal", "ProtocolError",
            "SequenceGap", "ChangeMismatch", "NodeTaken", "StoreError", "ValueError", "Unreadable"}
MODULES = ["crm_tui/domain/changes.py", "crm_tui/sync/server/judge.py", "crm_tui/sync/server/app.py",
           "crm_tui/sync/server/store.py", "crm_tui/sync/server/sqlite_store.py", "crm_tui/sync/server/pg_store.py"]


def texts_in_code(source: str, *, returned: bool = False) -> list[str]:
    """Texts written in code (an f-string, or a string with words) given to a refusal,
    and with `returned`, returned (a reason a check returns)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if returned and isinstance(node, ast.Return) and node.value is not None:
            name, args = "return", [node.value]
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            args = [*node.args, *(k.value for k in node.keywords)]
        else:
            continue
        if name not in REFUSERS | {"return"}:
            continue
        for arg in args:
            inside_fstrings = {id(c) for j in ast.walk(arg) if isinstance(j, ast.JoinedStr) for c in ast.walk(j)}
            for part in ast.walk(arg):
                if isinstance(part, ast.JoinedStr) and id(part) not in inside_fstrings - {id(part)}:
                    words = "".join(v.value for v in part.values if isinstance(v, ast.Constant))
                    if re.search(r"[A-Za-z]{2,}\s", words):  # words; not a key or a number's format
                        found.append(f"{name}: {ast.unparse(part)[:80]}")
                elif isinstance(part, ast.Constant) and isinstance(part.value, str) and id(part) not in inside_fstrings \
                        and re.search(r"[A-Za-z]{2,}\s+[A-Za-z]", part.value):
                    found.append(f"{name}: {ast.unparse(part)[:80]}")
    return found


# Where a laptop says why it set a pulled change aside: the reasons its checks return.
SET_ASIDE = "crm_tui/api/sync_apply.py"


def test_no_refusal_text_is_written_in_code() -> None:
    leftovers = {m: texts_in_code((ROOT / m).read_text(encoding="utf-8")) for m in MODULES}
    leftovers[SET_ASIDE] = texts_in_code((ROOT / SET_ASIDE).read_text(encoding="utf-8"), returned=True)
    assert {m: found for m, found in leftovers.items() if found} == {}


def test_the_scan_finds_a_refusal_written_in_code() -> None:
    """The scan above is not vacuous."""
    code = ('raise ChangeRefused(FORBIDDEN, f"only a manager changes {x}")\n'
            'raise _invalid(lambda: "data: must be an object")\n'
            'raise ProtocolError(BAD_REQUEST, t("refusal.request.body"))\n'
            'def check():\n    return INVALID, f"{tbl}.{name} is not stored"\n')
    assert len(texts_in_code(code)) == 2 and len(texts_in_code(code, returned=True)) == 3


def test_a_push_refusal_is_kept_in_the_servers_language_and_told_in_the_askers() -> None:
    """The pure part: the judge's reason in the language spoken, what is kept in the
    process's own (the server's), whatever the request asks."""
    from crm_tui.domain.changes import Actor, ChangeRefused, Place, check_access

    i18n.set_language("en")
    with i18n.speaking("zh"), pytest.raises(ChangeRefused) as refused:
        check_access(Actor("wang", "rep"), "customers", "update", "c1", {"notes": "x"},
                     place=lambda c: Place("li", "west"), customer_of=lambda t, r: None)
    assert refused.value.reason == "客户 c1 属于 li，片区 west：不是您的，不能修改"
    assert refused.value.kept == "customer c1 belongs to li in territory west: not yours to change"
    assert i18n.language() == "en"


@pytest.mark.parametrize(("lang", "said"), [("en", "customer c1 belongs to li, in no territory: not yours to change"),
                                            ("zh", "客户 c1 属于 li，不在任何片区：不是您的，不能修改")])
def test_a_customer_of_no_territory_is_said_to_be_in_none(lang: str, said: str) -> None:
    """A refusal about a customer with no territory read 'in territory none' / '片区 无'."""
    from crm_tui.domain.changes import Actor, ChangeRefused, Place, check_access

    with i18n.speaking(lang), pytest.raises(ChangeRefused) as refused:
        check_access(Actor("wang", "rep", frozenset({"east"})), "customers", "update", "c1", {"notes": "x"},
                     place=lambda c: Place("li", None), customer_of=lambda t, r: None)
    assert refused.value.reason == said
