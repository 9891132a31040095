"""Where a second process can share a job's work: the rule the import's helper
(crm_tui.api.importing) and the pull's worker (crm_tui.api.pull_worker) both follow."""

from __future__ import annotations

import os
import sys


def second_core() -> bool:
    """Whether a forked second process can run here and help: fork exists and is safe
    (Linux; macOS's system libraries may fail in a forked child, Windows has no
    fork), and there is a second core to run it on."""
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return False
    return len(os.sched_getaffinity(0)) >= 2
