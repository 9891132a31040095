"""The `crm` program ends without tearing the interpreter down (crm_tui.cli._exit):
what a user or a script sees stays as `sys.exit` gives it: the exit status, the whole
output, the exit handlers run; and with another thread still running it ends as usual."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crm_tui.api import Crm


def crm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crm_tui", *args], capture_output=True, text=True, timeout=120)


def test_the_status_and_the_whole_output_are_kept(db_path: Path) -> None:
    with Crm(db_path, rep="wang") as api:
        for i in range(300):
            api.customers.create({"name": f"客户{i}", "notes": "长江" * 50})
    listed = crm("customers", "list", "--db", str(db_path), "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 300  # every byte written out before the end
    missing = crm("customers", "list", "--db", str(db_path.with_name("nowhere.db")))
    assert missing.returncode == 1 and "nowhere.db" in missing.stderr
    assert crm("customers", "--bogus").returncode == 2
    assert crm("--help").returncode == 0


AFTER = """
import atexit, sys, threading, time
from crm_tui import cli
atexit.register(lambda: print("atexit ran", flush=True))
if sys.argv[1] == "thread":  # a non-daemon thread still at work when the command ends
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", flush=True))).start()
sys.argv = ["crm", "--help"]
cli.main()
"""


def test_exit_handlers_run_and_a_running_thread_is_waited_for() -> None:
    for how in ("plain", "thread"):
        done = subprocess.run([sys.executable, "-c", AFTER, how], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.rstrip().endswith("atexit ran")
        assert ("thread done" in done.stdout) == (how == "thread")
