"""The helper process of a big import.

Validating a row (`Records.prepare`: the field checks, the pinyin key) is most of an
import's Python work and needs no database, so a big file's rows are shared with a
second process, forked once the file is read. It runs the same `prepare_row`
(crm_tui.api.importing) on the rows from the end of the file backwards, a batch at a
time, and sends back what each row gave (the prepared record, or the reason the row
is bad), while the import validates from the start forwards; they meet where their
speeds put them, so a helper that gets little of the machine (a busy laptop) costs
little. Folding (matches, merges, references) and every write stay with the import,
in row order, so the outcome is the one a single process reaches. The helper never
touches the database connection it inherits; it ends with os._exit, which closes
nothing. It may be forked beside another thread (the progress bar's): it runs only
the rules, which take no lock, and writes only to its own spool and pipe, so no lock
another thread held at the fork is ever waited for.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_tui.api import forking
from crm_tui.api.forking import second_core
from crm_tui.i18n import t

if TYPE_CHECKING:
    from typing import TypeAlias

    from crm_tui.api.importing import ImportFileError
    from crm_tui.api.records import Record

    # What validating a row gives: the record and the id the row names, or why it is bad.
    Prepared: TypeAlias = tuple[Record, str | None] | str

# Files of fewer cells (rows x columns that name a field) are validated by the import alone:
# below this, forking and sending the rows back cost what they save (measured:
# docs/benchmarks.md: 30,000 rows of five columns or 17,000 of 18 gain nothing).
HELPER_FROM = 500_000
# Rows the import validates before forking, to load the libraries once for both.
HELPER_HEAD = 50
# Rows the helper validates at a time: the last batch of the file is always its.
HELPER_BATCH = 1_000
POLL = 128  # rows the import validates between looks at what the helper sent
_NOTE = struct.Struct("!QQQ")  # a batch: its first row, where it is in the spool file, its length


def uses_helper(count: int, columns: int) -> bool:
    """Whether `count` rows of `columns` fields are worth a helper process, and one
    can run here (the rule the pull's second process follows too)."""
    return count * columns >= HELPER_FROM and count > HELPER_HEAD + HELPER_BATCH and second_core()


class Helper:
    """A forked process that runs `prepare(index)` on the rows from the end of the
    file backwards, down to `start`, and sends back each batch's results as a pickle. A
    batch goes into an unlinked spool file and a note of where it is through a pipe:
    through the pipe itself, which holds 64 KB, the helper would wait on every
    batch until this process looked."""

    def __init__(self, prepare: Callable[[int], Prepared], count: int, start: int, path: Path):
        self.prepare, self.count, self.path = prepare, count, path
        self.low = count  # the helper has sent every row from here on
        self.batches: list[tuple[int, list[Prepared]]] = []
        self.pending = b""  # a note read in part
        self.spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the helper: closed by `stop`
        try:
            pid, read = forking.fork(lambda write: self._serve(write, start))
        except OSError:
            self.spool.close()
            raise
        os.set_blocking(read, False)
        self.pid: int | None = pid
        self.notes = read

    def _serve(self, notes: int, start: int) -> int:
        """In the helper: validate the rows, a batch at a time from the end, and send
        each batch's results; the exit code."""
        try:
            end = self.count
            while end > start:
                first = max(start, end - HELPER_BATCH)
                self._send(notes, first, ("rows", [self.prepare(i) for i in range(first, end)]))
                end = first
            return 0
        except BaseException as exc:  # noqa: BLE001 - any failure is told to the parent, which names it
            with contextlib.suppress(BaseException):  # else the parent sees the pipe close early
                self._send(notes, 0, ("failed", f"{type(exc).__name__}: {exc}"))
            return 1

    def _send(self, notes: int, first: int, message: tuple[str, Any]) -> None:
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        offset = self.spool.tell()
        self.spool.write(body)
        self.spool.flush()
        os.write(notes, _NOTE.pack(first, offset, len(body)))  # less than PIPE_BUF: written whole

    def poll(self, *, until: int | None = None) -> None:
        """Take in the batches the helper has sent; with `until`, wait until it has
        sent every row from `until` on. ImportFileError if it failed or died."""
        while True:
            try:
                data = os.read(self.notes, 4096)
            except BlockingIOError:
                data = None
            if data is not None:
                if not data:  # the helper ended
                    if until is not None and self.low > until:
                        raise self._failed(self._how_it_ended())
                    return
                self.pending += data
                while len(self.pending) >= _NOTE.size:
                    first, offset, length = _NOTE.unpack(self.pending[:_NOTE.size])
                    self.pending = self.pending[_NOTE.size:]
                    kind, payload = pickle.loads(os.pread(self.spool.fileno(), length, offset))
                    if kind != "rows":
                        raise self._failed(t("import_helper.raised", error=payload))
                    self.batches.append((first, payload))
                    self.low = first
                continue
            if until is None or self.low <= until:
                return
            select.select([self.notes], [], [])

    def results(self, start: int) -> Iterator[tuple[int, Prepared]]:
        """(row index, what `prepare` gave) for every row from `start` on, in
        order (the helper sent them from the end backwards)."""
        for first, batch in sorted(self.batches, key=lambda b: b[0]):
            for offset, prepared in enumerate(batch):
                if first + offset >= start:
                    yield first + offset, prepared

    def _how_it_ended(self) -> str:
        status = self._reap()
        if status is not None and os.WIFSIGNALED(status):
            return t("import_helper.signal", signal=os.WTERMSIG(status))
        return t("import_helper.exit", code=os.WEXITSTATUS(status) if status is not None else "?")

    def _failed(self, how: str) -> ImportFileError:
        from crm_tui.api.importing import ImportFileError  # the import's own error (it imports this module)

        return ImportFileError(t("import_helper.failed", path=self.path, how=how))

    def _reap(self) -> int | None:
        """The helper's wait status, waiting for it to end."""
        if self.pid is None:
            return None
        status = os.waitpid(self.pid, 0)[1]
        self.pid = None
        return status

    def stop(self) -> None:
        """End the helper (SIGKILL: what it still does, this process has done, or no
        longer needs), reap it, and close the pipe and the spool."""
        if self.pid is not None:
            forking.end(self.pid)
            self.pid = None
        if not self.spool.closed:
            os.close(self.notes)
            self.spool.close()
