"""Every bad input answered (issue 9, item 5): a clear error naming the line, record
or field, exit code 1, no traceback, and nothing written. Each test runs the real
CLI through typer's CliRunner and then looks at the database."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_steps import invoke, refused

from crm_tui.api import Crm
from crm_tui.db import connection

pytestmark = pytest.mark.usefixtures("wide_terminal")


# -- files that are not what they claim -------------------------------------------------


def test_a_utf8_csv_with_one_gbk_row_names_the_line(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("name,company\n张伟,华为\n李娜,腾讯\n".encode() + "王芳,阿里\n".encode("gbk")
                     + "赵磊,京东\n".encode())
    refused(invoke(db_path, "customers", "import", str(path)), "mixed text encodings", "line 4")
    assert crm.customers.count() == 0


def test_a_gbk_csv_still_imports(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("name,company\n张伟,华为\n李娜,腾讯\n".encode("gbk"))
    assert invoke(db_path, "customers", "import", str(path)).exit_code == 0
    assert sorted(c["name"] for c in crm.customers.find()) == ["张伟", "李娜"]


@pytest.mark.parametrize(("cell", "field"), [
    ("true", "company"), ("false", "notes"), ("[\"a\", \"b\"]", "company"), ("{\"a\": 1}", "name"),
    ("1e309", "company"), ("NaN", "company"), ("-Infinity", "notes"), ("[1, 2]", "region"),
])
def test_json_import_refuses_values_of_the_wrong_type(crm: Crm, db_path: Path, tmp_path: Path,
                                                       cell: str, field: str) -> None:
    path = tmp_path / "customers.json"
    good = '{"name": "张伟", "company": "华为"}'
    bad = f'{{"name": "李娜", "company": "腾讯", "{field}": {cell}}}'  # a key given twice: the last counts
    path.write_text(f"[{good}, {bad}]", encoding="utf-8")
    refused(invoke(db_path, "customers", "import", str(path)), "record 2", field)
    assert crm.customers.count() == 0


def test_json_tags_may_be_a_list(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "customers.json"
    path.write_text('[{"name": "张伟", "tags": ["vip", "华东"], "notes": 12}]', encoding="utf-8")
    assert invoke(db_path, "customers", "import", str(path)).exit_code == 0
    [customer] = crm.customers.find()
    assert customer["tags"] == "vip,华东" and customer["notes"] == "12"


def test_deeply_nested_json_is_an_error_not_a_recursion_traceback(crm: Crm, db_path: Path,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    refused(invoke(db_path, "customers", "import", str(path)), "nested too deeply")
    assert crm.changes() == []


# -- what the product writes ---------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]


def test_report_csv_neutralises_formulas_as_export_does(crm: Crm, db_path: Path) -> None:
    for i, name in enumerate(FORMULAS):
        customer = crm.customers.create({"name": name, "company": f"Co {i}"})
        crm.orders.create({"customer_id": customer["id"], "ordered_at": "2026-05-0" + str(i + 1),
                           "product": name, "amount": str(100 + i)})
    result = invoke(db_path, "report", "--period", "2026", "--format", "csv", "--today", "2026-06-30")
    assert result.exit_code == 0, result.output
    cells = [cell for row in csv.reader(io.StringIO(result.stdout)) for cell in row]
    names = [c for c in cells if c.lstrip("'") in FORMULAS]
    assert names, "the customers' names are in the report"
    assert all(c.startswith("'") for c in names), names
    # numbers (negative ones too) stay numbers
    assert not any(c.startswith("'") for c in cells if c.lstrip("'").replace(".", "").lstrip("-").isdigit())
    exported = invoke(db_path, "customers", "export", "--format", "csv").stdout
    for name in FORMULAS:  # the same neutralisation as the export
        assert ("'" + name) in exported.replace('""', '"')


def test_rejects_file_is_neutralised_and_its_fix_imports_back(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("name,phone\n=1+1,12345\n张伟,13812345678\n", encoding="utf-8")
    result = invoke(db_path, "customers", "import", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    rejects = (tmp_path / "in.rejects.csv").read_text(encoding="utf-8-sig")
    assert "'=1+1" in rejects
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(rejects.replace(",12345,", ",13912345678,"), encoding="utf-8")
    assert invoke(db_path, "customers", "import", str(fixed)).exit_code == 0
    assert sorted(c["name"] for c in crm.customers.find()) == ["=1+1", "张伟"]


# -- filters --------------------------------------------------------------------------------


def test_where_value_may_hold_operator_characters(crm: Crm, db_path: Path) -> None:
    crm.customers.create({"name": "张伟", "notes": "discount a=b agreed"})
    crm.customers.create({"name": "李娜", "notes": "a b"})
    result = invoke(db_path, "customers", "list", "--where", "notes~a=b", "--json")
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in json.loads(result.stdout)] == ["张伟"]
    result = invoke(db_path, "customers", "list", "--where", "notes!=a b", "--json")
    assert [c["name"] for c in json.loads(result.stdout)] == ["张伟"]


@pytest.mark.parametrize("condition", ["amount<", "amount>= ", "product~", "amount<=  "])
def test_an_empty_operand_is_refused(crm: Crm, db_path: Path, condition: str) -> None:
    customer = crm.customers.create({"name": "张伟"})
    crm.orders.create({"customer_id": customer["id"], "ordered_at": "2026-05-01", "product": "A", "amount": "100"})
    refused(invoke(db_path, "orders", "list", "--where", condition), condition.split("<")[0].split(">")[0]
            .split("~")[0], "needs a value")
    refused(invoke(db_path, "orders", "update", "--where", condition, "--set", "amount=1"), "needs a value")
    assert [o["amount"] for o in crm.orders.find()] == [100.0]


# -- empty means none -------------------------------------------------------------------------


def test_empty_owner_means_none_like_every_field(crm: Crm, db_path: Path) -> None:
    added = json.loads(invoke(db_path, "customers", "add", "--name", "张伟", "--owner", "", "--region", "",
                               "--json").stdout)
    stored = crm.customers.get(added["id"])
    assert stored["owner"] == "wang" and stored["region"] is None  # no owner given: the laptop's rep
    # every record has an owner, as every customer has a name: emptying it is refused
    refused(invoke(db_path, "customers", "edit", added["id"], "--owner", ""), "owner", "is required")
    refused(invoke(db_path, "customers", "update", "--all", "--set", "owner="), "owner", "is required")
    assert crm.customers.get(added["id"])["owner"] == "wang"
    assert crm.conn.execute("SELECT count(*) FROM customers WHERE owner = ''").fetchone()[0] == 0
    # as a filter, empty means "has none"
    assert json.loads(invoke(db_path, "customers", "list", "--owner", "", "--json").stdout) == []
    listed = json.loads(invoke(db_path, "customers", "list", "--region", "", "--json").stdout)
    assert [c["id"] for c in listed] == [added["id"]]


# -- a database another program holds ---------------------------------------------------------

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE replica SET rep = rep")
print("holding", flush=True)
time.sleep(30)
"""


