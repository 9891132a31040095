"""Encryption at rest (issue 11 item 5): `crm init --encrypt`, `crm encrypt` and `crm
decrypt` through the real CLI, keys from CRM_DB_KEY, the keyring or the unlock screen,
and a wrong key that fails cleanly without touching the file."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from typer.testing import CliRunner

from crm_tui.api import Crm, DatabaseError, KeyRequired, WrongKey
from crm_tui.cli import app
from crm_tui.db import encryption as sql_encryption
from crm_tui.db.connection import SQLITE_HEADER, is_encrypted

runner = CliRunner()
KEY = "correct horse 'battery' staple"
NAME, PHONE, PHRASE = "欧阳锋", "13911112222", "canary-quartz-lantern"


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in for the tests: the real one is the user's."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


def crm(*args: str, key: str | None = None, input: str | None = None):
    env = {"CRM_DB_KEY": key} if key is not None else {}
    return runner.invoke(app, list(args), env=env, input=input)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plain_bytes(path: Path) -> bytes:
    out = b""
    for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-journal"))):
        if p.exists():
            out += p.read_bytes()
    return out


def test_init_encrypt_makes_an_encrypted_database_the_cli_uses(tmp_path: Path) -> None:
    db = tmp_path / "enc.db"
    result = crm("init", "--encrypt", "--db", str(db), "--json", key=KEY)
    assert result.exit_code == 0, result.output
    assert '"encrypted": true' in result.stdout
    assert is_encrypted(db) and db.read_bytes()[:16] != SQLITE_HEADER
    added = crm("customers", "add", "--db", str(db), "--name", NAME, "--mobile", PHONE, "--notes", PHRASE, key=KEY)
    assert added.exit_code == 0, added.output
    listed = crm("customers", "list", "--db", str(db), "--search", NAME[:2], key=KEY)
    assert NAME in listed.stdout
    # The standard library's SQLite cannot read it: it is not a database to it.
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db).execute("SELECT * FROM customers").fetchall()
    data = plain_bytes(db)
    assert all(n.encode() not in data for n in (NAME, PHONE, PHRASE))


def test_wrong_or_missing_key_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "enc.db"
    with Crm(db, rep="wang", key=KEY, encrypt=True) as c:
        c.customers.create({"name": NAME})
    before = digest(db)
    wrong = crm("customers", "list", "--db", str(db), key="not the key")
    assert wrong.exit_code == 1 and "Traceback" not in wrong.output
    assert f"{db}: wrong key" in wrong.output
    assert "hmac" not in wrong.output.lower()  # SQLCipher's own log stays quiet
    missing = crm("customers", "list", "--db", str(db))
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert f"{db} is encrypted" in missing.output and "CRM_DB_KEY" in missing.output
    with pytest.raises(WrongKey, match=str(db)):
        Crm(db, key="nope")
    with pytest.raises(KeyRequired):
        Crm(db)
    assert digest(db) == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    with Crm(db, key=KEY) as c:  # and the right key still opens it
        assert [r["name"] for r in c.customers.find()] == [NAME]


def test_encrypt_then_decrypt_keeps_every_record(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with Crm(db, rep="wang") as c:
        cid = c.customers.create({"name": NAME, "mobile": PHONE})["id"]
        c.visits.create({"customer_id": cid, "channel": "phone", "purpose": "visit", "notes": PHRASE,
                         "visited_at": "2026-05-01T10:00"})
        counts = {t: c.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("customers", "visits", "change_log", "customer_search")}
    assert NAME.encode() in plain_bytes(db)

    result = crm("encrypt", "--db", str(db), key=KEY)
    assert result.exit_code == 0, result.output
    assert "now encrypted" in result.stdout
    assert is_encrypted(db) and not Path(f"{db}.converting").exists()
    assert all(n.encode() not in plain_bytes(db) for n in (NAME, PHONE, PHRASE))
    with Crm(db, key=KEY) as c:
        assert {t: c.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in counts} == counts
        assert c.customers.search(NAME)[0]["id"] == cid
        assert c.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert oct(db.stat().st_mode & 0o777) == oct(0o600)

    again = crm("encrypt", "--db", str(db), key=KEY)
    assert again.exit_code == 1 and "already encrypted" in again.output

    result = crm("decrypt", "--db", str(db), key=KEY)
    assert result.exit_code == 0, result.output
    assert db.read_bytes()[:16] == SQLITE_HEADER
    with Crm(db) as c:
        assert {t: c.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in counts} == counts
        assert c.visits.find()[0]["notes"] == PHRASE


def test_decrypt_with_a_wrong_key_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with Crm(db, rep="wang", key=KEY, encrypt=True) as c:
        c.customers.create({"name": NAME})
    before = digest(db)
    result = crm("decrypt", "--db", str(db), key="wrong")
    assert result.exit_code == 1 and "wrong key" in result.output and "Traceback" not in result.output
    assert digest(db) == before and not Path(f"{db}.converting").exists()


def test_conversion_is_refused_while_another_program_has_the_database_open(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with Crm(db, rep="wang") as c:
        c.customers.create({"name": NAME})
    # Another program (the UI, say) holds the database open; a process of its own, as
    # in life: SQLite's locks are per process.
    other = subprocess.Popen(
        [sys.executable, "-c", "import sys; from crm_tui.api import Crm; c = Crm(sys.argv[1]); c.customers.find(); "
         "print('ready', flush=True); sys.stdin.readline(); c.customers.create({'name': '段誉'}); c.close()",
         str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"
        result = crm("encrypt", "--db", str(db), key=KEY)
        assert result.exit_code == 1 and "open in another program" in result.output
        assert not is_encrypted(db) and not Path(f"{db}.converting").exists()
        other.stdin.write("go on\n")  # the other program goes on writing, unharmed
        other.stdin.close()
        assert other.wait(timeout=30) == 0
    finally:
        if other.poll() is None:
            other.kill()
    with Crm(db) as c:
        assert {r["name"] for r in c.customers.find()} == {NAME, "段誉"}


def test_a_copy_that_does_not_check_out_never_replaces_the_original(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "crm.db"
    with Crm(db, rep="wang") as c:
        c.customers.create({"name": NAME})
    real_counts = sql_encryption._counts
    calls: list[int] = []

    def counts_then_lose_a_row(conn):  # fault injection: the copy seems to miss a row
        found = real_counts(conn)
        calls.append(1)
        if len(calls) == 2:
            found["customers"] -= 1
        return found

    monkeypatch.setattr(sql_encryption, "_counts", counts_then_lose_a_row)
    with pytest.raises(DatabaseError, match="did not check out"):
        sql_encryption.encrypt(db, KEY)
    assert not is_encrypted(db) and not Path(f"{db}.converting").exists()
    with Crm(db) as c:
        assert [r["name"] for r in c.customers.find()] == [NAME]


def test_the_key_kept_in_the_keyring_opens_the_database(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    db = tmp_path / "crm.db"
    result = crm("init", "--encrypt", "--remember", "--db", str(db), key=KEY)
    assert result.exit_code == 0, result.output
    assert "system keyring" in result.output
    assert list(memory_keyring.store.values()) == [KEY]
    assert crm("customers", "add", "--db", str(db), "--name", NAME).exit_code == 0  # no CRM_DB_KEY
    with Crm(db) as c:
        assert c.encrypted and c.customers.find()[0]["name"] == NAME
    result = crm("decrypt", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert memory_keyring.store == {} and not is_encrypted(db)
    # --remember on an encrypted database only keeps its (checked) key
    assert crm("encrypt", "--db", str(db), key=KEY).exit_code == 0
    assert memory_keyring.store == {}
    assert crm("encrypt", "--remember", "--db", str(db), key="wrong").exit_code == 1
    assert memory_keyring.store == {}
    assert crm("encrypt", "--remember", "--db", str(db), key=KEY).exit_code == 0
    assert list(memory_keyring.store.values()) == [KEY]


def test_without_a_keyring_remember_says_so_and_the_database_still_works(tmp_path: Path) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        db = tmp_path / "crm.db"
        result = crm("init", "--encrypt", "--remember", "--db", str(db), key=KEY)
        assert result.exit_code == 0, result.output
        assert "no system keyring" in result.output and "Traceback" not in result.output
        assert crm("customers", "list", "--db", str(db), key=KEY).exit_code == 0
    finally:
        keyring.set_keyring(previous)


def test_a_typed_key_is_asked_twice_for_a_new_database_and_once_to_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_tui.cli import encryption as cli_encryption

    db = tmp_path / "crm.db"
    monkeypatch.setattr(cli_encryption, "can_ask", lambda: True)  # a person at a terminal
    differ = runner.invoke(app, ["init", "--encrypt", "--db", str(db)], input="one\ntwo\n")
    assert differ.exit_code == 1 and "differ" in differ.output and not db.exists()
    made = runner.invoke(app, ["init", "--encrypt", "--db", str(db)], input=f"{KEY}\n{KEY}\n")
    assert made.exit_code == 0, made.output
    assert KEY not in made.output  # typed unseen
    opened = runner.invoke(app, ["customers", "add", "--db", str(db), "--name", NAME], input=f"{KEY}\n")
    assert opened.exit_code == 0, opened.output
    with Crm(db, key=KEY) as c:
        assert c.customers.find()[0]["name"] == NAME


def test_init_encrypt_on_an_existing_plain_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    Crm(db, rep="wang").close()
    result = crm("init", "--encrypt", "--db", str(db), key=KEY)
    assert result.exit_code == 1 and "crm encrypt" in result.output
    assert not is_encrypted(db)


def test_key_errors_and_permission_notices_come_from_the_catalog(tmp_path: Path) -> None:
    import os

    from crm_tui.i18n import set_language

    db = tmp_path / "crm.db"
    with Crm(db, rep="wang", key=KEY, encrypt=True):
        pass
    os.chmod(db, 0o644)
    set_language("zh")
    try:
        with Crm(db, key=KEY) as c:
            assert any("只有您能读取" in n for n in c.notices)
        with pytest.raises(WrongKey, match="密钥错误"):
            Crm(db, key="nope")
        with pytest.raises(KeyRequired, match="已加密"):
            Crm(db)
    finally:
        set_language("en")


def test_every_laptop_connection_is_made_in_db_connection() -> None:
    """One opener (crm_tui/db/connection.py `connect`): a connection made elsewhere
    would open an encrypted database without its key, or a plain one without the
    pragmas. The sync server's own store (sync/server/) is not the laptop's."""
    import re

    root = Path(__file__).resolve().parent.parent / "crm_tui"
    opener = re.compile(r"\b(sqlite3|sqlcipher3(\.dbapi2)?|driver|sqlite_utils)\.(connect|Database)\(|apsw\.")
    found = [f"{p.relative_to(root)}:{n}" for p in root.rglob("*.py")
             if p.relative_to(root).parts[:2] != ("sync", "server") and p != root / "db" / "connection.py"
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if opener.search(line)]
    assert found == []
    assert "sqlite3.connect(" in (root / "db" / "connection.py").read_text(encoding="utf-8")


def test_a_copy_of_an_encrypted_database_is_a_backup_that_needs_the_key(tmp_path: Path) -> None:
    import shutil

    db, backup = tmp_path / "crm.db", tmp_path / "backup" / "crm.db"
    with Crm(db, rep="wang", key=KEY, encrypt=True) as c:
        cid = c.customers.create({"name": NAME, "mobile": PHONE})["id"]
    backup.parent.mkdir()
    shutil.copy2(db, backup)  # closed: the WAL is folded in, the file is whole
    assert all(n.encode() not in backup.read_bytes() for n in (NAME, PHONE))
    with pytest.raises(WrongKey):
        Crm(backup, key="guess")
    result = crm("customers", "show", cid, "--db", str(backup), "--json", key=KEY)
    assert result.exit_code == 0 and NAME in result.stdout
