"""Why the server cannot reach PostgreSQL, in the administrator's language (issue 14,
item 2): libpq writes its reasons in English (`invalid URI query parameter:
"badparam"`); each common one is the catalog's text naming the option, value, user
or database it is about, and any other is said in Chinese with libpq's own words
quoted. Through the real `crm server list-reps --db URL`."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
from test_zh_everywhere import CJK, english_fragments_in, without
from typer.testing import CliRunner

from crm_tui.cli import app

runner = CliRunner()

# (store URL, what the Chinese reason says, what the English one says); none needs a server.
NO_SERVER = [
    ("postgresql://crm@127.0.0.1/crm?badparam=1", "存储 URL 中有 libpq 不认识的选项：badparam",
     "the store URL has an option libpq does not know: badparam"),
    ("postgresql://crm@127.0.0.1:99999/crm", "99999 不是有效的端口号", "99999 is not a port number"),
    ("postgresql://crm@127.0.0.1:abc/crm", "连接选项 port 的值“abc”无效", 'the connection option port cannot be "abc"'),
    ("postgresql://crm@127.0.0.1/crm?sslmode=bogus", "连接选项 sslmode 的值“bogus”无效",
     'the connection option sslmode cannot be "bogus"'),
    ("postgresql://crm@%zz/crm", "存储 URL 的写法 libpq 无法识别", "the store URL is not written as libpq reads it"),
    ("postgresql://crm@127.0.0.1:1/crm?service=no_such_crm_service", "没有名为 no_such_crm_service 的连接服务",
     "there is no connection service named no_such_crm_service"),
    ("postgresql://crm@/crm?host=/nonexistent", "本机套接字 /nonexistent/.s.PGSQL.5432 上没有运行 PostgreSQL",
     "no PostgreSQL runs on the local socket /nonexistent/.s.PGSQL.5432"),
]

# What a message may show that is no English text: the URLs and the names in them.
OWN = ["PostgreSQL", "libpq", "sslmode", "pg_service.conf", "postgresql://", "SSL", "LOGIN", "CONNECT", "options"]


def chinese_error(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRM_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "400")
    result = runner.invoke(app, ["server", "list-reps", "--db", url])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("错误")]
    assert len(lines) == 1, result.output
    return lines[0]


def assert_chinese(line: str, url: str, *data: str) -> None:
    assert CJK.search(line)
    assert english_fragments_in(without(line, [url, *data, *OWN])) == [], line
    assert "connection failed" not in line and "connection is bad" not in line


@pytest.mark.parametrize(("url", "zh", "en"), NO_SERVER)
def test_libpqs_reasons_are_the_catalogs(url: str, zh: str, en: str, monkeypatch: pytest.MonkeyPatch) -> None:
    line = chinese_error(url, monkeypatch)
    assert f"无法连接到 PostgreSQL（{url}）：{zh}" in line
    assert_chinese(line, url, '"%zz"', "invalid percent-encoded token")
    monkeypatch.setenv("CRM_LANG", "en")
    result = runner.invoke(app, ["server", "list-reps", "--db", url])
    assert result.exit_code == 1 and f"cannot connect to PostgreSQL at {url}: {en}" in result.output


def test_a_reason_not_in_the_catalog_is_said_in_chinese_with_libpqs_words_quoted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://crm:secret@127.0.0.1:1/crm?sslrootcert=system&sslmode=require"
    libpq = 'weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")'
    line = chinese_error(url, monkeypatch)
    assert f"：libpq 给出的原因：“{libpq}”" in line
    assert "secret" not in line  # the password stays out of the message
    monkeypatch.setenv("CRM_LANG", "en")
    assert f'libpq gave this reason: "{libpq}"' in runner.invoke(app, ["server", "list-reps", "--db", url]).output


def test_libpqs_words_never_show_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq quotes a URL it cannot read whole, password and all."""
    line = chinese_error("postgresql://crm:secret@[::1/crm", monkeypatch)
    assert "secret" not in line and "postgresql://crm:***@[::1/crm" in line
    assert "存储 URL 的写法 libpq 无法识别" in line


PG = os.environ.get("CRM_TEST_PG_URL")


@pytest.mark.skipif(not PG, reason="needs CRM_TEST_PG_URL (a PostgreSQL server)")
def test_the_servers_own_refusals_are_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What PostgreSQL itself refuses: an unknown setting in the URL's options, SSL it
    does not offer, a database that takes no connections."""
    assert PG is not None
    base = PG.split("?")[0]
    closed = f"crm_closed_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {closed} ALLOW_CONNECTIONS false")
    try:
        cases = [(f"{base}?options=-cno_such_setting%3D1", "服务器没有名为 no_such_setting 的设置"),
                 (f"{base}?sslmode=require", "URL 要求使用 SSL（sslmode），但服务器不支持"),
                 (f"{base.rsplit('/', 1)[0]}/{closed}", f"数据库 {closed} 目前不接受连接")]
        for url, zh in cases:
            line = chinese_error(url, monkeypatch)
            assert zh in line, line
            assert_chinese(line, url, closed, "no_such_setting")
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {closed}")


def test_serve_says_it_serves_only_once_the_store_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot be reached is an error alone, not after "crm 同步服务器：URL"."""
    monkeypatch.setenv("CRM_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "400")
    result = runner.invoke(app, ["server", "serve", "--db", "postgresql://crm@127.0.0.1/crm?badparam=1"])
    assert result.exit_code == 1
    assert "存储 URL 中有 libpq 不认识的选项：badparam" in result.output
    assert "crm 同步服务器" not in result.output, result.output
