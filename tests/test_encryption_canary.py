"""The encryption canary (issue 11): an encrypted laptop database used for everything
a rep does (add customers and visits, import a CSV, sync both ways with a real server
on 127.0.0.1, a report, an erase, the UI headless with Pilot, including the unlock
screen), then a byte search of the database, its -wal and -journal and the temporary
directory: no name, phone or note in clear. A plain laptop holding the same data is
the control that the search can find them. A wrong key fails cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pilot_steps import settle
from sync_server import Rep, Server, runner
from textual.widgets import Input, Static

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app as app_cli
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.form import FormScreen
from crm_tui.screens.unlock import UnlockApp

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

KEY = "canary key 金丝雀"
NAME, PHONE, PHRASE = "上官金虹", "13722223333", "glacier-umbrella-mosaic"
IMPORTED, IMPORTED_PHONE = "荆无命", "13544445555"
PULLED_PHRASE = "orchid-tandem-vortex"  # written on the other laptop, pulled by sync
UI_PHRASE = "saffron-piston-meadow"  # typed in the UI
NEEDLES = (NAME, PHONE, PHRASE, IMPORTED, IMPORTED_PHONE, PULLED_PHRASE, UI_PHRASE)


@pytest.fixture
def server(tmp_path: Path):
    srv = Server(f"sqlite:///{tmp_path / 'server.db'}")
    yield srv
    srv.stop()


def in_clear(*files: Path) -> list[str]:
    found = []
    for path in files:
        if path.is_file():
            data = path.read_bytes()
            found += [f"{n} in {path.name}" for n in NEEDLES if n.encode() in data]
    return found


def side_files(db: Path) -> list[Path]:
    return [db, *(db.with_name(db.name + s) for s in ("-wal", "-journal", "-shm"))]


async def test_nothing_of_a_person_is_in_clear_on_an_encrypted_laptop(server: Server, tmp_path: Path) -> None:
    laptop, other = Rep(tmp_path, "wang"), Rep(tmp_path, "li")
    laptop.env["CRM_DB_KEY"] = KEY
    db = Path(laptop.env["CRM_DB"])
    temp = tmp_path / "sqlite-temp"
    temp.mkdir()

    laptop.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    laptop.crm("init", "--encrypt")  # after login: the new database is the rep's
    other.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    cid = laptop.json("customers", "add", "--name", NAME, "--mobile", PHONE, "--territory", "east")["id"]
    laptop.crm("visits", "add", "--customer", cid, "--channel", "phone", "--purpose", "visit", "--notes", PHRASE)
    laptop.crm("orders", "add", "--customer", cid, "--product", "tea", "--amount", "300", "--ordered-at", "2026-05-01")
    csv = tmp_path / "客户.csv"
    csv.write_text(f"name,mobile,territory\n{IMPORTED},{IMPORTED_PHONE},east\n", encoding="utf-8")
    # The import runs as its own `crm` process with SQLite's temporary directory
    # pointed here: an encrypted connection keeps its temporary data in memory.
    env = {**os.environ, **laptop.env, "SQLITE_TMPDIR": str(temp), "TMPDIR": str(temp)}
    done = subprocess.run([sys.executable, "-m", "crm_tui", "customers", "import", str(csv)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    synced = laptop.json("sync")
    assert synced["pushed"] >= 3, synced

    # The other laptop (plain: the control) pulls it all and writes a visit that syncs back.
    other.crm("sync")
    other.crm("visits", "add", "--customer", cid, "--channel", "face_to_face", "--purpose", "visit",
              "--notes", PULLED_PHRASE)
    other.crm("sync")
    assert laptop.json("sync")["pulled"] >= 1
    assert any(v["notes"] == PULLED_PHRASE for v in laptop.json("visits", "list", "--customer", cid))
    assert "300" in laptop.crm("report", "--period", "2026")

    # An erase (which VACUUMs) of a customer made for the purpose, on the encrypted file.
    gone = laptop.json("customers", "add", "--name", "erase me", "--territory", "east")["id"]
    laptop.crm("customers", "erase", gone, "--yes")

    # The UI: the unlock screen refuses a wrong key and takes the right one ...
    unlock = UnlockApp(db)
    async with unlock.run_test(size=(80, 24)) as pilot:
        field = unlock.query_one("#key", Input)
        field.value = "not the key"
        await pilot.press("enter")
        await pilot.pause()
        assert "wrong key" in str(unlock.query_one("#error", Static).render())
        field.value = KEY
        await pilot.press("enter")
        await pilot.pause()
    assert unlock.return_value == KEY
    # ... and the main UI then works on the encrypted database: log a visit on screen.
    app = CrmApp(db, key=KEY, config={}, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.crm.conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        app.open_customer(cid)
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("v")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-notes").focus()
        for ch in UI_PHRASE:
            await pilot.press(ch)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
    with Crm(db, key=KEY) as crm:
        assert crm.customers.get(cid)["name"] == NAME
        assert {v["notes"] for v in crm.visits.find()} >= {PHRASE, PULLED_PHRASE, UI_PHRASE}

    # Not one of them in clear on the encrypted laptop, its side files, or SQLite's temp dir.
    assert in_clear(*side_files(db), *temp.iterdir()) == []
    # The control: the same search finds them on the plain laptop.
    assert len(in_clear(*side_files(Path(other.env["CRM_DB"])))) >= 4

    # A wrong key fails cleanly and changes nothing.
    before = db.read_bytes()
    wrong = runner.invoke(app_cli, ["customers", "list"], env={**laptop.env, "CRM_DB_KEY": "wrong"})
    assert wrong.exit_code == 1 and "wrong key" in wrong.output and "Traceback" not in wrong.output
    assert db.read_bytes() == before
