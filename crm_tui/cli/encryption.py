"""`crm encrypt` and `crm decrypt`: turning encryption at rest on and off for an
existing database, and asking for a key on the terminal (see docs/privacy.md)."""


import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from crm_tui.api import encryption
from crm_tui.cli import app
from crm_tui.cli.common import DbOpt, JsonOpt, UserError, console, db_path, err_console, print_json
from crm_tui.config import resolve_db_path
from crm_tui.i18n import t

RememberOpt = Annotated[bool, typer.Option("--remember")]


def can_ask() -> bool:
    """Whether a person is at the terminal to type a key (not a script or CI)."""
    return sys.stdin.isatty()


def ask_key(path: Path, *, new: bool = False) -> str:
    """The key from CRM_DB_KEY, else typed on the terminal (twice for a new key); a
    command that cannot ask (no terminal) says how to give it."""
    key = os.environ.get(encryption.KEY_ENV)
    if key:
        return key
    if not can_ask():
        raise UserError(t("db.key_required", path=path))
    if new:
        first = typer.prompt(t("encryption.prompt_new", path=path), hide_input=True, err=True)
        again = typer.prompt(t("encryption.prompt_new", path=path), hide_input=True, err=True)
        if first != again:
            raise UserError(t("db.keys_differ"))
        return str(first)
    return str(typer.prompt(t("encryption.prompt", path=path), hide_input=True, err=True))


def key_of(path: Path) -> str:
    """The key of an encrypted database: CRM_DB_KEY, the keyring, or typed."""
    return encryption.find_key(path) or ask_key(path)


def say(lines: list[str]) -> None:
    for line in lines:
        err_console.print(line, highlight=False, soft_wrap=True)


@app.command("encrypt", epilog="crm encrypt --remember")
def encrypt_command(db: DbOpt = None, remember: RememberOpt = False, as_json: JsonOpt = False) -> None:
    path = resolve_db_path(db_path(db))
    if encryption.is_encrypted_db(path):
        if not remember:
            raise UserError(t("db.already_encrypted", path=path))
        key = key_of(path)
        encryption.check_key(path, key)
        outcome = encryption.remember(path, key)
        done = False
    else:
        if not path.exists():
            raise UserError(t("db.missing", path=path))
        key = ask_key(path, new=True)
        outcome = encryption.encrypt(path, key, remember_key=remember)
        done = True
    if as_json:
        print_json({"path": str(path), "encrypted": True, "converted": done, "key_in_keyring": bool(outcome.remembered)})
        return
    if done:
        console.print(t("encryption.encrypted", path=path), highlight=False, soft_wrap=True)
    say(outcome.messages())


@app.command("decrypt", epilog="crm decrypt --db ~/crm/east.db")
def decrypt_command(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    path = resolve_db_path(db_path(db))
    if not path.exists():
        raise UserError(t("db.missing", path=path))
    if not encryption.is_encrypted_db(path):
        raise UserError(t("db.not_encrypted", path=path))
    outcome = encryption.decrypt(path, key_of(path))
    if as_json:
        print_json({"path": str(path), "encrypted": False, "key_removed": outcome.forgotten})
        return
    console.print(t("encryption.decrypted", path=path), highlight=False, soft_wrap=True)
    say(outcome.messages())
