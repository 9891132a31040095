"""What an operator reads in the sync server's log, in their language (issue 14, item
2): uvicorn's own lines (started, listening, a request that is no HTTP, stopping, a
port already taken) and their level names come from the catalog under CRM_LANG=zh,
through the logging configuration uvicorn takes. A real `crm server serve` on
127.0.0.1, stopped by Ctrl+C (SIGINT) as an operator stops it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sync_server import free_port
from test_zh_everywhere import CJK

from crm_tui.sync.server.logs import CatalogLines

UVICORN_ENGLISH = ["Started server process", "Uvicorn running", "Invalid HTTP request", "Shutting down",
                   "Application startup", "Application shutdown", "Finished server process", "INFO:", "WARNING:",
                   "ERROR:", "[Errno", "address already in use", "Press CTRL+C"]


def serve(tmp_path: Path, port: int, lang: str, *options: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CRM_LANG": lang, "COLUMNS": "200"}
    with (tmp_path / f"server-{lang}-{port}.log").open("wb") as log:  # a file: a full pipe never stalls it
        return subprocess.Popen([sys.executable, "-m", "crm_tui", "server", "serve", "--db",
                                 f"sqlite:///{tmp_path / 'server.db'}", "--port", str(port), *options],
                                stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    for _ in range(200):  # up to 20 s for uvicorn to listen
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, "the server stopped"
            time.sleep(0.1)
    raise AssertionError("the server did not listen")


def garbage(port: int) -> bytes:
    """What a client that speaks no HTTP gets back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GARBAGE\r\n\r\n")
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    return answer


def run_and_stop(tmp_path: Path, lang: str) -> str:
    port = free_port()
    proc = serve(tmp_path, port, lang, "--log-level", "info")
    try:
        wait_listening(proc, port)
        assert garbage(port).startswith(b"HTTP/1.1 400")
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return (tmp_path / f"server-{lang}-{port}.log").read_text(encoding="utf-8")


def test_uvicorns_lines_are_chinese(tmp_path: Path) -> None:
    log = run_and_stop(tmp_path, "zh")
    for line in ["信息:", "服务器进程 [", "] 已启动", "应用已启动。", "上监听（按 Ctrl+C 停止）", "警告:",
                 "收到无效的 HTTP 请求（对方不是 HTTP 客户端，或请求已损坏），已回复 400。", "正在关闭服务器",
                 "应用已停止。", "] 已结束"]:
        assert line in log, log
    assert [word for word in UVICORN_ENGLISH if word in log] == [], log


def test_english_stays_english(tmp_path: Path) -> None:
    log = run_and_stop(tmp_path, "en")
    assert "INFO:" in log and "Started server process [" in log and "Listening on http://127.0.0.1:" in log
    assert "WARNING:" in log and "Invalid HTTP request received" in log
    assert not CJK.search(log)


def test_a_port_already_taken_is_said_in_chinese(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        proc = serve(tmp_path, port, "zh")
        assert proc.wait(timeout=30) != 0
    finally:
        taken.close()
    log = (tmp_path / f"server-zh-{port}.log").read_text(encoding="utf-8")
    assert "错误:" in log and f"无法在 127.0.0.1:{port} 上监听：该端口已被另一个程序（另一个服务器？）占用。" in log, log
    assert [word for word in UVICORN_ENGLISH if word in log] == [], log


def test_a_line_the_catalog_does_not_know_is_led_in_chinese() -> None:
    """A line a newer uvicorn may write keeps its words, after the catalog's lead."""
    record = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "Something new: %s", ("x",), None)
    record.color_message = "Something \x1b[1mnew\x1b[0m"
    assert CatalogLines("zh").filter(record)
    assert record.getMessage() == "uvicorn：Something new: x" and record.levelname == "警告"
    assert "color_message" not in record.__dict__
