"""The README's walk-through, as a new user follows it: in a fresh home, the first
command (`crm demo`), then every `crm` example of the Usage section in the order the
README shows them, each asserted to exit 0 and print something. An example the README
gains later runs here too; one that needs a file or an id gets it below.

Only what a reader fills in is substituted: ids (`01J…`, `ID`), the token, the port
(a free one instead of 8765), and the files the examples import. `crm demo` runs with
`--no-ui --customers 100` (docs/cli.md), and the bare `crm` (the terminal UI) is run
headless with Pilot on the same database."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from crm_tui.app import CrmApp
from crm_tui.cli import app
from crm_tui.config import demo_db_path
from crm_tui.widgets.record_table import RecordTable

README = Path(__file__).resolve().parents[1] / "README.md"
ULID = re.compile(r"\b01[0-9A-HJKMNP-TV-Z]{24}\b")

# The files the README's examples import, as a user would have them (UTF-8).
FILES = {
    "contacts.csv": "姓名,公司,手机,地区\n刘洋,成都天府软件,13911112222,西南\nZhao Min,Acme,13922223333,华东\n",
    "people.csv": "客户编号,姓名,职位,部门,手机,决策角色,态度\n{customer},李工,工程师,技术部,13933334444,使用者,中立\n",
    "价目表.csv": "货号,品名,类别,单位,单价\nSN-100,工业传感器,传感器,个,1150\nSN-200,温控模块,模块,个,860\n",
}


def first_command() -> list[str]:
    """The product part of the Quick start's first command: `.venv/bin/crm demo`."""
    block = re.search(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block is not None
    last = block.group(1).strip().split("&&")[-1].split()
    assert Path(last[0]).name == "crm", last
    return last[1:]


def usage_examples() -> list[list[str]]:
    """Each `crm …` line of the sh blocks from "## Usage" to the next top-level
    section, as argv without the leading `crm`, comments dropped."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## Usage")
    end = text.index("\n## ", start + 1)
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text[start:end], re.S):
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            if argv and argv[0] == "crm":
                lines.append(argv[1:])
    return lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Walk:
    """The user's shell: one fresh home, what earlier commands printed, and the server."""

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch):
        self.home = home
        home.mkdir()
        self.env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"),
                    "XDG_CONFIG_HOME": str(home / ".config"), "CRM_LANG": "en"}
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        for name in ("CRM_DB", "CRM_CONFIG"):  # the conftest's test seams: a new user has neither
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(home)
        self.runner = CliRunner()
        self.port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        self.customer_id: str | None = None  # the customer the Usage's first example adds
        self.order_id: str | None = None
        self.token: str | None = None
        self.merge_id: str | None = None

    def run(self, argv: list[str]) -> str:
        result = self.runner.invoke(app, argv, catch_exceptions=False)
        assert result.exit_code == 0, f"crm {shlex.join(argv)} exited {result.exit_code}:\n{result.output}"
        if "-o" in argv:  # the data goes to the file; the terminal gets a line about it
            written = self.home / argv[argv.index("-o") + 1]
            assert written.stat().st_size > 100, f"crm {shlex.join(argv)} wrote {written.read_text()!r}"
        else:
            assert result.stdout.strip(), f"crm {shlex.join(argv)} printed nothing:\n{result.output}"
        return result.stdout

    def fill_in(self, argv: list[str]) -> list[str]:
        """What the reader would type in place of the README's placeholders."""
        out = []
        for i, arg in enumerate(argv):
            before = argv[i - 1] if i else ""
            if arg in ("01J…", "ID"):
                if argv[:2] == ["orders", "refund"]:
                    arg = self.order_id or ""
                elif argv[0] == "complaints":
                    arg = self.open_complaint()
                else:
                    arg = self.customer_id or ""
                assert arg, f"no id yet for {shlex.join(argv)}"
            elif arg == "KEEP":
                arg = self.customer_id or ""
            elif arg == "OTHER":  # the same person entered twice, as the merge example needs
                arg = ULID.findall(self.run(["customers", "add", "--name", "刘洋 (2)", "--mobile", "13911119999"]))[0]
            elif arg == "MERGE_ID":
                assert self.merge_id, "the README merges before it unmerges"
                arg = self.merge_id
            elif before == "--token":
                assert self.token, "the README logs in before it adds a rep"
                arg = self.token
            elif before == "--port" or "127.0.0.1:8765" in arg:
                arg = arg.replace("8765", str(self.port))
            out.append(arg)
        return out

    def open_complaint(self) -> str:
        rows = json.loads(self.run(["complaints", "list", "--where", "status!=resolved", "--where", "status!=closed",
                                    "--limit", "1", "--json"]))
        return rows[0]["id"]

    def write_files(self) -> None:
        for name, text in FILES.items():
            (self.home / name).write_text(text.format(customer=self.customer_id), encoding="utf-8")

    def start_server(self, argv: list[str]) -> None:
        """`crm server serve` runs until stopped, in a second terminal: started at the
        outset so that uvicorn loads while the first examples run."""
        self.log = self.home.parent / "server.log"
        with self.log.open("wb") as out:
            self.server = subprocess.Popen([sys.executable, "-m", "crm_tui", *argv], stdout=out,
                                           stderr=subprocess.STDOUT)

    def wait_for_server(self) -> None:
        assert self.server is not None
        for _ in range(300):  # up to 30 s for uvicorn to listen on a loaded machine
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/v1/hello", timeout=1)
                return
            except httpx.HTTPError:
                assert self.server.poll() is None, self.log.read_text()
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def saw_request_logged(self, rep: str) -> None:
        """The server logs one line per request at its default level: who, what, status, time."""
        pattern = re.compile(rf"\b{rep} POST /v1/(push|pull)\S* 200 \d+ms")
        for _ in range(100):
            if pattern.search(self.log.read_text(errors="replace")):
                return
            time.sleep(0.05)
        raise AssertionError(f"no request of {rep} in the server log:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=10)


async def see_the_ui(expected_customers: int) -> None:
    """`crm` with no command: the terminal UI, headless, on the database commands use."""
    app_ = CrmApp()
    async with app_.run_test(size=(100, 30)) as pilot:
        for _ in range(100):
            await pilot.pause(0.02)
            if app_.screen.query(RecordTable) and app_.screen.query_one(RecordTable).total:
                break
        assert app_.screen.query_one(RecordTable).total >= expected_customers


@pytest.mark.anyio
async def test_the_readme_walkthrough_in_a_fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    walk = Walk(tmp_path / "home", monkeypatch)
    assert first_command() == ["demo"]
    shown = walk.run([*first_command(), "--no-ui", "--customers", "100"])
    assert "crm demo --exit" in shown
    examples = usage_examples()
    assert examples[1][:3] == ["customers", "list", "--search"], "the README's next example after the demo"
    serve = next(walk.fill_in(argv) for argv in examples if argv[:2] == ["server", "serve"])
    try:
        walk.start_server(serve)
        for number, argv in enumerate(examples):
            argv = walk.fill_in(argv)
            if not argv:
                await see_the_ui(100)
                continue
            if argv[:2] == ["server", "serve"]:
                walk.wait_for_server()
                continue
            out = walk.run(argv)
            if argv[:2] == ["customers", "add"] and walk.customer_id is None:
                walk.customer_id = ULID.findall(out)[0]
                walk.write_files()
            elif argv[:2] == ["orders", "add"]:
                walk.order_id = ULID.findall(out)[0]
            elif argv[:2] == ["customers", "merge"]:
                walk.merge_id = ULID.findall(out)[-1]  # "… undo with: crm customers unmerge MERGE_ID"
            elif argv[:2] == ["server", "add-rep"]:
                walk.token = out.split()[-1]
            elif argv == ["sync"]:
                walk.saw_request_logged("wangfang")
            elif argv[:3] == ["customers", "list", "--search"] and number < 3:
                # the demo's customers, not an empty new database
                assert demo_db_path().exists() and len(ULID.findall(out)) >= 2, out
    finally:
        walk.stop()
