"""The pure checks of a synced change (crm_tui.domain.changes): what no replica could
apply is INVALID, what its author may not make is FORBIDDEN."""

from __future__ import annotations

import pytest

from crm_tui.domain.changes import FORBIDDEN, INVALID, Actor, ChangeRefused, Place, check_access, check_change

VISIT = {"customer_id": "c1", "visited_at": "2025-01-02T09:00:00", "channel": "phone", "purpose": "visit"}


@pytest.mark.parametrize(("tbl", "op", "row_id", "data", "where"), [
    ("zzz", "insert", "r", {"name": "x"}, "zzz"),
    ("change_log", "insert", "r", {}, "change_log"),
    ("customers", "upsert", "r", {"name": "x"}, "op"),
    ("customers", "insert", "", {"name": "x"}, "row_id"),
    ("customers", "insert", "r\x00", {"name": "x"}, "row_id"),
    ("customers", "insert", "r", {"name": None}, "name"),
    ("customers", "insert", "r", {"title": "x"}, "name"),            # required on insert
    ("customers", "update", "r", {"name": ["a"]}, "name"),           # a list where text belongs
    ("customers", "update", "r", {"pinyin": "x"}, "pinyin"),         # a local-only column
    ("customers", "update", "r", {"na'me": "x"}, "na'me"),           # a key with a quote
    ("customers", "update", "r", {"tier": "Z"}, "tier"),
    ("customers", "update", "r", {"tier": "a"}, "tier"),             # not the stored form
    ("customers", "update", "r", {"email": "not-an-email"}, "email"),
    ("customers", "update", "r", {"name": "x" * 101}, "name"),
    ("customers", "update", "r", {"owner": 5}, "owner"),
    ("customers", "delete", "r", {"name": "x"}, "data"),
    ("visits", "update", "r", {"follow_up_done": "1"}, "follow_up_done"),  # a string where an int belongs
    ("visits", "update", "r", {"follow_up_done": True}, "follow_up_done"),
    ("visits", "update", "r", {"follow_up_done": 2**70}, "follow_up_done"),
    ("orders", "update", "r", {"amount": float("nan")}, "amount"),
    ("visits", "update", "r", {"visited_at": "2025/01/02 09:00"}, "visited_at"),
    ("visits", "insert", "r", {**VISIT, "customer_id": "ghost"}, "customer_id"),   # no such customer
])
def test_poison_is_invalid_and_names_the_field(tbl: str, op: str, row_id: str, data: dict, where: str) -> None:
    with pytest.raises(ChangeRefused) as exc:
        check_change(tbl, op, row_id, data, exists=lambda t, i: i == "c1")
    assert exc.value.code == INVALID and where in exc.value.reason


def test_a_value_that_passed_once_passes_only_where_it_is_valid() -> None:
    """Values that passed are remembered (a pull checks every change): per kind and
    field, and by type, so a remembered value never lets a bad one through."""
    check_change("customers", "update", "r", {"notes": "x@@y", "company": None})
    check_change("visits", "update", "r", {"follow_up_done": 1})
    check_change("orders", "update", "r", {"amount": 1.0})
    for tbl, data, where in [("customers", {"email": "x@@y"}, "email"),          # valid notes, not an email
                             ("customers", {"name": None}, "name"),              # None passed elsewhere
                             ("visits", {"follow_up_done": True}, "follow_up_done"),  # True == 1
                             ("visits", {"follow_up_done": 1.0}, "follow_up_done"),   # 1.0 == 1
                             ("orders", {"quantity": 1.0}, "quantity")]:          # a float where an int belongs
        with pytest.raises(ChangeRefused) as exc:
            check_change(tbl, "update", "r", data)
        assert where in exc.value.reason


def test_old_and_base_must_have_their_shapes() -> None:
    check_change("customers", "update", "r", {"name": "x"}, old={"name": "y"}, base={"name": [5, "n1"]})
    for old, base in (({"zzz": 1}, None), ({"name": [1]}, None), (None, {"name": "x"}), (None, {"name": [1]})):
        with pytest.raises(ChangeRefused):
            check_change("customers", "update", "r", {"name": "x"}, old=old, base=base)


def test_a_valid_insert_passes() -> None:
    check_change("visits", "insert", "v1", {**VISIT, "owner": "wang", "created_at": "2025-01-02T09:00:00.123Z",
                                            "notes": None, "follow_up_done": 0}, exists=lambda t, i: True)


PLACES = {"mine": Place("wang", None), "east": Place("li", "east"), "other": Place("li", "west")}


# Records the rows below refer to, with their customer (the others: the row's `customer`).
OF = {"li-order": "other", "east-order": "east", "li-complaint": "other", "li-deal": "other"}


