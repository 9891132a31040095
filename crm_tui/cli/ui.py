"""`crm` with no command: open the terminal UI on the rep's database."""

from __future__ import annotations

from pathlib import Path

from crm_tui.cli.common import db_path


def open_ui(db: Path | None) -> None:
    # Imported here so that scripted CLI commands do not pay for loading Textual.
    from crm_tui.app import CrmApp

    CrmApp(db_path(db)).run()
