"""Fixtures shared by all tests. Every test runs with its own database and config
file, so nothing touches the user's real data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_tui.api import Crm


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DB", str(tmp_path / "default.db"))
    monkeypatch.setenv("CRM_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CRM_LANG", "en")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def crm(db_path: Path):
    api = Crm(db_path, rep="wang")
    yield api
    api.close()
