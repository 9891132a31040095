"""A deal won twice with --create-order is sold once: `crm opportunities move ID
--stage won --create-order` run a second time made a second order of the deal's
amount, doubling its sales in every report, where `quotes accept` and
`opportunities order` refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

runner = CliRunner()


def test_winning_a_deal_again_makes_no_second_order(crm: Crm) -> None:
    customer = crm.customers.create({"name": "王芳"})["id"]
    deal = crm.opportunities.create({"customer_id": customer, "title": "ERP 项目", "amount": 120000})["id"]
    args = ["--db", str(crm.path), "opportunities", "move", deal, "--stage", "won", "--create-order"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1, again.output
    orders = json.loads(runner.invoke(app, ["--db", str(crm.path), "orders", "list", "--json"]).stdout)
    assert [o["amount"] for o in orders] == [120000.0]
    assert orders[0]["id"] in again.stderr
    assert crm.opportunities.get(deal)["order_id"] == orders[0]["id"]
