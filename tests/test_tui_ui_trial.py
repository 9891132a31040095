"""Defects of the terminal UI found by using it (the top bar, record names shown as
markup, Chinese wrapping, the pipeline's figures under a search), each driven with
Pilot as the rep met it, in English and Chinese, at 80x24 and on a large terminal."""

from __future__ import annotations

import datetime as dt

import pytest
from pilot_steps import settle
from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from crm_tui.api import Crm
from crm_tui.app import CrmApp

NOW = dt.datetime(2026, 3, 2, 9, 0)
SMALL, LARGE = (80, 24), (200, 50)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(crm: Crm, lang: str = "en") -> CrmApp:
    return CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)


def nav_text(app: CrmApp) -> str:
    nav = app.screen.query_one("#nav", Static)
    plain = Text.from_markup(str(nav.content)).plain
    assert cell_len(plain) <= nav.region.width, plain  # whole, not cut at the edge
    return plain


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "200x50"])
async def test_every_screen_is_reached_by_its_key_and_listed_in_the_top_bar(crm: Crm, lang: str, size) -> None:
    """Each top-level screen (F10 Products too) opens by its key and is listed in the
    top bar of every screen beside the others, named on a large terminal."""
    crm.customers.create({"name": "张伟"})
    app = make_app(crm, lang)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        opened = {b.action: app.get_key_display(b) for _, b in app._bindings if b.action.startswith("open(")}
        assert {f"open('{mode}')" for mode in app.MODES} <= set(opened), opened
        for action, key in opened.items():
            mode = action[len("open('"):-2]
            await pilot.press(key.lower())
            await settle(pilot)
            assert app.current_mode == mode and len(app.screen_stack) == 1, (key, app.current_mode)
            shown = nav_text(app)
            for other_key in opened.values():
                assert other_key in shown.split(), (mode, other_key, shown)
            if size == LARGE:
                for _, binding in app._bindings:
                    if binding.action in opened:
                        assert binding.description in shown, (mode, binding.description, shown)
