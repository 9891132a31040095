"""`crm customers duplicates`: probable duplicates with a score and the reasons, worked
out by hand."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.domain.duplicates import duplicate_pairs

runner = CliRunner()


def test_scores_combine_the_kinds_of_match() -> None:
    pairs = duplicate_pairs([("phone", "+8613900001111", ["B", "A"]), ("email", "a@x.com", ["A", "B", "C"]),
                             ("name_company", "张伟 · 华信", ["A", "C"]), ("pinyin_company", "华信", ["A", "C", "D"])])
    got = {(p.first, p.second): (p.score, p.reasons) for p in pairs}
    assert got[("A", "B")] == (0.99, ["same phone +8613900001111", "same email a@x.com"])  # 1 − 0.1 × 0.1
    assert got[("A", "C")] == (0.98, ["same email a@x.com", "same name and company 张伟 · 华信"])  # 1 − 0.1 × 0.2
    assert got[("C", "D")] == (0.6, ["names sound alike at 华信"])
    assert [(p.first, p.second) for p in pairs][:2] == [("A", "B"), ("A", "C")]


def test_duplicates_command(crm: Crm, db_path: Path) -> None:
    a = crm.customers.create({"name": "张伟", "company": "华信", "mobile": "13900001111"})
    b = crm.customers.create({"name": "Zhang Wei", "company": "华信"})
    c = crm.customers.create({"name": "李娜", "phone": "+86 139 0000 1111"})
    crm.customers.create({"name": "王芳", "company": "别家"})
    result = runner.invoke(app, ["--db", str(db_path), "customers", "duplicates", "--json"])
    assert result.exit_code == 0, result.output
    pairs = json.loads(result.stdout)
    assert [(p["first"], p["second"], p["score"]) for p in pairs] == [(a["id"], c["id"], 0.9), (a["id"], b["id"], 0.6)]
    assert pairs[0]["reasons"] == ["same phone +8613900001111"] and pairs[1]["second_name"] == "Zhang Wei"
    result = runner.invoke(app, ["--db", str(db_path), "customers", "duplicates", "--min-score", "0.8", "--json"])
    assert len(json.loads(result.stdout)) == 1


def test_import_add_and_scan_call_the_same_customers_possible_duplicates(crm: Crm, db_path: Path,
                                                                        tmp_path: Path) -> None:
    # One rule (name_company_key): the same name at one company, however the company
    # is written. An import created such a customer without a word, while `add` warned
    # and the scan listed the pair; it warns now, and merges only by phone or email.
    held = crm.customers.create({"name": "张伟", "company": "华为"})
    path = tmp_path / "in.csv"
    path.write_text("姓名,公司,手机\n张伟,华为技术有限公司,\n李娜,Huawei Technologies Co.,13900001111\n"
                    "李娜,HUAWEI,\n王芳,华为,\n", encoding="utf-8")
    result = runner.invoke(app, ["--db", str(db_path), "customers", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["created"] == 4 and report["possible_duplicates"] == [
        {"line": 2, "of": f"customer {held['id']}"}, {"line": 4, "of": "line 3"}]
    assert f"line 2: 张伟 at 华为技术有限公司 may be the same customer as customer {held['id']}" in result.stderr
    assert "line 4: 李娜 at HUAWEI may be the same customer as line 3" in result.stderr
    scan = runner.invoke(app, ["--db", str(db_path), "customers", "duplicates", "--json"])
    names = {frozenset((p["first_name"], p["second_name"])) for p in json.loads(scan.stdout)
             if any("same name and company" in r for r in p["reasons"])}
    assert names == {frozenset({"张伟"}), frozenset({"李娜"})}
    added = runner.invoke(app, ["--db", str(db_path), "customers", "add", "--name", "王芳", "--company",
                                "华为技术"])
    assert added.exit_code == 0 and "same name and company" in added.stderr, added.output
    assert "张伟" not in added.stderr and "李娜" not in added.stderr


def test_the_table_keeps_each_id_whole_at_80_columns(crm: Crm, db_path: Path, monkeypatch) -> None:
    """An id is copied from the table into `crm customers merge KEEP OTHER`: it is never
    folded over two lines, whatever the column is called; a pair shows each customer's
    name above its id, and what does not fit 80 columns is named under the table."""
    a = crm.customers.create({"name": "欧阳娜娜", "company": "华信", "mobile": "13900001111"})
    b = crm.customers.create({"name": "Ouyang Nana", "phone": "+86 139 0000 1111"})
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("CRM_LANG", "en")
    out = runner.invoke(app, ["--db", str(db_path), "customers", "duplicates"]).stdout
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    assert any(a["id"] in line and b["id"] in line for line in lines), out  # both whole, on one row
    assert any("欧阳娜娜" in line and "Ouyang Nana" in line for line in lines), out
    assert "not shown for width: reasons" in " ".join(out.split()), out
    merges = runner.invoke(app, ["--db", str(db_path), "customers", "merge", a["id"], b["id"]])
    assert merges.exit_code == 0, merges.output
    out = runner.invoke(app, ["--db", str(db_path), "customers", "merges"]).stdout
    assert a["id"] in out and "other id" in " ".join(out.split()), out  # whole, or named as left out
