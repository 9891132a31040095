"""The sync line of the status bar: changes waiting to be pushed, the last sync, open
conflicts, changes the server refused and pulled changes set aside; and `sync_now()` to run a sync in a thread worker. Data comes from
`crm_tui.api.sync`, never from SQL or HTTP here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.dom import DOMNode
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from crm_tui.api.sync import SyncError, SyncReport
from crm_tui.config import ConfigError
from crm_tui.domain.times import shown_time
from crm_tui.i18n import count, t
from crm_tui.widgets.literal import tell

REFRESH_SECONDS = 30.0


def describe_status(status: dict[str, Any]) -> str:
    if status.get("never_syncs"):  # its changes wait for no sync: counting them would say they do
        return t(f"sync_never.{status['never_syncs']}")
    last = status.get("last_sync_at")
    when = shown_time(last) if last else t("sync.never")
    parts = [t("sync.pending", n=count(status["pending"])),
             t("sync.last", when=when)]
    if status.get("open_conflicts"):
        parts.append(t("sync.conflicts", n=count(status["open_conflicts"])))
    if status.get("rejected"):
        parts.append(t("sync.rejected", n=count(status["rejected"])))
    if status.get("set_aside"):
        parts.append(t("sync.set_aside", n=count(status["set_aside"])))
    if status.get("last_error"):
        parts.append(t("sync.failed"))
    if status.get("clock_warning"):
        parts.append(t("sync.clock"))
    return " · ".join(parts)


def run_sync(node: DOMNode, done: Callable[[SyncReport | None, str | None], None]) -> None:
    """Sync in a thread worker of `node`; `done(report, error)` runs on the UI thread.
    The one way the UI syncs: the status line's sync and F9 on a screen without one."""
    app = node.app
    crm = app.crm  # type: ignore[attr-defined]

    def work() -> None:
        try:
            report, error = crm.sync.run(), None
        except (SyncError, ConfigError) as exc:
            report, error = None, str(exc)
        app.call_from_thread(done, report, error)

    node.run_worker(work, thread=True, group="sync-run", exclusive=True, exit_on_error=False)


def announce(node: DOMNode, report: SyncReport | None, error: str | None) -> None:
    """A notification with the outcome of a sync."""
    if error is not None:
        tell(node, error, title=t("sync.failed_title"), severity="error", timeout=8)
    elif report is not None:
        message = t("sync.done", pushed=count(report.pushed), pulled=count(report.pulled))
        if report.conflicts:
            message += " · " + t("sync.new_conflicts", n=count(report.conflicts))
        if report.rejected:
            message += " · " + t("sync.new_rejected", n=count(report.rejected))
        if report.set_aside:
            message += " · " + t("sync.new_set_aside", n=count(report.set_aside))
        if report.gone:  # customers that left this laptop: no longer in its lists
            message += " · " + t("sync.gone", n=count(report.gone))
        tell(node, message, title=t("sync.done_title"))
        for erased in report.erased:  # an erase carried out here: the rep is told
            tell(node, erased, title=t("privacy.erased_title"), severity="warning",
                 timeout=15)


class SyncStatus(Static):
    """Shows the sync state and refreshes it every half minute and after a sync."""

    DEFAULT_CSS = """
    SyncStatus { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    """

    class Synced(Message):
        """A sync finished (report) or failed (error)."""

        def __init__(self, report: SyncReport | None, error: str | None = None):
            super().__init__()
            self.report = report
            self.error = error

    def __init__(self, *, id: str | None = "sync-status") -> None:  # noqa: A002 - Textual's name
        super().__init__("", id=id)
        self.syncing = False

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(REFRESH_SECONDS, self.refresh_status)

    def refresh_status(self) -> None:
        crm = self.app.crm  # type: ignore[attr-defined]

        def work() -> None:
            status = crm.sync.status()
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show, status)

        self.run_worker(work, thread=True, group="sync-status", exclusive=True, exit_on_error=False)

    def _show(self, status: dict[str, Any]) -> None:
        if not self.syncing:
            self.update(describe_status(status))

    def sync_now(self) -> None:
        """Run a sync in a worker; the result comes back as a `Synced` message."""
        if self.syncing:
            return
        self.syncing = True
        self.update(t("sync.running"))
        run_sync(self, self._done)

    def _done(self, report: SyncReport | None, error: str | None) -> None:
        self.syncing = False
        announce(self, report, error)
        self.post_message(self.Synced(report, error))
        self.refresh_status()
