"""Push refusals seen from a laptop, against a real `crm server serve` on 127.0.0.1:
the refused changes are kept with the server's reason, the rest of the sync goes
through, and the rep fixes and retries the record (a corrected change syncs) or
discards the change (the record goes back to what the server has). Nothing is lost
silently on either side."""

from __future__ import annotations

from pathlib import Path

from sync_server import Rep, Server, runner

from crm_tui.api import Crm
from crm_tui.cli import app


def pending_and_log(rep: Rep) -> tuple[int, list[tuple[str, str]]]:
    with Crm(rep.env["CRM_DB"]) as crm:
        log = [(r[0], r[1]) for r in crm.conn.execute("SELECT tbl, op FROM change_log ORDER BY seq")]
        return crm.sync.status()["pending"], log


def test_refused_changes_are_kept_fixed_and_retried(server: Server, tmp_path: Path) -> None:  # noqa: F811
    wang, boss = Rep(tmp_path, "wang"), Rep(tmp_path, "boss")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))

    west = wang.json("customers", "add", "--name", "西部客户", "--territory", "west")["id"]  # not his territory
    wang.json("visits", "add", "--customer", west, "--visited-at", "2026-11-30 10:00", "--channel", "phone",
              "--purpose", "visit")
    east = wang.json("customers", "add", "--name", "东部客户", "--territory", "east")["id"]

    report = wang.json("sync")  # completes although two changes are refused
    assert report["rejected"] == 2 and report["pushed"] == 1
    out = wang.crm("sync", "--status")
    assert "refused by the server: 2 of your changes" in out
    assert wang.json("sync", "--status")["pending"] == 0
    rows = wang.json("sync", "rejected")
    assert [(r["tbl"], r["op"], r["code"]) for r in rows] == [("customers", "insert", "forbidden"),
                                                             ("visits", "insert", "invalid")]
    assert "territory west is not one of yours" in rows[0]["reason"]
    assert west[:10] in rows[1]["reason"] or "no customer" in rows[1]["reason"]
    assert rows[0]["record"] == "西部客户"
    boss.crm("sync")
    assert [c["name"] for c in boss.json("customers", "list")] == ["东部客户"]

    # Fix: the customer goes into his territory; then send the customer and its visit again.
    wang.crm("customers", "edit", west, "--territory", "east")
    first = wang.json("sync", "rejected", "retry", str(rows[0]["id"]))
    assert first["retry_op"] == "insert"
    wang.json("sync", "rejected", "retry", str(rows[1]["id"]))
    assert wang.json("sync", "rejected") == []
    report = wang.json("sync")
    assert report["rejected"] == 0  # the edit of the unknown record is covered by the retry
    assert wang.json("sync", "rejected") == []
    statuses = {r["resolution"] for r in wang.json("sync", "rejected", "--all")}
    assert statuses == {"retried", "superseded"}
    boss.crm("sync")
    got = boss.json("customers", "show", west)
    assert (got["name"], got["territory"]) == ("西部客户", "east")
    assert [v["customer_id"] for v in boss.json("visits", "list")] == [west]
    assert wang.json("customers", "show", west) == got
    assert wang.json("customers", "show", east) == boss.json("customers", "show", east)


def test_a_refused_edit_can_be_discarded(server: Server, tmp_path: Path) -> None:  # noqa: F811
    wang, boss = Rep(tmp_path, "wang"), Rep(tmp_path, "boss")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    cid = wang.json("customers", "add", "--name", "张伟", "--territory", "east", "--notes", "first")["id"]
    wang.crm("sync")

    # Only a manager gives a customer to someone else; the notes edit beside it is fine.
    wang.crm("customers", "edit", cid, "--owner", "li")
    wang.crm("customers", "edit", cid, "--notes", "second")
    report = wang.json("sync")
    assert (report["rejected"], report["pushed"]) == (1, 1)
    [row] = wang.json("sync", "rejected")
    assert row["data"]["owner"] == "li" and "owner" in row["reason"]

    result = wang.json("sync", "rejected", "discard", str(row["id"]))
    assert result["restored"]["owner"] == "wang"
    assert wang.json("sync", "rejected") == []
    mine = wang.json("customers", "show", cid)
    assert (mine["owner"], mine["notes"]) == ("wang", "second")
    _, log = pending_and_log(wang)
    assert log.count(("customers", "update")) == 1  # the refused edit left the log; nothing new to send
    assert wang.json("sync")["pushed"] == 0
    boss.crm("sync")
    assert boss.json("customers", "show", cid) == mine
    # A second discard of the same change is refused with a reason, not a traceback.
    again = runner.invoke(app, ["sync", "rejected", "discard", str(row["id"])], env=wang.env)
    assert again.exit_code == 1 and "already settled" in again.output and "Traceback" not in again.output


def test_every_refused_record_is_fixed_in_one_edit_and_retried_at_once(server: Server, tmp_path: Path) -> None:  # noqa: F811
    """A laptop whose records the server refused for their owner (as those made
    before `crm login` were, before the first sync re-owned them): one bulk edit
    fixes them, `retry --all` sends every one again, customers before their visits,
    and they reach the rep's other laptop."""
    zhao, other = Rep(tmp_path, "zhao"), Rep(tmp_path, "zhao2")
    zhao.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--territory", "east"))
    other.crm("login", "--server", server.url, "--token", server.add_rep("zhao-2", "--territory", "east"))
    made = [zhao.json("customers", "add", "--name", name, "--territory", "east", "--owner", "laptop-user")["id"]
            for name in ("赵敏", "钱进")]
    zhao.json("visits", "add", "--customer", made[0], "--channel", "phone", "--purpose", "visit")
    assert zhao.json("sync")["rejected"] == 3
    assert len(zhao.json("sync", "rejected")) == 3

    # Neither an id nor --all, or both: a usage error, nothing settled.
    for args in ([], ["1", "--all"]):
        bad = runner.invoke(app, ["sync", "rejected", "retry", *args], env=zhao.env)
        assert bad.exit_code == 1 and "--all" in bad.output and "Traceback" not in bad.output, bad.output
    assert len(zhao.json("sync", "rejected")) == 3

    zhao.crm("customers", "update", "--where", "owner=laptop-user", "--set", "owner=zhao")
    retried = zhao.json("sync", "rejected", "retry", "--all")
    assert [(r["tbl"], r["retry_op"]) for r in retried] == [("customers", "insert")] * 2 + [("visits", "insert")]
    assert zhao.json("sync", "rejected") == []
    assert zhao.json("sync")["rejected"] == 0
    assert "No refused changes." in zhao.crm("sync", "rejected", "retry", "--all")

    other.json("sync")
    assert sorted(c["id"] for c in other.json("customers", "list")) == sorted(made)
    assert {c["owner"] for c in other.json("customers", "list")} == {"zhao"}
    [visit] = other.json("visits", "list", "--customer", made[0])
    assert visit["owner"] == "zhao"
