"""`crm login` refuses a server address or a token that no request could carry, with
the field and the reason and nothing saved: a malformed URL ended in a traceback, a
token pasted with a line break was saved as "server unreachable", one with a
non-ASCII character ended in a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.cli import app

runner = CliRunner()
TOKEN = "crm_LKvix_0NtAQWtmx9-QZlrjo76oO33OjssTSQs01UB1I"


def login(server: str, token: str = TOKEN):
    return runner.invoke(app, ["login", "--server", server, "--token", token])


@pytest.mark.parametrize("server", ["http://[::1", "http://127.0.0.1:99999", "http://exa mple.com:8765",
                                    "http://user:secret@127.0.0.1:8765", "http://", "ftp://10.0.0.5"])
def test_a_server_address_no_request_can_use_is_refused(server: str) -> None:
    result = login(server)
    assert result.exit_code == 1, result.output
    assert "error: server: " in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert not Path(os.environ["CRM_CONFIG"]).exists()


@pytest.mark.parametrize("token", ["crm_abc\ndef", "crm_é", "crm abc", "crm_abc\x00"])
def test_a_token_no_request_can_carry_is_refused(token: str) -> None:
    result = login("http://127.0.0.1:1", token)
    assert result.exit_code == 1, result.output
    assert "error: token: " in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not Path(os.environ["CRM_CONFIG"]).exists()


def test_a_good_address_and_token_are_saved_even_with_the_server_away() -> None:
    result = login(" http://127.0.0.1:1/ ", f" {TOKEN}\n")
    assert result.exit_code == 0, result.output
    saved = Path(os.environ["CRM_CONFIG"]).read_text(encoding="utf-8")
    assert 'server = "http://127.0.0.1:1"' in saved and f'token = "{TOKEN}"' in saved
