"""A small book of customers whose analytics were worked out by hand (the answers are
in the tests that use it). Today is 2026-09-30; the period of interest 2026-Q3.

    customer  owner  created     orders (date amount)                                    region
    A 赵一    wang   2025-01-10  2025-11-01 1000, 2026-02-01 1000, 2026-05-01 2000,
                                 2026-08-01 3000, 2026-09-20 3000                          华东
    B 钱二    wang   2025-03-01  2025-06-01 5000                                           华北
    C 孙三    li     2026-08-15  2026-09-01 500             birthday 1990-10-03            华东
    D 李四    li     2024-01-01  2026-03-10 400, 2026-04-10 400                            华南
    E 周五    wang   2026-07-01  (none)                                                    华北
    F 吴六    li     2025-01-01  2025-10-15 800, 2026-01-15 800, 2026-04-15 800,
                                 2026-07-15 800, 2026-09-15 100                            华东

Days before 2026-09-30: 09-20 10, 09-15 15, 09-01 29, 08-01 60, 07-15 77, 05-01 152,
04-15 168, 04-10 173, 03-10 204, 02-01 241, 01-15 258, 2025-11-01 333,
2025-10-15 350, 2025-06-01 486."""

from __future__ import annotations

import datetime as dt

from crm_tui.api import Crm
from crm_tui.api.analytics import Analytics
from crm_tui.db.connection import transaction

TODAY = dt.date(2026, 9, 30)
NOW = dt.datetime(2026, 9, 30, 12, 0)

CUSTOMERS = {
    "A": ("赵一", "wang", "2025-01-10", "华东", None),
    "B": ("钱二", "wang", "2025-03-01", "华北", None),
    "C": ("孙三", "li", "2026-08-15", "华东", "1990-10-03"),
    "D": ("李四", "li", "2024-01-01", "华南", None),
    "E": ("周五", "wang", "2026-07-01", "华北", None),
    "F": ("吴六", "li", "2025-01-01", "华东", None),
}
ORDERS = {
    "A": [("2025-11-01", 1000), ("2026-02-01", 1000), ("2026-05-01", 2000), ("2026-08-01", 3000),
          ("2026-09-20", 3000)],
    "B": [("2025-06-01", 5000)],
    "C": [("2026-09-01", 500)],
    "D": [("2026-03-10", 400), ("2026-04-10", 400)],
    "F": [("2025-10-15", 800), ("2026-01-15", 800), ("2026-04-15", 800), ("2026-07-15", 800),
          ("2026-09-15", 100)],
}


def analytics(crm: Crm) -> Analytics:
    return Analytics(crm, now=lambda: NOW)


