"""The second process of a big pull: it asks the server for the pages after the first,
decodes each page's JSON, checks every change and encodes its log row
(crm_tui.api.sync_apply.ready_page, the same code the sync runs in its own process),
and hands each page, ready to apply, to the sync through a pipe. The sync keeps all
the work that needs the database (history, merge, writes, the cursor), page after
page in order, so a laptop's two cores share a first sync and nothing else changes:
each page is applied and committed with its cursor in one transaction; a page made
ready and not applied is asked for again by the next sync.

The process is forked (cheap, and it inherits the loaded modules) before the pull
starts any thread; it never touches the database or the sync's HTTP client, and
ends with os._exit, so nothing of the parent (an open database, buffered output) is
closed or flushed twice. When it dies, the sync stops with `sync.worker.lost`.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import threading
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from crm_tui.api import forking
from crm_tui.api.forking import second_core
from crm_tui.api.sync_apply import Ready, ready_page
from crm_tui.i18n import t
from crm_tui.sync.errors import ProtocolError

if TYPE_CHECKING:
    from crm_tui.sync.client import SyncClient

# A page: its fields but the changes (cursor, watermark, more, gone), and the changes made ready.
Page = tuple[dict[str, Any], Ready]
# How a page follows another: its length, then its pickle.
_FRAME = struct.Struct("!Q")
# What the process sends: a page, or the error that stopped it.
_PAGE, _PROTOCOL_ERROR, _FAILED = "page", "protocol_error", "failed"


class WorkerLost(Exception):
    """The second process stopped before the pull was done: killed (out of memory,
    by the rep), or it failed."""


class PullWorker:
    """The forked process and the parent's end of its pipe: iterate for the pages."""

    def __init__(self, pid: int, pipe: IO[bytes], pages: int | None):
        self.pid = pid
        self._pipe = pipe
        self._left = pages  # the most pages it sends (None: until the server has no more)

    def __iter__(self) -> Iterator[Page]:
        while self._left is None or self._left > 0:
            kind, *body = self._receive()
            if kind == _PROTOCOL_ERROR:
                raise ProtocolError(*body)
            if kind == _FAILED:
                raise WorkerLost(t("sync.worker.failed", reason=body[0]))
            meta, page = body
            if self._left is not None:
                self._left -= 1
            yield meta, page
            if not meta["more"]:
                return

    def _receive(self) -> tuple[Any, ...]:
        head = self._pipe.read(_FRAME.size)
        (size,) = _FRAME.unpack(head) if len(head) == _FRAME.size else (-1,)
        blob = self._pipe.read(size) if size >= 0 else b""
        if len(blob) != size:
            raise WorkerLost(t("sync.worker.lost", status=self._reap()))
        # A page's tens of thousands of objects: unpickled with the collector paused,
        # as a page is applied (crm_tui.api.sync._collector_paused), or each young
        # collection walks them again (5 us a change, measured).
        paused = gc.isenabled()
        gc.disable()
        try:
            message: tuple[Any, ...] = pickle.loads(blob)
        finally:
            if paused:
                gc.enable()
        return message

    def _reap(self) -> int:
        """The ended process's exit status (as subprocess says it: -N for signal N)."""
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        """Stop the process (it may be waiting for the server or the pipe) and reap it."""
        if self.pid:
            forking.end(self.pid)
            self.pid = 0
        self._pipe.close()


def possible() -> bool:
    """Whether a second process can help here: fork exists and is safe and there is a
    second core (crm_tui.api.forking.second_core), and this process runs no other
    thread (a fork copies the locks they may hold: the UI's, a progress bar's)."""
    return threading.active_count() == 1 and second_core()


def start(client: SyncClient, node: str, after: int, limit: int, snapshot: bool, pages: int | None,
          synced: Mapping[str, frozenset[str]]) -> PullWorker:
    """Fork the process that fetches and readies the pages after cursor `after` (at
    most `pages` of them); `synced` is sql.Tables.synced() of the replica. The caller
    must not be running other threads."""
    def child(write_end: int) -> int:
        with os.fdopen(write_end, "wb") as out:
            _serve(out, client, node, after, limit, snapshot, pages, synced)
        return 0

    pid, read_end = forking.fork(child)
    return PullWorker(pid, os.fdopen(read_end, "rb"), pages)


def _serve(out: IO[bytes], client: SyncClient, node: str, after: int, limit: int, snapshot: bool,
           pages: int | None, synced: Mapping[str, frozenset[str]]) -> None:
    from crm_tui.api.sync import pages_ahead  # the sync's own page loop (import cycle)

    def send(*message: Any) -> None:
        blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_FRAME.pack(len(blob)))
        out.write(blob)
        out.flush()

    # Ctrl-C stops the sync, which stops this process; it does not answer it itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    own = client.fresh()  # the parent's connection stays the parent's
    try:
        for page in pages_ahead(own, node, after, limit, snapshot, pages):
            changes = page.pop("changes")
            send(_PAGE, page, ready_page(changes, synced))
    except ProtocolError as exc:
        send(_PROTOCOL_ERROR, exc.code, exc.message, exc.status, exc.expected_seq, exc.lang)
    except BrokenPipeError:
        return  # the sync stopped
    except Exception as exc:  # anything else: said by the sync, not lost with this process
        send(_FAILED, str(exc) or type(exc).__name__)
    finally:
        own.close()
