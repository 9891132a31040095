"""A big file's rows are validated by two processes (crm_tui/api/import_helper.py,
`Helper`): the outcome is the one a single process reaches (every rule, every bad
row named by its line, duplicates across the two parts found, nothing written when
a row is bad), and a helper that fails or dies fails the import with a message and
nothing written. The tests lower the size from which the helper starts, so small
files use it."""

from __future__ import annotations

import errno
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_import_bulk_rules import people, write_csv
from typer.testing import CliRunner

from crm_tui.api import Crm, import_helper
from crm_tui.api.import_helper import uses_helper
from crm_tui.api.importing import ImportFileError, ImportReport, import_customers
from crm_tui.api.records import Records
from crm_tui.cli import app
from crm_tui.domain.search import customer_pinyin
from crm_tui.i18n import t_in

ROWS = 1200
COLUMNS = 7  # of `people`


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Files from 100 cells on use the helper, whose last batch is the file's last
    100 rows; the helpers' pids, as forked."""
    monkeypatch.setattr(import_helper, "HELPER_FROM", 100)
    monkeypatch.setattr(import_helper, "HELPER_BATCH", 100)
    monkeypatch.setattr(import_helper, "second_core", lambda: True)  # as on the 2-core laptops the suite runs on
    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    yield pids


def outcome(report: ImportReport, crm: Crm) -> tuple[Any, ...]:
    """What an import did, but for the ids it made (new each time)."""
    stored = crm.conn.execute(
        "SELECT name, company, mobile, email, region, tags, birthday, pinyin, owner FROM customers "
        "ORDER BY mobile").fetchall()
    logged = crm.conn.execute("SELECT count(*) FROM change_log WHERE tbl = 'customers'").fetchone()[0]
    return ([(r.line, r.reason) for r in report.rejected], report.created, report.updated, report.merged,
            report.written, [tuple(r) for r in stored], logged)


