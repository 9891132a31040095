"""An import never silently overwrites a different person: a customer row whose phone
or email is an existing customer's (or an earlier row's) but whose name differs is
rejected with the reason, unless --update-on-match."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.api.importing import import_records
from crm_tui.cli import app

runner = CliRunner()


def test_a_shared_mobile_does_not_make_another_person_an_update(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    old = crm.customers.create({"name": "新客", "mobile": "13900001111", "region": "华东"})
    path = tmp_path / "new.csv"
    path.write_text("姓名,手机,地区\n新客二,139 0000 1111,华北\n新客,13900001111,华南\n", encoding="utf-8")

    report = import_records(crm, "customers", path)
    assert [str(r) for r in report.rejected] == [
        f"line 2: mobile: +8613900001111 is the Mobile of customer {old['id']} 新客, not of 新客二; not "
        "overwritten (fix the row, or import with --update-on-match to update that customer)"]
    assert crm.customers.get(old["id"])["name"] == "新客" and crm.customers.count() == 1

    report = import_records(crm, "customers", path, skip_invalid=True)  # the same person (line 3) updates
    assert (report.updated, len(report.rejected)) == (1, 1)
    assert crm.customers.get(old["id"])["region"] == "华南" and crm.customers.get(old["id"])["name"] == "新客"

    result = runner.invoke(app, ["--db", str(db_path), "customers", "import", str(path), "--update-on-match"])
    assert result.exit_code == 0, result.output
    # Told to, the rows update the customer in order: the name too.
    assert crm.customers.get(old["id"])["name"] == "新客" and crm.customers.count() == 1


def test_two_people_with_one_email_in_one_file(crm: Crm, tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text("name,email\n王芳,office@example.com\n李娜,office@example.com\n", encoding="utf-8")
    report = import_records(crm, "customers", path)
    assert len(report.rejected) == 1 and report.rejected[0].line == 3
    assert "is the Email of line 2 王芳, not of 李娜" in report.rejected[0].reason
    assert crm.customers.count() == 0  # all or nothing


def test_another_persons_number_is_refused_in_chinese(crm: Crm, tmp_path: Path, monkeypatch) -> None:
    from test_zh_everywhere import english_fragments_in, without

    old = crm.customers.create({"name": "新客", "mobile": "13900001111"})
    path = tmp_path / "new.csv"
    path.write_text("姓名,手机\n新客二,139 0000 1111\n", encoding="utf-8")
    monkeypatch.setenv("CRM_LANG", "zh")
    result = runner.invoke(app, ["--db", str(crm.path), "customers", "import", str(path)])
    assert result.exit_code == 1
    assert f"手机（mobile）：+8613900001111 是客户 {old['id']}（新客）的手机，不是 新客二 的；未覆盖" in result.output
    assert english_fragments_in(without(result.output, ["mobile", "--update-on-match", old["id"]])) == [], result.output
