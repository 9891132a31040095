"""The layering of DESIGN.md, checked by import-linter: cli above the UI (app,
screens, widgets) above api, report, db, sync and the domain, each importing only
the layers below it; and storage, sync, the domain, the API and the reports never
import textual or typer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout
    assert "layers of DESIGN.md" in result.stdout  # the layers contract is among those run
