"""A real sync server for the tests: a `crm server serve` process on 127.0.0.1 with
its own store (`Server`), and a rep's laptop driven through the real CLI (`Rep`).
The `server` fixture (tests/conftest.py) starts one per test, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from crm_tui.cli import app

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url_db: str, *options: str):
        self.url_db = url_db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The server logs a line per request: to a file, so a full pipe never stalls it.
        self.log = Path(tempfile.mkstemp(prefix="crm-server-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "crm_tui", "server", "serve", "--db", self.url_db, "--port", str(self.port),
                 *options],
                stdout=out, stderr=subprocess.STDOUT,
            )
        for _ in range(200):  # up to 20 s for uvicorn to listen
            try:
                httpx.get(self.url + "/v1/hello", timeout=1)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text()) from None
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def add_rep(self, name: str, *options: str) -> str:
        result = runner.invoke(app, ["server", "add-rep", name, *options, "--db", self.url_db, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["token"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Rep:
    """One laptop: its own database and config file."""

    def __init__(self, tmp: Path, name: str):
        self.env = {"CRM_DB": str(tmp / f"{name}.db"), "CRM_CONFIG": str(tmp / f"{name}.toml")}

    def crm(self, *args: str, ok: bool = True) -> str:
        result = runner.invoke(app, list(args), env=self.env)
        if ok:
            assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, *args: str) -> object:
        return json.loads(self.crm(*args, "--json"))