def build(crm: Crm) -> dict[str, str]:
    """Fill `crm` with the book above; returns letter -> customer id."""
    ids: dict[str, str] = {}
    with crm.lock, transaction(crm.conn):
        for letter, (name, owner, created, region, birthday) in CUSTOMERS.items():
            record = crm.customers.prepare({"name": name, "region": region, "birthday": birthday,
                                            "company": f"{letter} Co"}, owner=owner)
            record["created_at"] = record["updated_at"] = f"{created}T08:00:00.00Z"
            crm.customers.insert_prepared([record])
            ids[letter] = record["id"]
    for letter, orders in ORDERS.items():
        owner = CUSTOMERS[letter][1]
        for day, amount in orders:
            crm.orders.create({"customer_id": ids[letter], "ordered_at": day, "product": "Widget",
                               "quantity": 1, "amount": amount}, owner=owner)
    crm.visits.create({"customer_id": ids["A"], "visited_at": "2026-09-25 10:00", "channel": "phone",
                       "purpose": "visit", "next_action_date": "2026-09-28", "follow_up_done": 1}, owner="wang")
    crm.visits.create({"customer_id": ids["F"], "visited_at": "2026-06-01 09:00", "channel": "face_to_face",
                       "purpose": "visit", "next_action_date": "2026-07-10"}, owner="li")
    crm.visits.create({"customer_id": ids["D"], "visited_at": "2026-09-10 15:00", "channel": "phone",
                       "purpose": "win_back"}, owner="li")
    # resolution and root cause: what a resolved or closed complaint needs (kept on the others too)
    complaint = {"channel": "phone", "description": "see type", "resolution": "handled", "root_cause": "see cause"}
    crm.complaints.create({**complaint, "customer_id": ids["A"], "received_at": "2026-07-05 09:00",
                           "type": "delivery", "cause": "courier delay", "product": "Widget", "priority": "high",
                           "status": "closed", "handler": "wang", "due_at": "2026-07-06 09:00",
                           "first_response_at": "2026-07-05 11:00", "resolved_at": "2026-07-06 09:00",
                           "closed_at": "2026-07-07 09:00"}, owner="wang")
    crm.complaints.create({**complaint, "customer_id": ids["F"], "received_at": "2026-08-10 10:00",
                           "type": "product_quality", "cause": "defect", "product": "Widget",
                           "priority": "urgent", "status": "resolved", "handler": "li",
                           "due_at": "2026-08-10 14:00", "first_response_at": "2026-08-10 10:30",
                           "resolved_at": "2026-08-10 16:00"}, owner="li")
    crm.complaints.create({**complaint, "customer_id": ids["C"], "received_at": "2026-09-29 08:00",
                           "type": "delivery", "cause": "courier delay", "product": "Gadget", "priority": "medium",
                           "status": "new", "due_at": "2026-10-02 08:00"}, owner="li")
    crm.complaints.create({**complaint, "customer_id": ids["D"], "received_at": "2026-09-01 10:00",
                           "type": "delivery", "cause": "wrong address", "product": "Widget", "priority": "low",
                           "status": "in_progress", "handler": "li", "due_at": "2026-09-08 10:00",
                           "first_response_at": "2026-09-01 14:00"}, owner="li")
    crm.complaints.create({**complaint, "customer_id": ids["A"], "received_at": "2026-06-15 09:00",
                           "type": "price", "priority": "low", "status": "closed", "due_at": "2026-06-22 09:00",
                           "resolved_at": "2026-06-16 09:00", "closed_at": "2026-06-16 10:00"}, owner="wang")
    an = analytics(crm)
    an.add_survey({"customer_id": ids["A"], "surveyed_at": "2026-07-20", "expected": 8, "perceived": 9})
    an.add_survey({"customer_id": ids["F"], "surveyed_at": "2026-08-20", "expected": 10, "perceived": 7})
    an.add_survey({"customer_id": ids["B"], "surveyed_at": "2026-05-01", "expected": 5, "perceived": 5})
    return ids


def add_deals(crm: Crm, ids: dict[str, str]) -> dict[str, str]:
    """Opportunities of the book in 2026-Q3: one won (no order yet), one lost with its
    reason, two open closing in September; a team target. Their ids join `ids`."""
    make = crm.opportunities.create
    deals = {
        "W": make({"customer_id": ids["A"], "title": "ERP", "amount": 2600, "stage": "negotiation",
                   "close_date": "2026-09-10"}),
        "L": make({"customer_id": ids["B"], "title": "CRM", "amount": 1000, "stage": "qualified"}),
        "O1": make({"customer_id": ids["C"], "title": "MES", "amount": 4000, "stage": "proposal",
                    "close_date": "2026-09-20"}),
        "O2": make({"customer_id": ids["A"], "title": "BI", "amount": 800, "stage": "lead", "probability": 40,
                    "close_date": "2026-09-25"}),
    }
    # created in July, as a user's script may write (captured like any write)
    crm.conn.execute("UPDATE opportunities SET created_at = '2026-07-01T02:00:00.000Z'")
    crm.conn.commit()
    crm.opportunities.update(deals["W"]["id"], {"stage": "won", "closed_on": "2026-09-10"})
    crm.opportunities.update(deals["L"]["id"], {"stage": "lost", "closed_on": "2026-08-15",
                                                "lost_reason": "price | too high"})
    crm.conn.execute("UPDATE opportunity_stages SET moved_at = '2026-08-01T10:00:00'")
    crm.conn.commit()
    crm.pipeline.set_target("2026-Q3", 20000)
    return {k: d["id"] for k, d in deals.items()}
