"""Fixtures shared by all tests. Every test runs with its own database and config
file, so nothing touches the user's real data directory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from laptops import store_server
from sync_server import Server

from crm_tui.api import Crm
from crm_tui.i18n import set_language


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DB", str(tmp_path / "default.db"))
    monkeypatch.setenv("CRM_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CRM_LANG", "en")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # the parsed catalogs
    # An encrypted database's key: never the developer's, nor their OS keyring.
    monkeypatch.delenv("CRM_DB_KEY", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    # The catalog's language is process-wide: a test that ran the UI in Chinese must
    # not leave the next test's messages in Chinese.
    set_language("en")


@pytest.fixture
def anyio_backend() -> str:
    """Every async test (the TUI's Pilot tests) runs on asyncio, Textual's loop; anyio's
    own default would also run each on trio where that is installed."""
    return "asyncio"


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich reads COLUMNS when it prints: wide enough that no table drops a column or
    folds a cell, for the CLI tests that read what a command printed."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def crm(db_path: Path):
    api = Crm(db_path, rep="wang")
    yield api
    api.close()


# -- PostgreSQL ------------------------------------------------------------------------
# The server tests run on both stores. `.ci/run` starts a throwaway PostgreSQL and
# passes its URL in CRM_TEST_PG_URL; each test gets a schema of its own in that
# database (a URL whose search_path names it), dropped afterwards: a few
# milliseconds, where a database per test would cost a few hundred.

PG_URL_VAR = "CRM_TEST_PG_URL"


def postgres_url_or_skip() -> str:
    """The test PostgreSQL's URL; without one a skip saying why, or on CI a failure."""
    url = os.environ.get(PG_URL_VAR)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {PG_URL_VAR} is not set: .ci/run starts PostgreSQL for the server tests")
    pytest.skip(f"no PostgreSQL for the tests: set {PG_URL_VAR} (`bash .ci/pg start DIR` starts one "
                "and prints its URL; .ci/run does it for you)")


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    import psycopg

    base = postgres_url_or_skip()
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            # A transaction a test left open must not hang the run.
            conn.execute("SET lock_timeout = '20s'")
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty server store's URL, on each store in turn."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[Any]:
    """A server inside the test's process (tests/laptops.py) where wang and li are
    managers, for tests of what syncing does to the data rather than of sync itself."""
    store, http = store_server(tmp_path / "server.db", ("wang", "manager", ()), ("li", "manager", ()),
                               max_offset_ms=60_000)
    yield http
    store.close()


@pytest.fixture
def server(server_db: str) -> Iterator[Server]:
    """A real server process (tests/sync_server.py), on SQLite and on PostgreSQL."""
    srv = Server(server_db)
    yield srv
    srv.stop()
