"""Defects a sales team of two reps and a manager met in a trial from a fresh clone:
a real `crm server serve` process on 127.0.0.1, each laptop with its own database,
driven through the real CLI (and the real app with Pilot), in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_steps import settle, wait_for
from sync_server import Rep, Server
from textual.widgets import DataTable
from textual.widgets._toast import Toast

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.config import Config


@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[Server, dict[str, Rep]]]:
    """A server on SQLite with wang and li (reps of the east) and boss (a manager),
    each logged in on a laptop of their own; wang's customer 张伟 synced to all."""
    srv = Server(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        tokens = {"wang": srv.add_rep("wang", "--territory", "east"),
                  "li": srv.add_rep("li", "--territory", "west"),
                  "boss": srv.add_rep("boss", "--role", "manager")}
        laptops = {name: Rep(tmp_path, name) for name in tokens}
        for name, laptop in laptops.items():
            laptop.crm("login", "--server", srv.url, "--token", tokens[name])
        yield srv, laptops
    finally:
        srv.stop()


def reassign_to_li(laptops: dict[str, Rep]) -> str:
    """wang's customer 张伟 (with another, 李四, that stays his) is given to li by the
    manager; returns 张伟's id. wang has not synced since."""
    wang, boss = laptops["wang"], laptops["boss"]
    cid = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]  # type: ignore[index]
    wang.json("customers", "add", "--name", "李四", "--territory", "east")
    wang.crm("sync")
    boss.crm("sync")
    boss.crm("customers", "edit", cid, "--owner", "li", "--territory", "west")
    boss.crm("sync")
    return cid


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_crm_sync_says_how_many_customers_left_the_laptop(team: tuple[Server, dict[str, Rep]], lang: str) -> None:
    """A customer reassigned to another rep left wang's laptop at his sync, and
    `crm sync` said only "pushed 0 changes, pulled 0": the customer vanished without a
    word (only --json had `gone`), though docs/sync.md says crm sync says how many."""
    _, laptops = team
    wang = laptops["wang"]
    cid = reassign_to_li(laptops)
    wang.env["CRM_LANG"] = lang
    said = wang.crm("sync")
    assert [c["name"] for c in wang.json("customers", "list")] == ["李四"]  # type: ignore[index]
    assert cid not in wang.crm("customers", "list", "--json")
    expected = {"en": "1 customer left your view and was removed from this laptop",
                "zh": "1 位客户已不在你的范围内，已从本机移除"}[lang]
    assert expected in " ".join(said.split()), said


@pytest.mark.anyio
@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_apps_sync_says_how_many_customers_left_the_laptop(team: tuple[Server, dict[str, Rep]],
                                                                    lang: str) -> None:
    """The same on F9 in the terminal UI: its notice said "pushed 0, pulled 0" while a
    customer left the list."""
    _, laptops = team
    wang = laptops["wang"]
    reassign_to_li(laptops)
    crm = Crm(wang.env["CRM_DB"], config=Config.load(wang.env["CRM_CONFIG"]))
    try:
        app = CrmApp(crm=crm, config={}, lang=lang)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("f9")

            def told() -> str:
                return " ".join(" ".join(toast.render().plain.split()) for toast in app.screen.query(Toast))

            # the sync runs in a thread worker; its outcome comes after "syncing…"
            await wait_for(pilot, lambda: "pushed" in told() or "上传" in told(), "the sync's outcome shown")
            assert crm.customers.count() == 1
            shown = told()
    finally:
        crm.close()
    expected = {"en": "1 customer left your view and was removed from this laptop",
                "zh": "1 位客户已不在你的范围内，已从本机移除"}[lang]
    assert expected in shown, shown


def refused_after_reassign(laptops: dict[str, Rep]) -> str:
    """wang notes on 张伟 while the manager gives it to li: the note arrives after the
    customer left wang's view and is refused; 张伟 leaves wang's laptop."""
    wang = laptops["wang"]
    cid = reassign_to_li(laptops)
    wang.crm("customers", "edit", cid, "--notes", "见面聊了预算")
    wang.crm("sync")
    return cid


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_refused_change_of_a_customer_that_left_the_laptop_is_not_called_deleted(
        team: tuple[Server, dict[str, Rep]], lang: str) -> None:
    """`crm sync rejected` called 张伟 "customer 01M8WFDBBZ (deleted)" / "（已删除）",
    though nobody deleted it (it was given to li), and listed the fields as stored
    columns, the bookkeeping one too: "notes, updated_at"."""
    _, laptops = team
    wang = laptops["wang"]
    cid = refused_after_reassign(laptops)
    wang.env["CRM_LANG"] = lang
    rows = wang.json("sync", "rejected")
    assert len(rows) == 1 and rows[0]["row_id"] == cid  # type: ignore[index,arg-type]
    shown = " ".join(wang.crm("sync", "rejected").split())
    record = {"en": f"customer {cid[:10]} (no longer on this laptop)", "zh": f"客户 {cid[:10]}（已不在本机）"}[lang]
    assert rows[0]["record"] == record, rows  # type: ignore[index]
    assert rows[0]["fields"] == {"en": "Notes", "zh": "备注"}[lang], rows  # type: ignore[index]
    assert "deleted" not in shown and "已删除" not in shown and "updated_at" not in shown, shown


@pytest.mark.anyio
@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_conflicts_screen_shows_the_same_words_for_that_refused_change(
        team: tuple[Server, dict[str, Rep]], lang: str) -> None:
    _, laptops = team
    wang = laptops["wang"]
    cid = refused_after_reassign(laptops)
    crm = Crm(wang.env["CRM_DB"], config=Config.load(wang.env["CRM_CONFIG"]))
    try:
        app = CrmApp(crm=crm, config={}, lang=lang)
        async with app.run_test(size=(200, 50)) as pilot:
            await settle(pilot)
            await pilot.press("f7")
            await settle(pilot)
            table = app.screen.query_one("#rejected-table", DataTable)
            shown = [str(cell) for cell in table.get_row_at(0)]
    finally:
        crm.close()
    record = {"en": f"customer {cid[:10]} (no longer on this laptop)", "zh": f"客户 {cid[:10]}（已不在本机）"}[lang]
    assert shown[1] == record and shown[3] == {"en": "Notes", "zh": "备注"}[lang], shown
