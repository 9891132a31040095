"""What every `crm … add` prints, one rule (cli.common.print_added): to a script the
new record's id alone, so `K=$(crm complaints add …)` holds the id; on a terminal a
confirmation and the record; with --json the record. Each add printed "added … ID"
and the whole record wherever its output went, and surveys add no id at all."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from cli_steps import run, run_json

from crm_tui.api import Crm

pytestmark = pytest.mark.usefixtures("wide_terminal")


def added_id(db: Path, *args: str) -> str:
    """The command's stdout, which must be one id and nothing else."""
    out = run(db, *args).stdout
    assert out.endswith("\n") and out.count("\n") == 1, out
    return out.strip()


def test_every_add_prints_the_new_records_id_alone_to_a_script(crm: Crm, db_path: Path) -> None:
    customer = added_id(db_path, "customers", "add", "--name", "张伟", "--company", "华信科技")
    assert crm.customers.get(customer)["name"] == "张伟"
    contact = added_id(db_path, "contacts", "add", "--customer", customer, "--name", "王经理")
    assert crm.contacts.get(contact)["customer_id"] == customer
    visit = added_id(db_path, "visits", "add", "--customer", customer, "--channel", "phone", "--purpose", "visit")
    assert crm.visits.get(visit)["channel"] == "phone"
    complaint = added_id(db_path, "complaints", "add", "--customer", customer, "--type", "delivery",
                         "--description", "货物晚到一周")
    assert crm.complaints.get(complaint)["status"] == "new"
    product = added_id(db_path, "products", "add", "--sku", "SN-100", "--name", "工业传感器", "--list-price", "1200")
    assert crm.products.get(product)["sku"] == "SN-100"
    order = added_id(db_path, "orders", "add", "--customer", customer, "--line", "SN-100:2")
    assert crm.orders.get(order)["amount"] == 2400
    deal = added_id(db_path, "opportunities", "add", "--customer", customer, "--title", "泵站改造",
                    "--amount", "50000")
    assert crm.opportunities.get(deal)["title"] == "泵站改造"
    quote = added_id(db_path, "quotes", "add", "--opportunity", deal, "--line", "SN-100:1")
    assert crm.quote_book.get(quote)["opportunity_id"] == deal
    survey = added_id(db_path, "surveys", "add", customer, "--expected", "8", "--perceived", "9")
    assert [s["id"] for s in crm.analytics.list_surveys(customer)] == [survey]


def test_add_with_json_prints_the_record(crm: Crm, db_path: Path) -> None:
    customer = run_json(db_path, "customers", "add", "--name", "李娜")
    assert crm.customers.get(customer["id"])["name"] == "李娜"
    run(db_path, "products", "add", "--sku", "P-1", "--name", "泵", "--list-price", "10")
    order = run_json(db_path, "orders", "add", "--customer", customer["id"], "--line", "P-1:3")
    assert [line["quantity"] for line in order["lines"]] == [3]
    survey = run_json(db_path, "surveys", "add", customer["id"], "--expected", "8", "--perceived", "4")
    assert survey["c"] == 0.5


def test_a_duplicate_warning_leaves_stdout_to_the_id(crm: Crm, db_path: Path) -> None:
    first = added_id(db_path, "customers", "add", "--name", "张伟", "--mobile", "13812345678")
    result = run(db_path, "customers", "add", "--name", "Zhang Wei", "--mobile", "138 1234 5678")
    assert first in result.stderr and "possible duplicate" in result.stderr
    second = result.stdout.strip()
    assert second != first and crm.customers.get(second)["name"] == "Zhang Wei"


@pytest.mark.parametrize(("lang", "said"), [("en", "added customer"), ("zh", "已添加客户")])
def test_on_a_terminal_add_confirms_and_shows_the_record(tmp_path: Path, lang: str, said: str) -> None:
    """A real terminal (a pseudo-terminal, as a shell gives): the person reads the
    confirmation and what was stored, the phone as people read it."""
    db = tmp_path / "crm.db"
    env = {**os.environ, "CRM_LANG": lang, "COLUMNS": "120", "CRM_CONFIG": str(tmp_path / "none.toml")}
    env.pop("CRM_DB", None)
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "crm_tui", "--db", str(db), "customers", "add",
                             "--name", "张伟", "--mobile", "13812345678"],
                            stdout=child, stderr=subprocess.PIPE, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    shown = b"".join(chunks).decode()
    with Crm(db) as crm:
        [record] = crm.customers.find()
    assert said in shown and record["id"] in shown
    assert "张伟" in shown and "138 1234 5678" in shown
