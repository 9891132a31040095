"""`crm` with no command: open the terminal UI."""

from __future__ import annotations

from pathlib import Path

from crm_tui.cli.common import console, open_crm


def open_ui(db: Path | None) -> None:
    # Until the terminal UI lands: a summary of the database.
    with open_crm(db) as crm:
        for table in ("customers", "visits", "complaints", "orders"):
            console.print(f"{table}: {crm.records(table).count()}")
