"""Whether a path a user names for a file to write (`-o`, `--rejects`, a server
backup) can take it: not a folder, in a folder that exists, not a database in use
(an export written over it would replace every record). One rule for the laptop's
commands (crm_tui.api.output) and the server's (crm_tui.sync.server.backup), so it
sits outside the layers, as i18n does."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from crm_tui.i18n import os_reason, t


def output_fault(path: Path, databases: Iterable[Path] = ()) -> str | None:
    """Why `path` cannot be written as a new file, in the user's words; None when it
    can. `databases`: the files in use that it must not replace (with their WAL files)."""
    target = path.resolve()
    for database in databases:
        db = database.resolve()
        if target in {db, *(db.with_name(db.name + end) for end in ("-wal", "-shm", "-journal"))}:
            return t("reason.backup_is_database", path=str(path))
    if path.is_dir():
        return t("reason.backup_is_folder", path=str(path))
    if not path.parent.is_dir():
        return cannot_write(path, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)))
    return None


def cannot_write(path: Path, exc: OSError) -> str:
    return t("cli.say.cannot_write", path=str(path), reason=os_reason(exc))
