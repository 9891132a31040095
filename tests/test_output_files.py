"""The files a user names with `-o` (crm_tui.api.output): an export, a report, a
person's data or the order lines never replace the database, a folder or a missing
folder is an error naming the path (no traceback, nothing left behind), and a pipe is
written as a pipe, not replaced by a file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

runner = CliRunner()

# Every command that writes a file named by -o, each as a user types it.
WRITERS = {
    "export": ["customers", "export", "--format", "csv"],
    "export xlsx": ["customers", "export", "--format", "xlsx"],
    "report": ["report", "--period", "2026-Q4", "--format", "md"],
    "export-lines": ["orders", "export-lines"],
    "export-person": ["customers", "export-person", "CUSTOMER"],
}


def invoke(crm: Crm, args: list[str], output: Path, customer_id: str):
    argv = [customer_id if a == "CUSTOMER" else a for a in args]
    return runner.invoke(app, ["--db", str(crm.path), *argv, "-o", str(output)])


@pytest.fixture
def customer(crm: Crm) -> str:
    return str(crm.customers.create({"name": "张伟", "mobile": "138 1234 5678"})["id"])


@pytest.mark.parametrize("writer", WRITERS)
def test_an_output_that_is_the_database_is_refused_and_the_database_kept(crm: Crm, customer: str,
                                                                        writer: str) -> None:
    # `crm customers export -o crm.db` replaced every record with a CSV, and said it exported them.
    result = invoke(crm, WRITERS[writer], crm.path, customer)
    assert result.exit_code == 1, result.output
    assert "is the database itself; name another file" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert [c["name"] for c in crm.customers.find()] == ["张伟"]
    assert crm.path.read_bytes()[:16] == b"SQLite format 3\x00"


@pytest.mark.parametrize("writer", WRITERS)
def test_a_folder_or_a_missing_folder_is_an_error_naming_the_path(crm: Crm, customer: str, writer: str,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = invoke(crm, WRITERS[writer], folder, customer)
    assert result.exit_code == 1, result.output
    assert f"output: {folder} is a folder; name a file" in result.stderr
    missing = tmp_path / "nowhere" / "x.csv"
    result = invoke(crm, WRITERS[writer], missing, customer)
    assert result.exit_code == 1, result.output
    assert f"output: cannot write {missing}: No such file or directory" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert [p.name for p in tmp_path.iterdir() if p.suffix in (".part", ".tmp")] == []
    assert list(folder.iterdir()) == []


def test_a_pipe_is_written_as_a_pipe(crm: Crm, customer: str, tmp_path: Path) -> None:
    # `-o /dev/stdout`: the export was written beside it and renamed over it (as root,
    # /dev/stdout or /dev/null became a regular file).
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that the export's open does not wait
    got: list[bytes] = []
    try:
        result = invoke(crm, WRITERS["export"], fifo, customer)
        assert result.exit_code == 0, result.output
        done = threading.Event()

        def read() -> None:
            while chunk := os.read(reader, 65536):
                got.append(chunk)
            done.set()

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        assert done.wait(10)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert "张伟" in b"".join(got).decode("utf-8-sig")


def test_a_persons_data_is_readable_by_its_owner_only(crm: Crm, customer: str, tmp_path: Path) -> None:
    out = tmp_path / "张伟.json"
    assert invoke(crm, WRITERS["export-person"], out, customer).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "张伟" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["database", "missing folder"])
def test_a_bad_rejects_file_is_refused_before_any_row_is_imported(crm: Crm, customer: str, tmp_path: Path,
                                                                 where: str) -> None:
    # `--rejects crm.db` imported the good rows and then wrote the bad ones over the
    # database; a rejects file in no folder failed after the good rows were in.
    source = tmp_path / "客户.csv"
    source.write_text("姓名,生日\n李娜,1990-13-01\n王芳,1990-01-01\n", encoding="utf-8")
    rejects = crm.path if where == "database" else tmp_path / "nowhere" / "bad.csv"
    result = runner.invoke(app, ["--db", str(crm.path), "customers", "import", str(source), "--skip-invalid",
                                 "--rejects", str(rejects)])
    assert result.exit_code == 1, result.output
    assert "output: " in result.stderr and str(rejects) in result.stderr
    assert [c["name"] for c in crm.customers.find()] == ["张伟"]
    assert crm.path.read_bytes()[:16] == b"SQLite format 3\x00"
