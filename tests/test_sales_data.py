"""Data and CLI correctness as a sales team meets it: a probability typed "50%",
unit prices of fractions of a cent, phone extensions, --help that marks only what the
user must give, company names written with and without their legal form. Each test
drives the CLI (or the API a form and an import share) and then looks at the data."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.domain.validation import ValidationError


def run(db: Path, *args: str):
    return CliRunner().invoke(app, ["--db", str(db), *args])


@pytest.fixture
def customer_id(db_path: Path) -> str:
    with Crm(db_path, rep="wang", create=True) as crm:
        return crm.customers.create({"name": "张伟", "company": "华为技术有限公司"})["id"]


# -- probability ------------------------------------------------------------------------


@pytest.mark.parametrize("typed, stored", [("50%", 50), ("50", 50), ("75 %", 75), ("０", 0), ("100％", 100),
                                           ("60.0", 60)])
def test_probability_takes_a_percent_sign(db_path: Path, customer_id: str, typed: str, stored: int) -> None:
    out = run(db_path, "opportunities", "add", "--customer", customer_id, "--title", "ERP", "--amount", "1000",
              "--stage", "proposal", "--probability", typed, "--json")
    assert out.exit_code == 0, out.output
    with Crm(db_path) as crm:
        assert [o["probability"] for o in crm.opportunities.find([])] == [stored]


@pytest.mark.parametrize("typed, words", [("0.5", "ambiguous: write 50 or 50%"), ("150%", "from 0 to 100"),
                                          ("12.5%", "whole percent"), ("half", "whole percent"),
                                          ("-5", "from 0 to 100")])
def test_a_probability_that_is_no_whole_percent_is_refused(db_path: Path, customer_id: str, typed: str,
                                                           words: str) -> None:
    out = run(db_path, "opportunities", "add", "--customer", customer_id, "--title", "ERP", "--amount", "1000",
              "--stage", "proposal", "--probability", typed)
    assert out.exit_code != 0
    assert "probability" in out.output and words in out.output, out.output
    assert "Traceback" not in out.output
    with Crm(db_path) as crm:
        assert crm.opportunities.count() == 0


def test_an_import_and_an_edit_read_a_probability_the_same_way(db_path: Path, customer_id: str,
                                                               tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text(f"客户,标题,金额,阶段,概率\n{customer_id},ERP,1000,proposal,60%\n"
                                        f"{customer_id},MES,500,lead,0.3\n", encoding="gb18030")
    out = run(db_path, "opportunities", "import", str(tmp_path / "deals.csv"))
    assert out.exit_code == 1 and "line 3" in out.output and "ambiguous" in out.output, out.output
    with Crm(db_path) as crm:
        assert crm.opportunities.count() == 0
    (tmp_path / "deals.csv").write_text(f"客户,标题,金额,阶段,概率\n{customer_id},ERP,1000,proposal,60%\n",
                                        encoding="gb18030")
    assert run(db_path, "opportunities", "import", str(tmp_path / "deals.csv")).exit_code == 0
    with Crm(db_path) as crm:
        deal = crm.opportunities.find([])[0]
        assert deal["probability"] == 60
        assert crm.opportunities.update(deal["id"], {"probability": "80%"})["probability"] == 80  # a form's edit
        with pytest.raises(ValidationError, match="probability"):
            crm.opportunities.update(deal["id"], {"probability": 0.8})


# -- --help marks only what the user must give -------------------------------------------


def option_line(help_text: str, option: str) -> str:
    lines = [line for line in help_text.splitlines() if f" {option} " in line]
    assert lines, f"{option} not in:\n{help_text}"
    return lines[0]


@pytest.mark.parametrize("lang, mark", [("en", "[required]"), ("zh", "[必填]")])
def test_help_marks_required_only_what_add_does_not_fill_in(lang: str, mark: str) -> None:
    def helps(*args: str) -> str:
        out = CliRunner().invoke(app, [*args, "--help"], env={"CRM_LANG": lang, "COLUMNS": "220"})
        assert out.exit_code == 0, out.output
        return out.stdout

    orders = helps("orders", "add")
    assert mark in option_line(orders, "--customer")
    for defaulted in ("--ordered-at", "--status"):  # today, confirmed
        assert mark not in option_line(orders, defaulted), orders
    assert "--line" in option_line(orders, "--amount") and mark not in option_line(orders, "--amount")
    visits = helps("visits", "add")
    assert mark not in option_line(visits, "--visited-at")  # now
    assert mark in option_line(visits, "--channel")
    complaints = helps("complaints", "add")
    for defaulted in ("--received-at", "--status", "--priority"):
        assert mark not in option_line(complaints, defaulted)
    assert mark in option_line(complaints, "--description")
    assert mark not in option_line(helps("opportunities", "add"), "--stage")  # the first open stage
    assert mark in option_line(helps("customers", "add"), "--name")
    for kind in ("orders", "customers", "complaints"):  # an edit changes only what it is given
        assert not [line for line in helps(kind, "edit").splitlines() if " --" in line and mark in line]


# -- phone extensions --------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["+86 10 8888 6666 转 801", "010-8888-6666 ext. 801", "010 88886666 x801",
                                   "010-88886666-801", "(010) 8888 6666 分机801", "+861088886666;ext=801"])
def test_a_phone_with_an_extension_is_kept_with_it(db_path: Path, typed: str) -> None:
    out = run(db_path, "customers", "add", "--name", "李娜", "--phone", typed, "--json")
    assert out.exit_code == 0, out.output
    with Crm(db_path) as crm:
        assert [c["phone"] for c in crm.customers.find([])] == ["+861088886666;ext=801"]


def test_extensions_show_dedupe_and_round_trip(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(db_path, "customers", "add", "--name", "李娜", "--phone", "010-8888-6666 转 801").exit_code == 0
    listed = CliRunner().invoke(app, ["--db", str(db_path), "customers", "list"], env={"COLUMNS": "200"})
    assert "010 8888 6666 ext. 801" in listed.output, listed.output
    monkeypatch.setenv("CRM_LANG", "zh")
    listed = CliRunner().invoke(app, ["--db", str(db_path), "customers", "list"], env={"COLUMNS": "200"})
    assert "010 8888 6666 转 801" in listed.output, listed.output
    monkeypatch.setenv("CRM_LANG", "en")
    # The same extension, written another way, is the same number: a likely duplicate.
    same = run(db_path, "customers", "add", "--name", "李娜", "--phone", "010 88886666 x801")
    assert same.exit_code == 0 and "possible duplicate" in same.output.lower(), same.output
    # Another extension of the same switchboard is a colleague, not the same person.
    other = run(db_path, "customers", "add", "--name", "王强", "--phone", "010 8888 6666 转 802")
    assert other.exit_code == 0 and "duplicate" not in other.output.lower(), other.output
    scan = run(db_path, "customers", "duplicates", "--json")
    assert scan.exit_code == 0
    import json

    pairs = json.loads(scan.output)
    assert {frozenset((p["first_name"], p["second_name"])) for p in pairs} == {frozenset(("李娜",))}
    exported = tmp_path / "customers.csv"
    assert run(db_path, "customers", "export", "-o", str(exported)).exit_code == 0
    again = tmp_path / "again.db"
    assert run(again, "customers", "import", str(exported)).exit_code == 0
    with Crm(db_path) as before, Crm(again) as after:
        assert sorted(c["phone"] for c in before.customers.find([])) == \
            sorted(c["phone"] for c in after.customers.find([])) == \
            ["+861088886666;ext=801", "+861088886666;ext=801", "+861088886666;ext=802"]


def test_a_gb18030_file_with_extensions_imports(db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "客户.csv").write_bytes("姓名,公司,电话\n张伟,华为技术有限公司,010-8888-6666转801\n"
                                       "王芳,华为技术有限公司,010-8888-6666 分机 802\n".encode("gb18030"))
    out = run(db_path, "customers", "import", str(tmp_path / "客户.csv"))
    assert out.exit_code == 0, out.output
    with Crm(db_path) as crm:
        assert sorted(c["phone"] for c in crm.customers.find([])) == ["+861088886666;ext=801",
                                                                      "+861088886666;ext=802"]


# -- company names -----------------------------------------------------------------------


@pytest.mark.parametrize("first, second", [
    ("华为", "华为技术"), ("华为", "华为技术有限公司"), ("华为技术", "华为技术股份有限公司"),
    ("华为技术有限公司", "华为（中国）有限公司"), ("Huawei Technologies Co., Ltd.", "Huawei"),
    ("HUAWEI TECHNOLOGIES CO.,LTD", "Huawei Technologies"), ("腾讯科技（深圳）有限公司", "腾讯"),
    ("阿里巴巴集团", "阿里巴巴（中国）网络技术有限公司"), ("Siemens AG", "SIEMENS"), ("The Boeing Company", "Boeing"),
])
def test_one_company_written_two_ways_has_one_key(first: str, second: str) -> None:
    from crm_tui.domain.companies import company_key

    assert company_key(first) == company_key(second) != ""


@pytest.mark.parametrize("first, second", [
    ("华为", "华润"), ("北京科技有限公司", "北京电子有限公司"), ("北京科技有限公司", "北京技术有限公司"),
    ("中国银行", "中国建设银行股份有限公司"), ("华信科技", "华信电子"), ("Apple Inc.", "Applied Materials, Inc."),
    ("Siemens AG", "Siemens Healthineers AG"), ("华为", "Huawei"),  # names are not translated
    ("上海电气集团", "上海"),
])
def test_different_companies_keep_different_keys(first: str, second: str) -> None:
    from crm_tui.domain.companies import company_key

    assert company_key(first) != company_key(second)


def test_the_duplicates_scan_and_the_add_warning_compare_companies_by_their_key(db_path: Path) -> None:
    people = [("张伟", "华为"), ("张伟", "华为技术"), ("Zhang Wei", "华为技术有限公司"),  # one person, three ways
              ("张伟", "华润"), ("张伟", None), ("张伟", None),  # other people of the same name
              ("李娜", "Huawei Technologies Co., Ltd."), ("李娜", "HUAWEI"),
              ("王芳", "北京科技有限公司"), ("王芳", "北京电子有限公司"),
              ("华为技术有限公司", None), ("华为", None), ("Apple Inc.", None), ("Applied Materials, Inc.", None)]
    with Crm(db_path, create=True) as crm:
        ids = {}
        for name, company in people:
            ids[crm.customers.create({"name": name, "company": company})["id"]] = f"{name}@{company or ''}"
        from crm_tui.api.duplicates import find_duplicates

        found = {frozenset((ids[p["first"]], ids[p["second"]])): p for p in find_duplicates(crm)}
    assert set(found) == {
        frozenset(("张伟@华为", "张伟@华为技术")),
        frozenset(("张伟@华为", "Zhang Wei@华为技术有限公司")), frozenset(("张伟@华为技术", "Zhang Wei@华为技术有限公司")),
        frozenset(("李娜@Huawei Technologies Co., Ltd.", "李娜@HUAWEI")),
        frozenset(("华为技术有限公司@", "华为@")),
    }
    pair = found[frozenset(("张伟@华为", "张伟@华为技术"))]
    assert pair["score"] == 0.8 and "华为 / 华为技术" in pair["reasons"][0]
    assert found[frozenset(("华为技术有限公司@", "华为@"))]["score"] == 0.7
    # adding 张伟 at 华为技术股份有限公司 warns of the 张伟 at 华为 and at 华为技术, not the one at 华润
    out = run(db_path, "customers", "add", "--name", "张伟", "--company", "华为技术股份有限公司")
    assert out.exit_code == 0
    warned = {line for line in out.output.splitlines() if "possible duplicate" in line.lower()}
    assert len(warned) == 2, out.output


# -- the funnel's days -------------------------------------------------------------------


def test_the_funnel_shows_days_in_a_stage_to_one_decimal(db_path: Path) -> None:
    import json

    assert run(db_path, "seed", "--customers", "40", "--seed", "3").exit_code == 0
    year = json.loads(run(db_path, "funnel", "--period", "2026", "--json").stdout)
    days = {s["stage"]: s["avg_days"] for s in year["stages"] if s["avg_days"] is not None}
    assert days
    table = CliRunner().invoke(app, ["--db", str(db_path), "funnel", "--period", "2026"], env={"COLUMNS": "200"})
    cells = {row[0]: row[-1] for line in table.stdout.splitlines()
             if len(row := [c.strip() for c in line.strip("│ ").split("│")]) == 4}
    for stage, value in days.items():
        assert cells[stage] == f"{value:.1f}", (stage, cells)
