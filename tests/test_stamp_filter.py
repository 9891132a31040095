"""`--where created_at>=DAY` means the rep's own day: the stamps are stored in UTC and
shown in local time, so the filter compares with the UTC of the local time given (in
Shanghai a customer made at 07:30 on 2 December was listed as made before it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

runner = CliRunner()


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def names(db: Path, *where: str) -> list[str]:
    args = [a for w in where for a in ("--where", w)]
    result = runner.invoke(app, ["--db", str(db), "customers", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return sorted(c["name"] for c in json.loads(result.stdout))


def test_a_day_in_a_stamp_filter_is_the_local_day(crm: Crm, shanghai: None) -> None:
    early = crm.customers.create({"name": "早"})["id"]  # 07:30 on 12-02 in Shanghai
    late = crm.customers.create({"name": "晚"})["id"]   # 23:30 on 12-01 in Shanghai
    crm.conn.execute("UPDATE customers SET created_at = '2026-12-01T23:30:00.000Z' WHERE id = ?", (early,))
    crm.conn.execute("UPDATE customers SET created_at = '2026-12-01T15:30:00.000Z' WHERE id = ?", (late,))
    crm.conn.commit()
    assert names(crm.path, "created_at>=2026-12-02") == ["早"]
    assert names(crm.path, "created_at<2026-12-02") == ["晚"]
    assert names(crm.path, "created_at>=2026-12-02 07:00", "created_at<2026-12-02 08:00") == ["早"]
    bad = runner.invoke(app, ["--db", str(crm.path), "customers", "list", "--where", "created_at>=12/02"])
    assert bad.exit_code == 1 and "created_at: '12/02' is not a date and time" in bad.stderr
