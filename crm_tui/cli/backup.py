"""`crm backup` and `crm restore`: a copy of the laptop's database taken while it is in
use, and putting one back (docs/sync.md, "Backups of a laptop")."""


from pathlib import Path
from typing import Annotated

import typer

from crm_tui.cli import app
from crm_tui.cli.common import DbOpt, JsonOpt, confirm, console, db_path, open_crm, print_json
from crm_tui.i18n import t


@app.command("backup", epilog="crm backup\ncrm backup -o /media/usb/crm-monday.db")
def backup_command(
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.api.backup import backup

    with open_crm(db) as crm:
        done = backup(crm, output)
    if json_out:
        print_json(done)
        return
    console.print(t("backup.done", file=done["file"], customers=done["customers"], changes=done["changes"]),
                  highlight=False, soft_wrap=True)


@app.command("restore", epilog="crm restore ~/.local/share/crm_tui/backups/crm-20261201-090000.db")
def restore_command(
    file: Annotated[Path, typer.Argument()],
    db: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y")] = False,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.api import encryption
    from crm_tui.api.backup import restore
    from crm_tui.config import resolve_db_path

    database = resolve_db_path(db_path(db))
    # An encrypted backup (or database) opens with the database's key: CRM_DB_KEY, the
    # keyring, or typed; a wrong one is refused by restore before anything changes.
    key = None
    if encryption.is_encrypted_db(file) or encryption.is_encrypted_db(database):
        from crm_tui.cli.encryption import key_of

        key = key_of(database)
    if not yes and not confirm(t("backup.confirm", database=database, file=file)):
        raise typer.Exit(1)
    done = restore(database, file, key)
    if json_out:
        print_json(done)
        return
    console.print(t("backup.restored", database=done["database"], file=done["file"], customers=done["customers"]),
                  highlight=False, soft_wrap=True)
    if done["kept"]:
        console.print(t("backup.kept", kept=done["kept"]), highlight=False, soft_wrap=True)
