"""Regenerate the screenshots of the main screens in docs/screenshots/, in English and
Chinese: SVG files drawn by Textual itself from the real app on a demo database (a
fixed seed and a fixed day, so a rerun changes only what the UI changed).

    .venv/bin/python scripts/screenshots.py            # all screens, both languages
    .venv/bin/python scripts/screenshots.py --lang zh  # one language

The files are referenced from README.md and docs/tui.md; rerun this after changing a
screen and look at the SVGs (any browser shows them) before committing."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.api.seed import seed
from crm_tui.app import CrmApp
from crm_tui.config import DEMO_REP

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
NOW = dt.datetime(2026, 11, 23, 9, 30)  # a Monday morning
SIZE = (120, 36)
SMALL = (80, 24)  # a field laptop's terminal, a split tmux pane
# (file name, keys pressed from the customer list, terminal size): the main screens,
# then the busiest of them at 80x24.
SCREENS = [
    ("customers", [], SIZE),
    ("customer", ["down", "enter"], SIZE),
    ("customer-form", ["ctrl+n"], SIZE),
    ("agenda", ["f3"], SIZE),
    ("complaints", ["f4"], SIZE),
    ("orders", ["f5"], SIZE),
    ("dashboard", ["f6"], SIZE),
    ("conflicts", ["f7"], SIZE),
    ("pipeline", ["f8"], SIZE),
    ("products", ["f10"], SIZE),
    ("help", ["f1"], SIZE),
    ("80x24-customers", [], SMALL),
    ("80x24-complaints", ["f4"], SMALL),
    ("80x24-dashboard", ["f6"], SMALL),
    ("80x24-pipeline", ["f8"], SMALL),
    ("80x24-customer", ["down", "enter"], SMALL),
    ("80x24-products", ["f10"], SMALL),
]


async def shoot(db: Path, lang: str, name: str, keys: list[str], size: tuple[int, int]) -> Path:
    with Crm(db) as crm:
        crm.now = lambda: NOW
        app = CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)
        async with app.run_test(size=size) as pilot:
            for key in ["wait", *keys]:
                if key != "wait":
                    await pilot.press(key)
                for _ in range(3):  # let the workers load the screen's data
                    await app.workers.wait_for_complete()
                    await pilot.pause()
            for box in app.screen.query("Input"):
                box.cursor_blink = False
            await pilot.pause()
            path = OUT / f"{lang}-{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=["en", "zh"], action="append", help="only this language (repeatable)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        with Crm(db, rep=DEMO_REP, create=True) as crm:
            crm.now = lambda: NOW
            seed(crm, customers=60, seed=7, today=NOW.date())
        for lang in args.lang or ["en", "zh"]:
            for name, keys, size in SCREENS:
                print(asyncio.run(shoot(db, lang, name, keys, size)))


if __name__ == "__main__":
    main()