def test_a_database_locked_by_another_writer_names_it_and_exits(crm: Crm, db_path: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.5)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        rows = tmp_path / "customers.csv"
        rows.write_text("name,mobile\n赵六,13900001111\n", encoding="utf-8")
        for args in (["customers", "add", "--name", "张伟"], ["customers", "import", str(rows)]):
            started = time.monotonic()
            result = invoke(db_path, *args)
            refused(result, "busy", f"process {holder.pid}", "0.5 s")
            # it waited the busy timeout it names, and no longer (the holder keeps it 30 s)
            assert 0.5 <= time.monotonic() - started < 8  # not the default 10 s
    finally:
        holder.kill()
        holder.wait()
    assert crm.customers.count() == 0
    assert invoke(db_path, "customers", "add", "--name", "张伟").exit_code == 0  # free again


# -- a mistyped --db ----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["customers", "list"], ["customers", "show", "01ABC"], ["customers", "export"], ["orders", "list"],
    ["customers", "update", "--where", "region=华东", "--set", "tier=A"], ["changes", "list"],
    ["report", "--period", "2026"], ["classify"], ["conflicts", "list"], ["complaints", "close", "01ABC"],
])
def test_a_read_command_on_a_missing_database_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    typo = tmp_path / "crm-typo.db"
    refused(invoke(typo, *args), f"there is no database at {typo}")
    assert list(tmp_path.iterdir()) == [] or not typo.exists()
    assert not typo.exists()


@pytest.mark.parametrize("args", [["init"], ["customers", "add", "--name", "张伟"], ["seed", "-n", "2"]])
def test_commands_that_put_data_in_may_create_it(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "new" / "crm.db"
    assert invoke(path, *args).exit_code == 0
    assert path.exists()
    assert invoke(path, "customers", "list", "--json").exit_code == 0
