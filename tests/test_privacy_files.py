"""The laptop database is private: 0600 files (database, WAL, shared memory) in a
0700 data directory; a database open to others is tightened on open, with a notice."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.config import data_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_database_wal_and_directory_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual umask, which alone would give 0644 and 0755
    path = tmp_path / "new-dir" / "crm.db"
    try:
        crm = Crm(path, rep="wang")
    finally:
        os.umask(old_umask)
    with crm:
        crm.customers.create({"name": "张伟", "phone": "13812345678"})
        assert Path(str(path) + "-wal").exists() and Path(str(path) + "-shm").exists()
        assert mode(path) == 0o600
        assert mode(Path(str(path) + "-wal")) == 0o600
        assert mode(Path(str(path) + "-shm")) == 0o600
        assert mode(path.parent) == 0o700
        assert crm.notices == []


def test_default_data_directory_is_private(monkeypatch) -> None:
    monkeypatch.delenv("CRM_DB")
    with Crm(None, rep="wang") as crm:
        assert crm.path.parent == data_dir()
    assert mode(data_dir()) == 0o700
    os.chmod(data_dir(), 0o755)  # loosened by hand: tightened at the next open
    with Crm(None) as crm:
        assert any("0700" in n for n in crm.notices)
    assert mode(data_dir()) == 0o700


def test_existing_database_open_to_others_is_tightened_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with Crm(path, rep="wang") as crm:
        crm.customers.create({"name": "李娜"})
    os.chmod(path, 0o644)
    wal = Path(str(path) + "-wal")
    if wal.exists():
        os.chmod(wal, 0o666)
    with Crm(path) as crm:
        assert mode(path) == 0o600
        assert mode(wal) == 0o600
        assert any(str(path) in n and "644" in n for n in crm.notices)
    with Crm(path) as crm:  # nothing left to say the second time
        assert crm.notices == []


def test_cli_says_when_it_tightened_the_database(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    Crm(path, rep="wang").close()
    os.chmod(path, 0o664)
    result = CliRunner().invoke(app, ["customers", "list", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "notice:" in result.output and "0600" in result.output
    assert mode(path) == 0o600


def test_a_directory_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "crm.db").mkdir()
    result = CliRunner().invoke(app, ["customers", "list", "--db", str(tmp_path / "crm.db")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "crm.db" in result.output