def access(actor: Actor, tbl: str, op: str, row_id: str, data: dict, customer: str | None = None) -> str:
    try:
        check_access(actor, tbl, op, row_id, data, place=PLACES.get,
                     customer_of=lambda t, r: OF.get(r, customer))
    except ChangeRefused as exc:
        return exc.code
    return "ok"


WANG = Actor("wang", "rep", frozenset({"east"}))


@pytest.mark.parametrize(("tbl", "op", "row_id", "data", "customer", "expected"), [
    ("customers", "insert", "new", {"name": "x", "owner": "wang"}, None, "ok"),
    ("customers", "insert", "new", {"name": "x", "owner": "wang", "territory": "east"}, None, "ok"),
    ("customers", "insert", "new", {"name": "x", "owner": "wang", "territory": "west"}, None, FORBIDDEN),
    ("customers", "insert", "new", {"name": "x", "owner": "li"}, None, FORBIDDEN),
    ("customers", "update", "mine", {"notes": "x"}, None, "ok"),
    ("customers", "update", "east", {"notes": "x"}, None, "ok"),
    ("customers", "update", "other", {"notes": "x"}, None, FORBIDDEN),
    ("customers", "insert", "other", {"name": "x", "owner": "li"}, None, FORBIDDEN),  # a re-insert is an edit
    ("customers", "delete", "other", {}, None, FORBIDDEN),
    ("customers", "delete", "east", {}, None, "ok"),
    ("customers", "update", "east", {"owner": "wang"}, None, FORBIDDEN),
    ("customers", "update", "mine", {"territory": "east"}, None, "ok"),
    ("customers", "update", "mine", {"territory": "west"}, None, FORBIDDEN),
    ("customers", "update", "east", {"territory": "west"}, None, FORBIDDEN),
    ("customers", "update", "ghost", {"notes": "x"}, None, INVALID),
    ("visits", "insert", "v", {**VISIT, "customer_id": "east", "owner": "wang"}, None, "ok"),
    ("visits", "insert", "v", {**VISIT, "customer_id": "other", "owner": "wang"}, None, FORBIDDEN),
    ("visits", "insert", "v", {**VISIT, "customer_id": "east", "owner": "li"}, None, FORBIDDEN),
    ("visits", "update", "v", {"notes": "x"}, "other", FORBIDDEN),
    ("visits", "update", "v", {"notes": "x"}, "mine", "ok"),
    ("visits", "update", "v", {"customer_id": "other"}, "mine", FORBIDDEN),   # moved to another's customer
    ("visits", "update", "v", {"owner": "wang"}, "mine", FORBIDDEN),
    ("visits", "delete", "v", {}, "other", FORBIDDEN),
    ("visits", "delete", "v", {}, None, INVALID),
    # Other references may name only records of the rep's customers.
    ("order_lines", "insert", "l", {"order_id": "east-order", "customer_id": "east", "product_id": "p"}, None, "ok"),
    ("order_lines", "insert", "l", {"order_id": "li-order", "customer_id": "mine"}, None, FORBIDDEN),
    ("order_lines", "update", "l", {"order_id": "li-order"}, "mine", FORBIDDEN),
    ("orders", "insert", "o", {"customer_id": "mine", "refund_of": "li-order"}, None, FORBIDDEN),
    ("orders", "insert", "o", {"customer_id": "mine", "refund_of": "east-order"}, None, "ok"),
    ("surveys", "insert", "s", {"customer_id": "mine", "complaint_id": "li-complaint"}, None, FORBIDDEN),
    ("opportunity_stages", "insert", "st", {"customer_id": "mine", "opportunity_id": "li-deal"}, None, FORBIDDEN),
    ("contacts", "insert", "ct", {"customer_id": "east", "name": "x"}, None, "ok"),
    ("contacts", "insert", "ct", {"customer_id": "other", "name": "x"}, None, FORBIDDEN),
    # Kinds only a manager changes, and erasing.
    ("products", "insert", "p", {"sku": "T1", "name": "茶"}, None, FORBIDDEN),
    ("targets", "insert", "t", {"period": "2026-12", "amount": 1}, None, FORBIDDEN),
    ("erasures", "insert", "mine", {"erased_at": "2026-12-01T10:00:00", "erased_by": "wang"}, None, FORBIDDEN),
])
def test_who_may_change_what(tbl: str, op: str, row_id: str, data: dict, customer: str | None,
                             expected: str) -> None:
    assert access(WANG, tbl, op, row_id, data, customer) == expected
    assert access(Actor("boss", "manager"), tbl, op, row_id, data, customer) == "ok"
