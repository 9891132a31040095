"""Which fields are a person's data (issue 11): every text field of every record kind
about a customer is classified, personal (an erase scrubs it) or kept (a figure needs
it and it names no one). A text field added later to such a kind and not classified
fails here, before it can outlive an erase."""

from __future__ import annotations

import dataclasses

from crm_tui.api import Crm
from crm_tui.domain.entities import ENTITIES, Field
from crm_tui.domain.orders import parse_line
from crm_tui.domain.privacy import (
    CUSTOMERS,
    ERASED_TEXT,
    FREE_TEXT_KINDS,
    KEPT_FIELDS,
    PERSONAL_FIELDS,
    person_kinds,
    unclassified_fields,
)


def test_every_text_field_of_a_kind_about_a_customer_is_classified() -> None:
    kinds = [CUSTOMERS, *(t for t, _ in person_kinds())]
    assert {"contacts", "opportunities", "order_lines", "visits", "complaints"} <= set(kinds)
    assert unclassified_fields() == []
    for table in kinds:
        names = {f.name for f in ENTITIES[table].fields}
        personal, kept = set(PERSONAL_FIELDS[table]), set(KEPT_FIELDS.get(table, ()))
        assert personal <= names and kept <= names, table  # no stale names
        assert not personal & kept, table
        text = {f.name for f in ENTITIES[table].fields if f.kind in FREE_TEXT_KINDS}
        assert text <= personal | kept, table


def test_a_new_unclassified_text_field_is_found() -> None:
    contacts = ENTITIES["contacts"]
    grown = dataclasses.replace(contacts, fields=(*contacts.fields, Field("nickname", label="Nickname")))
    assert unclassified_fields({**ENTITIES, "contacts": grown}) == ["contacts.nickname"]
    # ... and a new kind about a customer, not listed at all
    new_kind = dataclasses.replace(contacts, name="gift", table="gifts")
    assert "gifts" in " ".join(unclassified_fields({**ENTITIES, "gifts": new_kind}))


def test_erase_scrubs_contacts_and_keeps_the_products_of_order_lines(crm: Crm) -> None:
    customer = crm.customers.create({"name": "欧阳锋", "company": "白驼山"})
    contact = crm.contacts.create({"customer_id": customer["id"], "name": "欧阳克", "mobile": "13566667777",
                                   "email": "ke@baituo.cn", "department": "采购部", "notes": "likes snakes"})
    crm.products.create({"sku": "SN-100", "name": "传感器", "category": "传感器", "list_price": 1200})
    order = crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-09-01"},
                               [parse_line("SN-100:3"), parse_line("旧件:2:99.5")])
    crm.privacy.erase(customer["id"], reason="PIPL request")
    erased = crm.contacts.get(contact["id"])
    assert erased["name"] == ERASED_TEXT
    assert [erased[f] for f in ("mobile", "email", "department", "notes")] == [None] * 4
    lines = crm.order_book.lines(order["id"])
    assert sorted(x["product"] for x in lines) == ["传感器", "旧件"]  # the sales by product stay
    assert crm.orders.get(order["id"])["amount"] == 3600.0 + 199.0
