"""What the benchmarks that time whole processes share (bench_import, bench_startup,
bench_order_lines): finding a program, timing one process by its wall clock and its
CPU, running every program from compiled bytecode, and the `--before` and
`--from-source` options.

Bytecode: pip compiles a package's modules when it installs it, so an installed crm
and sqlite-utils start from bytecode. Where `PYTHONDONTWRITEBYTECODE` is set (this
machine sets it), an editable crm_tui would instead compile its ~70 modules from
source at every start while sqlite-utils reads the bytecode pip wrote. `from_bytecode`
lets every process read and write its bytecode in a folder of the run
(`PYTHONPYCACHEPREFIX`); the caller then runs each program once, untimed, to write it.

`--before CRM` names another `crm` executable timed in the same rounds, for a
before/after on the same machine and load: e.g. a script running an older commit's
code, started outside any worktree so the editable install does not win:

    git -C REPO archive COMMIT crm_tui | tar -x -C /tmp/before
    printf '#!/bin/sh\\ncd /tmp && PYTHONPATH=/tmp/before exec %s -m crm_tui "$@"\\n' "$PWD/.venv/bin/python"
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--before", help="another crm executable to time in the same rounds")
    parser.add_argument("--from-source", action="store_true",
                        help="leave PYTHONDONTWRITEBYTECODE as it is (crm_tui compiled at every start)")


def tool(name: str) -> str:
    """The program `name` on PATH, else beside this interpreter (the venv's)."""
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole process, its output thrown away; CPU (user +
    system) as the kernel counted it for the process and the children it reaped."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(args)} failed: {err.read().decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def from_bytecode(env: dict[str, str], folder: Path) -> None:
    """Let the processes started with `env` read and write compiled bytecode in
    `folder`; the caller writes it by one untimed run of each program."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(folder)
