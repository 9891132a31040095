"""A second process that shares a job's work, for the import's helper
(crm_tui.api.import_helper) and the pull's worker (crm_tui.api.pull_worker): where
one can help, and forking and ending one."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable


def second_core() -> bool:
    """Whether a forked second process can run here and help: fork exists and is safe
    (Linux; macOS's system libraries may fail in a forked child, Windows has no
    fork), and there is a second core to run it on."""
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return False
    return len(os.sched_getaffinity(0)) >= 2


def fork(child: Callable[[int], int]) -> tuple[int, int]:
    """Fork a process that runs `child(write_end)` of a new pipe and exits with the
    code it returns (1 if it raises). It ends with os._exit, so nothing of the parent
    (an open database, buffered output) is closed or flushed twice. The parent gets
    the process id and the pipe's read end; OSError, with nothing left open, when no
    process can be had (memory, limits)."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            code = child(write_end)
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def end(pid: int) -> int:
    """Stop a forked process (it may be waiting on a pipe or the network, or have
    ended already) and reap it; its wait status."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]
