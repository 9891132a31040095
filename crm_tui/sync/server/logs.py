"""The sync server's log in the operator's language: uvicorn's own lines (started,
listening, a request that is no HTTP, stopping) and their level names are the
catalog's, through the logging configuration uvicorn takes (a filter on its log
handlers), uvicorn itself unchanged. A line uvicorn may write that the catalog does
not know keeps uvicorn's words after a lead in the operator's language."""

from __future__ import annotations

import copy
import errno
import logging
import re
from typing import Any

from crm_tui.i18n import has, os_reason, t_in

# uvicorn's lines, as written (its messages with their arguments filled in), each with
# the catalog's key under `server.log`.
_LINES = [(re.compile(pattern), key) for pattern, key in [
    (r"Started server process \[(?P<pid>\d+)\]", "started"),
    (r"Finished server process \[(?P<pid>\d+)\]", "finished"),
    (r"Started parent process \[(?P<pid>\d+)\]", "parent_started"),
    (r"Stopping parent process \[(?P<pid>\d+)\]", "parent_stopping"),
    (r"Waiting for child process \[(?P<pid>\d+)\]", "child_waiting"),
    (r"Terminated child process \[(?P<pid>\d+)\]", "child_terminated"),
    (r"Child process \[(?P<pid>\d+)\] died", "child_died"),
    (r"Child process \[(?P<pid>\d+)\] failed to start, stopping the parent process\.", "child_failed"),
    (r"Waiting for application startup\.", "app_starting"),
    (r"Application startup complete\.", "app_started"),
    (r"Application startup failed\. Exiting\.", "app_start_failed"),
    (r"Waiting for application shutdown\.", "app_stopping"),
    (r"Application shutdown complete\.", "app_stopped"),
    (r"Application shutdown failed\. Exiting\.", "app_stop_failed"),
    (r"Uvicorn running on (?:unix socket |socket )?(?P<address>.+?) \(Press CTRL\+C to quit\)", "listening"),
    (r"Shutting down", "shutting_down"),
    (r"Received (?P<signal>SIG[A-Z]+), exiting\.", "signal_exit"),
    (r"Waiting for connections to close\. \(CTRL\+C to force quit\)", "waiting_connections"),
    (r"Waiting for background tasks to complete\. \(CTRL\+C to force quit\)", "waiting_tasks"),
    (r"Cancel (?P<n>\d+) running task\(s\), timeout graceful shutdown exceeded", "cancelled_tasks"),
    (r"Invalid HTTP request received\.", "invalid_request"),
    (r"Unsupported upgrade request\.", "unsupported_upgrade"),
    (r"No supported WebSocket library detected\..*", "no_websocket"),
    (r"Exceeded concurrency limit\.", "too_many_requests"),
    (r"Exception in ASGI application\s*", "request_failed"),
    (r"ASGI callable .*", "app_defect"),
]]

# Why the server could not listen (uvicorn logs the OSError itself), by errno.
_LISTEN_ERRORS = {errno.EADDRINUSE: "address_in_use", errno.EADDRNOTAVAIL: "address_not_here",
                  errno.EACCES: "port_forbidden"}
_BIND = re.compile(r"error while attempting to bind on address \((?P<address>.*?)\)")


class CatalogLines(logging.Filter):
    """Puts the catalog's text in `lang` in place of each uvicorn line it knows, and
    the catalog's level names ("INFO:" / "信息:"), before uvicorn's formatter writes it."""

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.lang = lang

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.line(record), ()
        # on a terminal uvicorn writes this coloured copy of the English line instead
        record.__dict__.pop("color_message", None)
        level = f"server.log.level.{record.levelname.lower()}"
        if has(level):
            record.levelname = t_in(self.lang, level)
        return True

    def line(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, OSError):
            return self.cannot_listen(record.msg)
        message = record.getMessage()
        for pattern, key in _LINES:
            found = pattern.fullmatch(message)
            if found:
                return t_in(self.lang, f"server.log.{key}", **found.groupdict())
        return t_in(self.lang, "server.log.other", detail=message)

    def cannot_listen(self, exc: OSError) -> str:
        bound = _BIND.search(str(exc))
        address = bound["address"].replace("'", "").replace(", ", ":") if bound else ""
        key = _LISTEN_ERRORS.get(exc.errno or 0)
        if key is not None:
            return t_in(self.lang, f"server.log.{key}", address=address)
        # the server binds in the process the command runs in, whose language is the operator's
        return t_in(self.lang, "server.log.cannot_listen", address=address, reason=os_reason(exc))


def log_config(lang: str) -> dict[str, Any]:
    """uvicorn's own logging configuration with the catalog's lines in `lang` on its
    handlers; each worker process builds the filter again from it."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"catalog": {"()": f"{__name__}.CatalogLines", "lang": lang}}
    for handler in config["handlers"].values():
        handler["filters"] = ["catalog"]
    return config
