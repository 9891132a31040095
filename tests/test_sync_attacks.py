"""The sync server trusts no client: requests written by hand, as an attacker would,
against a real `crm server serve` process on 127.0.0.1. Poison changes, forged
authorship, oversized and malformed bodies are refused with a 4xx and leave nothing
stored; the authorisation matrix is checked by status and by what every other
laptop holds after its sync; customers entering and leaving a rep's view."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_server import Rep, Server

from crm_tui.sync import clock
from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    """A real server on a SQLite store (these tests look at the store's file)."""
    srv = Server(f"sqlite:///{tmp_path / 'server.db'}")
    yield srv
    srv.stop()



def head(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


def stored(server: Server, sql: str = "SELECT count(*) FROM log WHERE node <> ''") -> Any:
    conn = sqlite3.connect(server.url_db[len("sqlite:///"):])
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def raw_request(server: Server, head_lines: list[str], body: Iterator[bytes]) -> tuple[int, bytes]:
    """Send a request by hand over a socket and read the answer's status line, even
    when the server answers (and closes) before the body is all sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(("\r\n".join(head_lines) + "\r\n\r\n").encode())
        try:
            for chunk in body:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is already there
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                got = sock.recv(65536)
                if not got:
                    break
                answer += got
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
    return status, answer


def chunked(total: int, piece: int = 1 << 20) -> Iterator[bytes]:
    """A chunked body of `total` bytes of JSON-looking filler."""
    sent = 0
    yield b"%x\r\n%s\r\n" % (len(b'{"node":"n1","changes":['), b'{"node":"n1","changes":[')
    filler = b'{"a":1},' * (piece // 8)
    while sent < total:
        yield b"%x\r\n%s\r\n" % (len(filler), filler)
        sent += len(filler)
    yield b"0\r\n\r\n"


def test_big_bodies_are_refused_while_read_with_or_without_a_token(sqlite_server: Server) -> None:
    token = sqlite_server.add_rep("boss", "--role", "manager")
    base = ["POST /v1/push HTTP/1.1", f"Host: 127.0.0.1:{sqlite_server.port}", "Content-Type: application/json",
            f"{PROTOCOL_HEADER}: {PROTOCOL_VERSION}"]
    # 50 MB, chunked (no Content-Length to check up front): refused once past the limit.
    status, answer = raw_request(sqlite_server, [*base, f"Authorization: Bearer {token}",
                                                 "Transfer-Encoding: chunked"], chunked(50 << 20))
    assert status == 413 and b"too_large" in answer
    # Without a token nothing is read at all: 401 before the body.
    started = time.perf_counter()
    status, _ = raw_request(sqlite_server, [*base, "Transfer-Encoding: chunked"], chunked(50 << 20))
    assert status == 401 and time.perf_counter() - started < 10
    # A million changes (about 100 MB) announced by Content-Length: refused unread.
    one = json.dumps({"node": "n1", "node_seq": 1, "hlc": 1, "tbl": "customers", "row_id": "r",
                      "op": "insert", "data": {"name": "x"}}).encode()
    length = len(b'{"node":"n1","changes":[]}') + 1_000_000 * (len(one) + 1)
    for auth in ([f"Authorization: Bearer {token}"], []):
        status, _ = raw_request(sqlite_server, [*base, *auth, f"Content-Length: {length}"],
                                iter([b'{"node":"n1","changes":[' + one * 1000]))
        assert status in (401, 413) and (status == 401) == (not auth)
    # Within the size limit, a batch over its length limit is refused before any change is looked at.
    many = {"node": "n1", "changes": [{}] * 100_000}
    r = httpx.post(sqlite_server.url + "/v1/push", headers=head(token), json=many, timeout=30)
    assert r.status_code == 413 and "at most" in r.json()["message"]
    assert stored(sqlite_server) == 0 and stored(sqlite_server, "SELECT count(*) FROM refused") == 0
    # The server is still there and well, and its memory stayed bounded all along: its
    # peak resident size is that of one body at the limit, not of what was sent.
    assert httpx.get(sqlite_server.url + "/v1/hello", headers=head(token)).status_code == 200
    status = Path(f"/proc/{sqlite_server.proc.pid}/status")
    if status.exists():
        peak_kb = int(next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:")).split()[1])
        assert peak_kb < 250 * 1024, f"the server's peak memory was {peak_kb // 1024} MB"


MALFORMED = [
    (b'{"node": "n1", "after": 9223372036854775808, "limit": 10}', "after = 2^63"),
    (b'{"node": "n1", "after": -1, "limit": 10}', "negative"),
    (b'{"node": "n1", "after": NaN, "limit": 10}', "NaN"),
    (b'{"node": "n1", "after": 1e400, "limit": 10}', "infinity"),
    (b'{"node": "\\ud800", "after": 0, "limit": 10}', "a lone surrogate"),
    (b'{"node": "n1", "after": "0", "limit": 10}', "a string where an int belongs"),
    (b'{"node": "n1", "after": 0, "limit": 10, "extra": 1}', "an unknown field"),
    (b'{"node": "n1", "after": 0, "limit": 10', "truncated"),
    (b'\xff\xfe', "not UTF-8"),
    (b'[' * 100_000, "deeply nested"),
]


def test_malformed_pulls_get_a_4xx_with_a_reason(sqlite_server: Server) -> None:
    token = sqlite_server.add_rep("r1")
    for body, what in MALFORMED:
        r = httpx.post(sqlite_server.url + "/v1/pull", headers={**head(token), "Content-Type": "application/json"},
                       content=body)
        assert 400 <= r.status_code < 500, what
        assert set(r.json()) == {"error", "message"} and r.json()["message"], what
    assert "Traceback" not in sqlite_server.log.read_text()


def poison(seq: int, **kw: Any) -> dict[str, Any]:
    change = {"node": "evil", "node_seq": seq, "hlc": clock.pack(clock.now_ms(), seq), "tbl": "customers",
              "row_id": f"p{seq}", "op": "insert", "data": {"name": "毒", "owner": "boss"}}
    change.update(kw)
    return change


POISON = {
    "unknown table": {"tbl": "zzz"},
    "the change log": {"tbl": "change_log"},
    "local-only column": {"data": {"name": "x", "owner": "boss", "pinyin": "x"}},
    "name null": {"data": {"name": None, "owner": "boss"}},
    "list for text": {"data": {"name": ["a", "b"], "owner": "boss"}},
    "string for an integer": {"tbl": "visits", "data": {"customer_id": "c1", "visited_at": "2025-01-01T09:00:00",
                                                        "channel": "phone", "purpose": "visit",
                                                        "follow_up_done": "1"}},
    "key with a quote": {"data": {"name": "x", "owner": "boss", "na\"me": "x"}},
    "visit with no customer": {"tbl": "visits", "data": {"customer_id": "ghost", "visited_at": "2025-01-01T09:00:00",
                                                         "channel": "phone", "purpose": "visit"}},
    "bad enum": {"data": {"name": "x", "owner": "boss", "tier": "Z"}},
    "base forged": {"base": {"name": "anything"}},
    "update of nothing": {"op": "update", "row_id": "never-inserted", "data": {"notes": "x"}},
    "control characters": {"data": {"name": "x\x00y", "owner": "boss"}},
}


def test_each_poison_kind_is_refused_and_never_reaches_a_laptop(sqlite_server: Server, tmp_path: Path) -> None:
    token = sqlite_server.add_rep("boss", "--role", "manager")
    laptop = Rep(tmp_path, "other")
    laptop.crm("login", "--server", sqlite_server.url, "--token", sqlite_server.add_rep("other", "--role", "manager"))
    ok = poison(1, row_id="c1")
    changes = [ok] + [poison(i, **kw) for i, kw in enumerate(POISON.values(), 2)]
    body = json.dumps({"node": "evil", "changes": changes}, allow_nan=True)
    r = httpx.post(sqlite_server.url + "/v1/push", headers={**head(token), "Content-Type": "application/json"},
                   content=body)
    assert r.status_code == 403
    refused = {c["node_seq"]: c for c in r.json()["refused"]}
    assert sorted(refused) == list(range(2, len(POISON) + 2))
    assert all(c["code"] == "invalid" and c["reason"] for c in refused.values())
    assert r.json()["accepted"] == 1
    # Strict JSON: NaN, a 2^70 integer anywhere, a lone surrogate are refused whole, nothing stored.
    for text in (body.replace('"node_seq": 1,', '"node_seq": NaN,'),
                 body.replace('"node_seq": 1,', '"node_seq": 1180591620717411303424,'),
                 body.replace('"follow_up_done": "1"', '"follow_up_done": 1180591620717411303424'),
                 body.replace('"name": "\\u6bd2"', '"name": "\\udc00"')):
        assert text != body
        bad = httpx.post(sqlite_server.url + "/v1/push", headers={**head(token), "Content-Type": "application/json"},
                         content=text)
        assert bad.status_code == 400 and bad.json()["error"] == "bad_request"
    assert stored(sqlite_server) == 1
    # The other laptop syncs fine and holds only the good change.
    assert laptop.json("sync")["pulled"] == 1
    assert [c["name"] for c in laptop.json("customers", "list")] == ["毒"]


# -- the authorisation matrix -----------------------------------------------------------

# Places of a customer, seen from wang (a rep of the east territory): his own (owned by
# him, no territory), in his territory (owned by li), and another's (li's, in the west).
PLACES = {"own": ("wang", None), "territory": ("li", "east"), "other": ("li", "west")}
VISIT = {"visited_at": "2025-01-02T09:00:00", "channel": "phone", "purpose": "visit"}

# (who, operation, place, field or record, expected). Each row gets its own customer
# (with a visit) at `place`, and one hand-written change by `who`'s token.
MATRIX = [
    ("rep", "update", "own", "notes", "ok"),
    ("rep", "update", "territory", "notes", "ok"),
    ("rep", "update", "other", "notes", "forbidden"),
    ("rep", "update", "own", "owner", "forbidden"),
    ("rep", "update", "territory", "owner", "forbidden"),
    ("rep", "update", "own", "territory:east", "ok"),
    ("rep", "update", "territory", "territory:west", "forbidden"),
    ("rep", "update", "other", "territory:east", "forbidden"),
    ("rep", "delete", "own", "customer", "ok"),
    ("rep", "delete", "territory", "customer", "ok"),
    ("rep", "delete", "other", "customer", "forbidden"),
    ("rep", "insert", "own", "visit", "ok"),
    ("rep", "insert", "territory", "visit", "ok"),
    ("rep", "insert", "other", "visit", "forbidden"),
    ("rep", "update", "territory", "visit", "ok"),
    ("rep", "update", "other", "visit", "forbidden"),
    ("rep", "delete", "other", "visit", "forbidden"),
    ("rep", "delete", "own", "visit", "ok"),
    ("rep", "insert", "new", "customer", "ok"),
    ("rep", "insert", "new", "customer:west", "forbidden"),
    ("rep", "insert", "new", "customer:owner li", "forbidden"),
    ("rep", "insert", "other", "customer:re-insert", "forbidden"),
    ("manager", "update", "other", "owner", "ok"),
    ("manager", "update", "other", "territory:east", "ok"),
    ("manager", "delete", "other", "customer", "ok"),
    ("manager", "insert", "new", "customer:owner li", "ok"),
]


def _db(rep: Rep) -> sqlite3.Connection:
    return sqlite3.connect(rep.env["CRM_DB"])


def test_the_authorisation_matrix_by_status_and_by_every_laptop(server: Server, tmp_path: Path) -> None:
    from crm_tui.api import Crm

    tokens = {"wang": server.add_rep("wang", "--territory", "east"),
              "li": server.add_rep("li", "--territory", "west"),
              "boss": server.add_rep("boss", "--role", "manager")}
    laptops = {name: Rep(tmp_path, name) for name in tokens}
    for name, laptop in laptops.items():
        laptop.crm("login", "--server", server.url, "--token", tokens[name])
    with Crm(Path(laptops["boss"].env["CRM_DB"]), rep="boss") as boss:
        made = []
        for i, (_, _, place, _, _) in enumerate(MATRIX):
            if place == "new":
                made.append((None, None))
                continue
            owner, territory = PLACES[place]
            cust = boss.customers.create({"name": f"客户{i}", "owner": owner, "territory": territory})
            visit = boss.visits.create({"customer_id": cust["id"], **VISIT})
            made.append((cust["id"], visit["id"]))
    for laptop in laptops.values():
        laptop.crm("sync")

    statuses = []
    for i, (who, op, place, what, _expected) in enumerate(MATRIX):
        cid, vid = made[i]
        token = tokens["wang" if who == "rep" else "boss"]
        tbl, row_id, data = "customers", cid, {}
        if what == "notes":
            data = {"notes": f"row {i}"}
        elif what == "owner":  # a rep gives his own away, or takes another's
            data = {"owner": "li" if place == "own" else "wang"}
        elif what.startswith("territory:"):
            data = {"territory": what.split(":")[1]}
        elif what == "visit":
            tbl, row_id = "visits", vid
            data = {"notes": f"row {i}"} if op == "update" else {}
            if op == "insert":
                row_id, data = f"v{i}", {"customer_id": cid, **VISIT, "owner": "wang" if who == "rep" else "boss"}
        elif what.startswith("customer") and op == "insert":
            row_id = cid or f"c{i}"
            owner = "li" if what.endswith("owner li") or what.endswith("re-insert") else "wang"
            data = {"name": f"新{i}", "owner": owner, "territory": "west" if what.endswith("west") else None}
        change = {"node": f"hand{i}", "node_seq": 1, "hlc": clock.pack(clock.now_ms(), 0), "tbl": tbl,
                  "row_id": row_id, "op": op, "data": data}
        r = httpx.post(server.url + "/v1/push", headers=head(token),
                       json={"node": f"hand{i}", "changes": [change]})
        got = "ok" if r.status_code == 200 else r.json()["refused"][0]["code"] if r.status_code == 403 else r.text
        statuses.append(got)
        assert r.status_code in (200, 403) and r.json()["acked_seq"] == 1
    assert statuses == [row[4] for row in MATRIX]

    for laptop in laptops.values():
        laptop.crm("sync")

    def effect(conn: sqlite3.Connection, i: int) -> bool | None:
        """Whether row i's change shows on this laptop (None: it cannot tell, the
        record is outside its view)."""
        who, op, place, what, _ = MATRIX[i]
        cid, vid = made[i]
        if place == "new":
            return conn.execute("SELECT count(*) FROM customers WHERE name = ?", (f"新{i}",)).fetchone()[0] == 1
        seen = conn.execute("SELECT owner, territory, notes, name FROM customers WHERE id = ?", (cid,)).fetchone()
        if what == "customer:re-insert":
            return seen is not None and seen[3] == f"新{i}"
        if op == "delete" and what == "customer":
            return seen is None
        if seen is None:
            return None
        if what == "notes":
            return seen[2] == f"row {i}"
        if what == "owner":
            return seen[0] == ("li" if place == "own" else "wang")
        if what.startswith("territory:"):
            return seen[1] == what.split(":")[1]
        if op == "insert":
            return conn.execute("SELECT count(*) FROM visits WHERE id = ?", (f"v{i}",)).fetchone()[0] == 1
        row = conn.execute("SELECT notes FROM visits WHERE id = ?", (vid,)).fetchone()
        return row is None if op == "delete" else row is not None and row[0] == f"row {i}"

    territories = {"wang": {"east"}, "li": {"west"}}
    with _db(laptops["boss"]) as conn:
        final = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT name, owner, territory FROM customers")}
    checked = 0
    for name, laptop in laptops.items():
        with _db(laptop) as conn:
            for i, row in enumerate(MATRIX):
                shown = effect(conn, i)
                if name == "boss":  # the manager sees everything: every allowed change, no refused one
                    assert shown is (row[4] == "ok"), (name, row)
                    continue
                # A rep's laptop shows the same, for the customers in the rep's view now.
                place = final.get(f"新{i}" if row[2] == "new" or row[3].endswith("re-insert") else f"客户{i}")
                if place is None or not (place[0] == name or place[1] in territories[name]):
                    continue
                assert shown is (row[4] == "ok"), (name, row)
                checked += 1
    assert checked > len(MATRIX) // 2
    # What li may see stayed li's: nothing wang was refused reached li's laptop.
    with _db(laptops["li"]) as conn:
        others = [made[i][0] for i, row in enumerate(MATRIX) if row[2] == "other" and row[0] == "rep"]
        assert conn.execute(f"SELECT count(*) FROM customers WHERE id IN ({','.join('?' * len(others))})",
                            others).fetchone()[0] == len(others)


# -- customers entering and leaving a rep's view ---------------------------------------------

def test_a_customer_leaves_one_laptop_and_enters_another_with_its_history(server: Server,
                                                                          tmp_path: Path) -> None:
    tokens = {"wang": server.add_rep("wang", "--territory", "east"),
              "li": server.add_rep("li", "--territory", "west"),
              "boss": server.add_rep("boss", "--role", "manager")}
    laptops = {name: Rep(tmp_path, name) for name in tokens}
    for name, laptop in laptops.items():
        laptop.crm("login", "--server", server.url, "--token", tokens[name])
    wang, li, boss = laptops["wang"], laptops["li"], laptops["boss"]
    cid = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    wang.json("visits", "add", "--customer", cid, "--visited-at", "2025-01-02 09:00", "--channel", "phone",
              "--purpose", "visit")
    keep = wang.json("customers", "add", "--name", "李四", "--territory", "east")["id"]
    for laptop in (wang, li, boss, wang):
        laptop.crm("sync")
    for i in range(30):  # li's own history, which must not be sent again
        li.json("customers", "add", "--name", f"西{i}", "--territory", "west")
    li.crm("sync")
    boss.crm("sync")
    # The manager moves 张伟 to the west and gives it to li.
    from crm_tui.api import Crm

    with Crm(Path(boss.env["CRM_DB"])) as crm:
        crm.customers.update(cid, {"territory": "west", "owner": "li"})
    boss.crm("sync")
    report = li.json("sync")
    with _db(li) as conn:
        assert conn.execute("SELECT territory FROM customers WHERE id = ?", (cid,)).fetchone() == ("west",)
        assert conn.execute("SELECT count(*) FROM visits WHERE customer_id = ?", (cid,)).fetchone()[0] == 1
    assert report["pulled"] <= 5  # the customer, its visit, the move: not li's 30 customers again
    # It left wang's view: gone from his laptop, with its visit; his other customer stays.
    assert wang.json("sync")["gone"] == 1
    with _db(wang) as conn:
        assert conn.execute("SELECT count(*) FROM customers WHERE id = ?", (cid,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM customers WHERE id = ?", (keep,)).fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM change_log WHERE row_id = ?", (cid,)).fetchone()[0] == 0
    # Back east, li's still: it comes back to wang with its whole history; li keeps it.
    boss.crm("customers", "edit", cid, "--territory", "east")
    boss.crm("sync")
    wang.crm("sync")
    with _db(wang) as conn, _db(boss) as ref:
        assert conn.execute("SELECT territory, owner FROM customers WHERE id = ?", (cid,)).fetchone() == ("east", "li")
        assert conn.execute("SELECT count(*) FROM visits WHERE customer_id = ?", (cid,)).fetchone()[0] == 1
        mine = "SELECT id, name, territory, owner FROM customers WHERE territory = 'east' OR owner = 'wang' ORDER BY id"
        assert conn.execute(mine).fetchall() == ref.execute(mine).fetchall()
    assert li.json("sync")["gone"] == 0
    with _db(li) as conn:
        assert conn.execute("SELECT territory FROM customers WHERE id = ?", (cid,)).fetchone() == ("east",)
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 31


def test_failed_sign_ins_are_limited_per_address_and_everything_is_audited(sqlite_server: Server,
                                                                          tmp_path: Path) -> None:
    token = sqlite_server.add_rep("wang", "--territory", "east")
    laptop = Rep(tmp_path, "wang")
    laptop.crm("login", "--server", sqlite_server.url, "--token", token)
    laptop.json("customers", "add", "--name", "张伟", "--territory", "east")
    laptop.crm("sync")
    started = time.monotonic()
    guesses, held = [], []
    for i in range(60):
        guesses.append(httpx.get(sqlite_server.url + "/v1/hello", headers=head(f"crm_guess{i}")).status_code)
        if i >= 30:  # over the limit by now: the right token is tried between the guesses
            held.append(httpx.get(sqlite_server.url + "/v1/hello", headers=head(token)).status_code)
    refilled = (time.monotonic() - started) * 30 / 60 + 1  # 30 a minute come back meanwhile
    assert guesses[:30] == [401] * 30 and set(guesses) == {401, 429}
    assert guesses.count(401) <= 30 + refilled
    # While it keeps failing, the right token from the same address still passes: the
    # reps behind one office router (or one reverse proxy) share an address, and one
    # client's guesses locked every one of them out of sync.
    assert held == [200] * len(held), held
    runner_out = Rep(tmp_path, "admin")
    audit = json.loads(runner_out.crm("server", "audit", "--db", sqlite_server.url_db, "--json"))
    kinds = [e["kind"] for e in audit]
    # Refused without an audit entry once over the limit.
    assert kinds.count("auth_failed") == guesses.count(401)
    assert all(e["address"] == "127.0.0.1" for e in audit if e["kind"] == "auth_failed")
    push = next(e for e in audit if e["kind"] == "push")
    assert (push["rep"], push["count"], push["address"]) == ("wang", 1, "127.0.0.1") and push["node"]
    # Tokens appear nowhere: not in the audit, not in the server's log (one line per request).
    log = sqlite_server.log.read_text()
    assert len([line for line in log.splitlines() if "/v1/hello" in line]) >= 36
    assert " wang POST /v1/push 200 " in log
    text = json.dumps(audit) + log + Path(sqlite_server.url_db[len("sqlite:///"):]).read_bytes().decode("latin-1")
    assert token not in text and "crm_guess1" not in text
