"""An address that answers, but not as the sync server does (a hotel's Wi-Fi sign-in
page, another web server), is said so, in the rep's language, and nothing is saved:
`crm login` and `crm sync` ended in a JSONDecodeError or pydantic traceback, and an
error page was printed whole as the message."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.cli import app

runner = CliRunner()
TOKEN = "crm_LKvix_0NtAQWtmx9-QZlrjo76oO33OjssTSQs01UB1I"


def portal(status: int, body: bytes, kind: str) -> type[BaseHTTPRequestHandler]:
    class Portal(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Portal


@pytest.fixture(params=[(200, b"<html><body>Hotel Wi-Fi: sign in</body></html>", "text/html"),
                        (404, b"<!DOCTYPE HTML>\n<html><title>Error response</title></html>", "text/html"),
                        (200, b'{"protocol": 3}', "application/json")])
def not_sync(request: pytest.FixtureRequest) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), portal(*request.param))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_login_to_a_page_that_is_no_sync_server(not_sync: str) -> None:
    result = runner.invoke(app, ["login", "--server", not_sync, "--token", TOKEN])
    assert result.exit_code == 1, result.output
    assert "but not as a crm sync server does" in result.stderr and "<html" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not Path(os.environ["CRM_CONFIG"]).exists()


def test_sync_behind_a_sign_in_page(not_sync: str, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path(os.environ["CRM_CONFIG"]).write_text(f'[sync]\nserver = "{not_sync}"\ntoken = "{TOKEN}"\n',
                                              encoding="utf-8")
    result = runner.invoke(app, ["--db", str(db_path), "customers", "add", "--name", "张伟"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--db", str(db_path), "sync"])
    assert result.exit_code == 1, result.output
    assert "but not as a crm sync server does" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    monkeypatch.setenv("CRM_LANG", "zh")
    result = runner.invoke(app, ["--db", str(db_path), "sync"])
    assert "但不是 crm 同步服务器的应答" in result.stderr
