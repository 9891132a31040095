"""Writing a file the user names with `-o` (an export, a report, a person's data, order
lines, a quotation): whole or not at all, never over the database itself, a folder
refused, a device or a pipe (/dev/stdout) written as it is, and a failure said with
the path and the reason instead of a traceback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from crm_tui.db.connection import PRIVATE_FILE
from crm_tui.domain.validation import ValidationError
from crm_tui.output_path import cannot_write, output_fault

FIELD = "output"


def check_output(path: Path, database: Path | None) -> None:
    """Refuse an output that is a folder, in no folder, or the database (or its WAL
    files). Called before any work whose result the file would hold (an import,
    before its rows)."""
    fault = output_fault(path, [database] if database is not None else [])
    if fault:
        raise ValidationError.one(FIELD, fault)


def _cannot(path: Path, exc: OSError) -> ValidationError:
    return ValidationError.one(FIELD, cannot_write(path, exc))


@contextlib.contextmanager
def output_file(path: str | Path, *, database: Path | None = None, binary: bool = False,
                encoding: str = "utf-8", newline: str | None = None, private: bool = False) -> Iterator[IO[Any]]:
    """An open file to write `path` through: a file beside it, put in its place only
    when the writing ended well (so a failed export never leaves half a file under
    the name). `database`: the open database, which is never written over. `private`:
    only its owner may read it (it holds a person's data)."""
    path = Path(path)
    check_output(path, database)
    # A device or a pipe has no file to put in its place: it is written directly.
    special = path.exists() and not path.is_file()
    target = path if special else path.with_name(path.name + ".part")
    mode = "wb" if binary else "w"
    text: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": newline}
    try:
        if private and not special:
            fh: IO[Any] = os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), mode,
                                    **text)
        else:
            fh = open(target, mode, **text)  # noqa: SIM115 - closed below, before the rename
    except OSError as exc:
        raise _cannot(path, exc) from None
    try:
        with fh:
            yield fh
        if not special:
            os.replace(target, path)
    except OSError as exc:
        raise _cannot(path, exc) from None
    finally:
        if not special:
            target.unlink(missing_ok=True)
