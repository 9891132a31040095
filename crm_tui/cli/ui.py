"""`crm` with no command: open the terminal UI on the rep's database."""

from __future__ import annotations

from pathlib import Path

from crm_tui.cli.common import db_path


def open_ui(db: Path | None) -> None:
    """The UI on the database; an encrypted one whose key is in neither $CRM_DB_KEY nor
    the keyring asks for the key first, on a screen of its own."""
    # Imported here so that scripted CLI commands do not pay for loading Textual.
    from crm_tui.api.encryption import needs_key
    from crm_tui.app import CrmApp

    path = db_path(db)
    key = None
    if needs_key(path):
        from crm_tui.config import resolve_db_path
        from crm_tui.screens.unlock import UnlockApp

        key = UnlockApp(resolve_db_path(path)).run()
        if key is None:
            return
    CrmApp(path, key=key).run()