def both_ways(tmp_path: Path, path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int],
              **options: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The outcome of importing `path` into a new database by one process, then by two."""
    results = []
    for name, start in (("one", 10**9), ("two", 100)):
        monkeypatch.setattr(import_helper, "HELPER_FROM", start)
        crm = Crm(tmp_path / f"{name}.db", rep="wang")
        try:
            results.append(outcome(import_customers(crm, path, **options), crm))
        finally:
            crm.close()
    assert len(forks) == 1  # the second import had a helper, the first none
    return results[0], results[1]


def test_two_processes_name_bad_rows_in_either_part_and_write_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    rows = people(ROWS)
    split = ROWS - 100  # the helper's rows from here on
    rows[10][3] = "not an email"  # line 12: this process's part
    rows[split + 5][2] = "12345"  # the helper's part: not a phone
    rows[ROWS - 1][6] = "1990-02-30"  # the last line: no such day
    one, two = both_ways(tmp_path, write_csv(tmp_path / "bad.csv", rows), monkeypatch, forks)
    assert one == two
    assert [(line, reason.split(":")[0]) for line, reason in two[0]] == [
        (12, "email"), (split + 7, "mobile"), (ROWS + 1, "birthday")]
    assert not two[4] and two[5] == [] and two[6] == 0  # nothing written


def test_two_processes_skip_bad_rows_and_store_each_row_as_one_would(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    rows = people(ROWS)
    rows[ROWS - 3][3] = "not an email"
    one, two = both_ways(tmp_path, write_csv(tmp_path / "skip.csv", rows), monkeypatch, forks, skip_invalid=True)
    assert one == two
    assert two[1] == ROWS - 1 and two[4] and len(two[5]) == ROWS - 1 and two[6] == ROWS - 1
    assert all(r[7] == customer_pinyin(r[0]) for r in two[5])  # each row its own pinyin key


def test_duplicates_across_the_two_parts_are_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    rows = people(ROWS)
    split = ROWS - 100  # the helper's rows from here on
    # A row of the helper's part with the mobile of a row of this process's part:
    # the same customer, merged (its tags added to the earlier row's).
    rows[split + 20] = [rows[3][0], rows[3][1], rows[3][2], "", "", "展会", ""]
    # The same customer again with another region: refused, naming the earlier row
    # (no edit of one customer's rows is lost).
    rows[split + 25] = [rows[3][0], "", rows[3][2], "", "西南", "", ""]
    # Another person with the mobile of an earlier row: refused, naming that row.
    rows[split + 30] = ["完全不同", "某公司", rows[4][2], "", "", "", ""]
    one, two = both_ways(tmp_path, write_csv(tmp_path / "dup.csv", rows), monkeypatch, forks, skip_invalid=True)
    assert one == two
    assert two[3] == 1 and two[1] == ROWS - 3
    assert [line for line, _ in two[0]] == [split + 27, split + 32]
    assert "'西南' differs from '华东'" in two[0][0][1] and "line 5" in two[0][0][1]
    assert "line 6" in two[0][1][1]
    merged = [r for r in two[5] if r[2] == "+86" + rows[3][2]]
    assert [(r[3], r[4], r[5]) for r in merged] == [(rows[3][3].lower(), "华东", "VIP,老客户,展会")]


def test_a_json_file_is_shared_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    items = [{"name": r[0], "company": r[1], "mobile": r[2], "email": r[3], "region": r[4]} for r in people(300)]
    items[250]["email"] = "not an email"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    one, two = both_ways(tmp_path, path, monkeypatch, forks)
    assert one == two
    assert [(line, reason.split(":")[0]) for line, reason in two[0]] == [(251, "email")]


def _in_helper(crm_pid: int, action: Callable[[], None]) -> Callable[..., Any]:
    """Records.prepare that runs `action` first when called in a helper process."""
    real = Records.prepare

    def prepare(self: Records, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != crm_pid:
            action()
        return real(self, *args, **kwargs)
    return prepare


def _raise() -> None:
    raise RuntimeError("disk on fire")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize(("action", "how"), [(_raise, "it failed: RuntimeError: disk on fire"),
                                              (_die, "killed by signal 9")])
def test_a_helper_that_fails_or_dies_fails_the_import_and_writes_nothing(
        crm: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int],
        action: Callable[[], None], how: str) -> None:
    path = write_csv(tmp_path / "c.csv", people(ROWS))
    monkeypatch.setattr(Records, "prepare", _in_helper(os.getpid(), action))
    with pytest.raises(ImportFileError) as caught:
        import_customers(crm, path)
    assert str(caught.value) == (f"{path}: the second process validating part of the rows "
                                 f"stopped ({how}); nothing was imported")
    assert crm.customers.count() == 0 and crm.changes() == []
    with pytest.raises(ProcessLookupError):
        os.kill(forks[0], 0)  # reaped: no process left behind
    # In Chinese too, from the catalog.
    assert t_in("zh", "import_helper.failed", path=path, how="被信号 9 终止") == (
        f"{path}：校验部分行的第二个进程已中止（被信号 9 终止）；未导入任何内容")


def test_the_import_command_says_so_and_exits_1(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    path = write_csv(tmp_path / "c.csv", people(ROWS))
    monkeypatch.setattr(Records, "prepare", _in_helper(os.getpid(), _die))
    result = CliRunner().invoke(app, ["customers", "import", str(path), "--db", str(db_path)])
    assert result.exit_code == 1
    assert "the second process validating" in result.output and "killed by signal 9" in result.output
    assert "Traceback" not in result.output
    crm = Crm(db_path)
    try:
        assert crm.customers.count() == 0 and crm.changes() == []
    finally:
        crm.close()


def test_a_failure_in_this_process_ends_the_helper(
        crm: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    path = write_csv(tmp_path / "c.csv", people(ROWS))
    real = Records.check_refs
    calls = [0]

    def check_refs(self: Records, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 200:  # in this process's own part, while the helper works
            raise KeyboardInterrupt
        real(self, *args, **kwargs)

    monkeypatch.setattr(Records, "check_refs", check_refs)
    with pytest.raises(KeyboardInterrupt):
        import_customers(crm, path)
    assert len(forks) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(forks[0], 0)  # ended and reaped
    assert crm.customers.count() == 0


def test_where_no_second_process_can_run_one_validates_every_row(
        crm: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    monkeypatch.setattr(import_helper, "second_core", lambda: False)  # macOS, Windows, one core
    report = import_customers(crm, write_csv(tmp_path / "c.csv", people(ROWS)))
    assert report.created == crm.customers.count() == ROWS and forks == []


def test_small_files_are_validated_by_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_helper, "second_core", lambda: True)
    rows = import_helper.HELPER_FROM // 5  # cells: rows x columns
    assert not uses_helper(rows - 1, 5)
    assert not uses_helper(rows, 4)
    assert uses_helper(rows, 5)
    assert not uses_helper(import_helper.HELPER_BATCH, 10**9)  # a few rows stay here, however wide


def test_without_a_second_process_one_validates_every_row(
        crm: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_helper, "HELPER_FROM", 100)

    def no_fork() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    rows = people(ROWS)
    rows[ROWS - 2][3] = "not an email"
    report = import_customers(crm, write_csv(tmp_path / "c.csv", rows), skip_invalid=True)
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [(ROWS, "email")]
    assert report.created == crm.customers.count() == ROWS - 1


def test_rows_of_the_helpers_part_update_existing_customers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    rows = people(ROWS)
    first = write_csv(tmp_path / "first.csv", rows)
    split = ROWS - 100  # the helper's rows from here on
    # The same customers again: a new region on one of this process's rows and one
    # of the helper's; the rest unchanged.
    rows[5][4], rows[split + 5][4] = "东北", "西北"
    second = write_csv(tmp_path / "second.csv", rows)
    results = []
    for name, start in (("one", 10**9), ("two", 100)):
        monkeypatch.setattr(import_helper, "HELPER_FROM", 10**9)
        crm = Crm(tmp_path / f"{name}.db", rep="wang")
        try:
            import_customers(crm, first)
            monkeypatch.setattr(import_helper, "HELPER_FROM", start)
            report = import_customers(crm, second)
            results.append(((report.created, report.updated, report.unchanged), outcome(report, crm)[5]))
        finally:
            crm.close()
    assert len(forks) == 1
    assert results[0] == results[1]
    assert results[1][0] == (0, 2, ROWS - 2)
    regions = {r[2]: r[4] for r in results[1][1]}
    assert (regions["+86" + rows[5][2]], regions["+86" + rows[split + 5][2]]) == ("东北", "西北")
