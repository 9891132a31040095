"""The package type-checks: mypy, configured in pyproject.toml ([tool.mypy]), finds
no error in crm_tui. Run in the suite so that the one test command keeps it at 0;
`.venv/bin/mypy` alone gives the same answer faster while working."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_error() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                "--cache-dir", str(ROOT / ".mypy_cache"), str(ROOT / "crm_tui")])
    assert status == 0, f"mypy found errors (run .venv/bin/mypy):\n{out}{err}"
    assert "Success: no issues found" in out
