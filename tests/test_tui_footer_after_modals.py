"""The customer list's footer after a new-customer form is left through its "discard
your changes?" question (found by x-trial in tmux at 80x24): it showed only 'f1 Help'
and '^p Commands' until a key was pressed. The list's footer was composed again while
the screen came back from under the two modals, at width 0 before its layout, so
every key but help left 'for width', and nothing composed it again at 80."""

from __future__ import annotations

from pathlib import Path

import pytest
from pilot_steps import settle
from textual.widgets._footer import FooterKey

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.screens.customers import CustomersScreen
from crm_tui.screens.form import FormScreen
from crm_tui.screens.modals import ConfirmScreen
from crm_tui.widgets.footer import CrmFooter

pytestmark = pytest.mark.anyio


def footer_keys(app: CrmApp) -> list[str]:
    return [key.key_display for key in app.screen.query_one(CrmFooter).query(FooterKey)]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_lists_keys_are_back_after_a_form_is_discarded(db_path: Path, lang: str) -> None:
    with Crm(db_path) as crm:
        for name in ("张伟", "王芳"):
            crm.customers.create({"name": name})
    app = CrmApp(db_path, config={}, lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen)
        before = footer_keys(app)
        assert "^n" in before and "/" in before
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press("a", "b", "c", "escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen)
        assert footer_keys(app) == before
