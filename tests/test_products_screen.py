"""The products screen (issue 13): the catalogue filtered as you type, a product added
and edited by a manager (or on a laptop of no team server), read-only for a rep of a
team server; reached by F10 and from the command palette; at 80x24 and in Chinese."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from pilot_steps import pick_from_palette, settle

from crm_tui.api import Crm, Filter
from crm_tui.app import CrmApp
from crm_tui.config import SyncSettings
from crm_tui.screens.form import FormScreen
from crm_tui.screens.products import ProductsScreen


@pytest.fixture
def catalogue(crm: Crm) -> Crm:
    crm.products.create({"sku": "SN-100", "name": "工业传感器", "category": "传感器", "unit": "个", "list_price": 1200})
    crm.products.create({"sku": "CB-200", "name": "屏蔽电缆", "category": "线缆", "unit": "米", "list_price": 9.5})
    crm.products.create({"sku": "SN-300", "name": "Pressure sensor", "category": "传感器", "unit": "个",
                         "list_price": 800, "active": 0})
    return crm


def skus(screen: ProductsScreen) -> list[str]:
    table = screen.table
    return [table.record_at(i)["sku"] for i in range(table.total)]


@pytest.mark.anyio
async def test_filter_as_you_type_add_and_edit_in_80x24(catalogue: Crm) -> None:
    app_ = CrmApp(crm=catalogue, config={}, lang="zh", now=lambda: dt.datetime(2026, 3, 2, 9))
    async with app_.run_test(size=(80, 24)) as pilot:
        await pilot.press("f10")
        await settle(pilot)
        screen = app_.screen
        assert isinstance(screen, ProductsScreen)
        assert skus(screen) == ["CB-200", "SN-100", "SN-300"]
        await pilot.press(*"传感器")
        await settle(pilot)
        assert skus(screen) == ["SN-100", "SN-300"]
        await pilot.press(*" press")
        await settle(pilot)
        assert skus(screen) == ["SN-300"]
        assert "1 / 3" in str(screen.query_one("#products-count").content)
        # New product: the form in Chinese, saved through the API.
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app_.screen, FormScreen)
        await pilot.press(*"GW-1")
        await pilot.press("tab")
        await pilot.press(*"网关")
        await pilot.press("ctrl+s")
        await settle(pilot)
        [gw] = catalogue.products.find([Filter("sku", "=", "GW-1")])
        assert gw["name"] == "网关" and gw["active"] == 1
        # Edit the one under the cursor: Enter from the list.
        await pilot.press("escape")  # clear the filter
        await settle(pilot)
        assert skus(screen) == ["CB-200", "GW-1", "SN-100", "SN-300"]
        await pilot.press("down", "down")  # to the list, then GW-1
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app_.screen, FormScreen)
        app_.screen.query_one("#field-list_price").value = "499"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert catalogue.products.get(gw["id"])["list_price"] == 499.0


@pytest.mark.anyio
async def test_a_rep_on_a_team_server_sees_the_catalogue_read_only(catalogue: Crm) -> None:
    # A team server in the config, no manager role learnt from it: a rep.
    catalogue.config = dataclasses.replace(catalogue.config, sync=SyncSettings(server="http://127.0.0.1:9",
                                                                               token="t"))
    app_ = CrmApp(crm=catalogue, config={}, lang="en", now=lambda: dt.datetime(2026, 3, 2, 9))
    async with app_.run_test(size=(100, 30)) as pilot:
        # Through the palette, as a user finds a screen.
        await pick_from_palette(pilot, "Products", "Products")
        screen = app_.screen
        assert isinstance(screen, ProductsScreen)
        assert "read-only" in str(screen.query_one("#products-count").content)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app_.screen is screen  # no form
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app_.screen is screen
        assert len(catalogue.products.find()) == 3
