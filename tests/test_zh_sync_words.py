"""One Chinese word for each direction of a sync: `crm sync` said 已推送 0 条修改，拉取
0 条 where the terminal UI's F9 (and its status bar, the set-aside notices and the
server's log) said 上传 / 下载. The glossary names neither; the catalog says 上传
(upload) and 下载 (download), the words a rep uses for a file, rather than 推送 / 拉取,
a developer's (git's) words; the CLI, the UI and the help say the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_steps import settle, wait_for
from sync_server import Rep, Server
from textual.widgets._toast import Toast

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.config import Config
from crm_tui.i18n import catalog

UPLOAD, DOWNLOAD = "上传", "下载"
OTHER_WORDS = ("推送", "拉取")


def test_no_chinese_text_calls_a_sync_direction_by_another_word() -> None:
    zh = catalog("zh")
    assert (zh["server.kind.push"], zh["server.kind.pull"]) == (UPLOAD, DOWNLOAD)
    others = {key: text for key, text in zh.items() if any(word in text for word in OTHER_WORDS)}
    assert others == {}


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Rep]:
    server = Server(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        wang = Rep(tmp_path, "wang")
        wang.env["CRM_LANG"] = "zh"
        wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--role", "manager"))
        yield wang
    finally:
        server.stop()


@pytest.mark.anyio
async def test_crm_sync_and_f9_say_the_same_words(laptop: Rep) -> None:
    laptop.crm("customers", "add", "--name", "王芳")
    said = " ".join(laptop.crm("sync").split())
    assert "已上传 1 条修改，下载 0 条" in said, said
    laptop.crm("customers", "add", "--name", "李强")
    crm = Crm(laptop.env["CRM_DB"], config=Config.load(laptop.env["CRM_CONFIG"]))
    try:
        app = CrmApp(crm=crm, config={}, lang="zh")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("f9")

            def told() -> str:
                return " ".join(" ".join(toast.render().plain.split()) for toast in app.screen.query(Toast))

            await wait_for(pilot, lambda: DOWNLOAD in told(), "the sync's outcome shown")
            shown = told()
    finally:
        crm.close()
    assert f"{UPLOAD} 1，{DOWNLOAD} 0" in shown, shown
    assert not any(word in shown + said for word in OTHER_WORDS)
