"""The product catalogue (产品目录): SKU unique, list price, active; imported from a
price list in GBK or UTF-8 with Chinese headers; synced whole to every laptop, and
changed only by managers on a team server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cli_steps import run, run_json
from sync_server import Rep, Server

from crm_tui.api import Crm, Filter, ValidationError
from crm_tui.api.exporting import export_to_path
from crm_tui.api.importing import import_records
from crm_tui.domain.changes import FORBIDDEN, Actor, ChangeRefused, check_access
from crm_tui.sync import clock
from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

pytestmark = pytest.mark.usefixtures("wide_terminal")


def test_product_life_cycle_and_a_unique_sku(crm: Crm, db_path: Path) -> None:
    added = run_json(db_path, "products", "add", "--sku", "SN-100", "--name", "工业传感器", "--category", "传感器",
                     "--unit", "个", "--list-price", "¥1,200.50")
    stored = crm.products.get(added["id"])
    assert (stored["list_price"], stored["active"], stored["unit"]) == (1200.5, 1, "个")

    result = run(db_path, "products", "add", "--sku", "SN-100", "--name", "重复", ok=False)
    assert result.exit_code == 1 and f"sku: 'SN-100' is taken by product {added['id']}" in result.output
    assert crm.products.count() == 1

    other = run_json(db_path, "products", "add", "--sku", "CT-1", "--name", "控制器", "--active", "否")
    assert crm.products.get(other["id"])["active"] == 0
    assert [p["sku"] for p in run_json(db_path, "products", "list", "--active", "yes")] == ["SN-100"]
    assert [p["sku"] for p in run_json(db_path, "products", "list", "--category", "传感器")] == ["SN-100"]
    assert [p["sku"] for p in run_json(db_path, "products", "list")] == ["CT-1", "SN-100"]  # by SKU

    result = run(db_path, "products", "edit", other["id"], "--sku", "SN-100", ok=False)
    assert "sku: 'SN-100' is taken" in result.output
    run(db_path, "products", "edit", other["id"], "--list-price", "99", "--active", "true")
    assert (crm.products.get(other["id"])["list_price"], crm.products.get(other["id"])["active"]) == (99.0, 1)
    run(db_path, "products", "delete", other["id"], "--yes")
    assert [p["sku"] for p in crm.products.find()] == ["SN-100"]
    assert [c["op"] for c in crm.changes(table="products", row_id=other["id"])] == ["insert", "update", "delete"]


def test_bad_values_name_the_field(crm: Crm) -> None:
    with pytest.raises(ValidationError) as err:
        crm.products.create({"sku": "A", "name": "x", "list_price": "-5", "active": "maybe"})
    reasons = {e.field: e.reason for e in err.value.errors}
    assert reasons["list_price"] == "must not be negative"
    assert reasons["active"].startswith("'maybe' is not yes or no")
    with pytest.raises(ValidationError) as err:
        crm.products.create({"name": "no sku"})
    assert [e.field for e in err.value.errors] == ["sku"]


def test_price_list_in_gbk_updates_products_by_sku(crm: Crm, tmp_path: Path) -> None:
    crm.products.create({"sku": "SN-100", "name": "工业传感器", "list_price": 1200, "active": 1})
    path = tmp_path / "价目表.csv"
    path.write_bytes(("货号,品名,类别,单位,单价,启用\n"
                      "SN-100,工业传感器,传感器,个,1300,是\n"
                      "GW-1,网关,网络,台,800,1\n"
                      "GW-1,网关Pro,网络,台,900,1\n"
                      "BAD,坏行,网络,台,-1,1\n").encode("gbk"))
    report = import_records(crm, "products", path, skip_invalid=True)
    assert report.encoding == "gb18030"
    # two rows of one SKU that disagree: the later is refused naming the earlier, not
    # written over it without a word
    assert (report.created, report.updated, report.merged) == (1, 1, 0)
    assert [str(r) for r in report.rejected] == [
        "line 4: name: '网关Pro' differs from '网关' given for the same record on line 3: keep one of them in the "
        "file (the other may go to the notes)", "line 5: list_price: must not be negative"]
    by_sku = {p["sku"]: p for p in crm.products.find()}
    assert by_sku["SN-100"]["list_price"] == 1300.0 and by_sku["SN-100"]["category"] == "传感器"
    assert (by_sku["GW-1"]["name"], by_sku["GW-1"]["list_price"]) == ("网关", 800.0)

    for fmt in ("csv", "json"):
        out = tmp_path / f"products.{fmt}"
        assert export_to_path(crm, "products", out, fmt=fmt) == 2
        with Crm(tmp_path / f"copy-{fmt}.db", rep="li") as copy:
            assert import_records(copy, "products", out).created == 2
            keys = ("id", "sku", "name", "category", "unit", "list_price", "active")
            assert ([{k: p[k] for k in keys} for p in copy.products.find()]
                    == [{k: p[k] for k in keys} for p in crm.products.find()])
            # The same file again changes nothing: each row finds its product by id.
            again = import_records(copy, "products", out)
            assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert crm.products.find([Filter("sku", "=", "BAD")]) == []


@pytest.mark.parametrize("op", ["insert", "update", "delete"])
def test_only_managers_change_the_catalogue(op: str) -> None:
    data = {} if op == "delete" else {"sku": "A", "name": "x"}
    with pytest.raises(ChangeRefused) as err:
        check_access(Actor("wang", "rep", frozenset({"east"})), "products", op, "P1", data,
                     place=lambda _: None, customer_of=lambda t, r: None)
    assert err.value.code == FORBIDDEN and "only a manager" in err.value.reason
    check_access(Actor("boss", "manager"), "products", op, "P1", data,
                 place=lambda _: None, customer_of=lambda t, r: None)



def test_the_catalogue_reaches_every_laptop_and_a_reps_change_is_refused(server: Server, tmp_path: Path) -> None:
    boss, wang, li = Rep(tmp_path, "boss"), Rep(tmp_path, "wang"), Rep(tmp_path, "li")
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    wang_token = server.add_rep("wang", "--territory", "east")
    wang.crm("login", "--server", server.url, "--token", wang_token)
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "west"))

    sensor = boss.json("products", "add", "--sku", "SN-100", "--name", "工业传感器", "--list-price", "1200")["id"]
    boss.json("products", "add", "--sku", "GW-1", "--name", "网关", "--list-price", "800")
    boss.crm("sync")
    wang.crm("sync")
    li.crm("sync")
    for rep in (wang, li):  # reps of different territories both hold the whole catalogue
        assert [p["sku"] for p in rep.json("products", "list")] == ["GW-1", "SN-100"]
    assert wang.json("products", "show", sensor) == boss.json("products", "show", sensor)

    boss.crm("products", "edit", sensor, "--list-price", "1100")
    boss.crm("sync")
    li.crm("sync")
    assert li.json("products", "show", sensor)["list_price"] == 1100.0

    # A rep's own change to the catalogue is refused by the server, with the reason.
    hlc = clock.pack(clock.now_ms(), 0)
    change = {"node": "wang-laptop", "node_seq": 1, "hlc": hlc, "tbl": "products", "row_id": sensor,
              "op": "update", "data": {"list_price": 1.0}}
    answer = httpx.post(f"{server.url}/v1/push", headers={"Authorization": f"Bearer {wang_token}",
                                                                  PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
                        json={"node": "wang-laptop", "changes": [change]}, timeout=10)
    assert answer.status_code == 403
    [refused] = answer.json()["refused"]
    assert refused["code"] == "forbidden" and "only a manager" in refused["reason"]
    boss.crm("sync")
    assert boss.json("products", "show", sensor)["list_price"] == 1100.0
