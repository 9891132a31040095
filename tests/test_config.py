"""The one typed config: loaded and validated once, errors naming the key and the
file, and the same settings behind the CLI, the API and the UI."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app as cli
from crm_tui.config import Config, ConfigError

runner = CliRunner()


def write_config(text: str) -> Path:
    path = Path(os.environ["CRM_CONFIG"])
    path.write_text(text, encoding="utf-8")
    return path


def test_sla_from_the_config_is_the_same_in_the_cli_and_the_ui(db_path: Path) -> None:
    write_config("[sla.resolution]\nhigh = 2\n")
    with Crm(db_path, rep="wang") as crm:
        customer = crm.customers.create({"name": "刘洋"})
    result = runner.invoke(cli, ["complaints", "add", "--db", str(db_path), "--customer", customer["id"],
                                 "--type", "delivery", "--description", "晚到", "--priority", "high",
                                 "--received-at", "2026-10-01 09:00", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["due_at"] == "2026-10-01T11:00:00"  # 2 h, not the default 24 h

    ui = CrmApp(db_path)
    try:
        assert ui.workflow is ui.crm.complaint_workflow and ui.agenda is ui.crm.agenda
        opened = ui.workflow.open({"customer_id": customer["id"], "type": "price", "description": "贵",
                                   "priority": "high", "received_at": "2026-10-01 09:00"})
        assert opened["due_at"] == "2026-10-01T11:00:00"
        assert ui.crm.analytics.policy is ui.workflow.policy  # reports judge the same SLA
    finally:
        ui.crm.close()


@pytest.mark.parametrize(("text", "named"), [
    ("colour = 'red'\n", "colour"),
    ("lang = 3\n", "lang"),
    ("[sla.resolution]\nhigh = 'two'\n", "sla.resolution.high"),
    ("[sla]\nresolutoin = {high = 2}\n", "sla.resolutoin"),
    ("[analytics]\nchurn_dayz = 10\n", "analytics.churn_dayz"),
    ("[sync]\nserver = 5\n", "sync.server"),
    ("[keys]\n'app.help' = 1\n", "keys.app.help"),
    ("sla = 3\n", "sla"),
])
def test_unknown_keys_and_wrong_types_name_the_key_and_the_file(text: str, named: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as err:
        Config.load()
    assert str(path) in str(err.value) and f"{named}:" in str(err.value)


def test_a_bad_config_stops_a_cli_command_with_a_message(db_path: Path) -> None:
    path = write_config("[analytics]\nchurn_days = 'soon'\n")
    result = runner.invoke(cli, ["customers", "list", "--db", str(db_path)])
    assert result.exit_code == 1
    assert str(path) in result.output and "analytics.churn_days" in result.output
    assert "Traceback" not in result.output


def test_the_crm_builds_its_use_cases_from_the_config_it_is_given(db_path: Path) -> None:
    config = Config.from_mapping({"rep": "zhao", "analytics": {"churn_days": 200},
                                  "sla": {"first_response": {"low": 10}}})
    noon = dt.datetime(2026, 10, 1, 12, 0)
    with Crm(db_path, config=config, now=lambda: noon) as crm:
        assert crm.replica["rep"] == "zhao"
        assert crm.analytics.settings.churn_days == 200
        assert crm.complaint_workflow.policy.first_response_due("2026-10-01T00:00:00", "low") == "2026-10-01T10:00:00"
        assert crm.agenda.today() == crm.analytics.today() == noon.date()


def test_login_keeps_the_rest_of_the_config(db_path: Path) -> None:
    from crm_tui.config import save_settings

    write_config("lang = 'zh'\n\n[sla.resolution]\nhigh = 2\n")
    save_settings({"rep": "wang", "sync": {"server": "http://127.0.0.1:1", "token": "t"}})
    config = Config.load()
    assert (config.lang, config.rep, config.sync.server) == ("zh", "wang", "http://127.0.0.1:1")
    assert config.sla.resolution["high"] == dt.timedelta(hours=2)
