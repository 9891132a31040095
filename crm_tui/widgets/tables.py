"""The columns of each list in the UI: titles from the catalog, enum codes shown in the
user's language, widths in terminal cells."""

from __future__ import annotations

from rich.cells import cell_len

from crm_tui.domain.agenda import ROW_KINDS
from crm_tui.domain.entities import COMPLAINT, CUSTOMER, ORDER, VISIT, Entity
from crm_tui.domain.times import shown_time
from crm_tui.domain.validation import number_to_call
from crm_tui.i18n import choice_label, field_label, money, quantity, t
from crm_tui.widgets.record_table import Column, Row


def _choice(ent: Entity, name: str):
    return lambda row: choice_label(ent, name, row.get(name))


def _short_time(name: str):
    return lambda row: shown_time(row.get(name))


def signed_amount(order: Row) -> float:
    """An order's amount as it counts in the sales figures: a refund's negative."""
    amount = float(order.get("amount") or 0)
    return -amount if order.get("refund_of") else amount


def col(ent: Entity, name: str, width: int, **kw) -> Column:
    return Column(name, field_label(ent, name), width, **kw)


# min_width and drop (see Column): at 80 columns the customer list keeps name, company,
# phone, status, tier and owner; the complaints queue its due time; the agenda its
# next action. What leaves first is what the record's screen shows anyway.

def customer_columns(compact: bool = False) -> list[Column]:
    columns = [
        col(CUSTOMER, "name", 14),
        col(CUSTOMER, "company", 24, min_width=12, drop=3),
        Column("phone", field_label(CUSTOMER, "phone"), 15,
               render=number_to_call, drop=4),
        col(CUSTOMER, "region", 8, drop=6),
    ]
    if compact:
        return columns
    return columns + [
        col(CUSTOMER, "industry", 10, drop=7),
        col(CUSTOMER, "status", 10, render=_choice(CUSTOMER, "status")),
        col(CUSTOMER, "tier", 8),
        col(CUSTOMER, "owner", 8, drop=2),
        col(CUSTOMER, "tags", 0, drop=9),
    ]


def order_columns(with_customer: bool = True) -> list[Column]:
    columns = [col(ORDER, "ordered_at", 10)]
    if with_customer:
        columns.append(Column("customer_name", field_label(ORDER, "customer_id"), 14))
    return columns + [
        col(ORDER, "product", 24, min_width=12, drop=3),
        col(ORDER, "quantity", 8, justify="right", drop=4, render=lambda r: quantity(r.get("quantity"))),
        Column("amount", field_label(ORDER, "amount"), 14, render=lambda r: money(signed_amount(r)), justify="right"),
        col(ORDER, "status", 10, render=_choice(ORDER, "status"), drop=5),
        col(ORDER, "notes", 0, drop=9),
    ]


def complaint_columns(due_text) -> list[Column]:
    return [
        col(COMPLAINT, "priority", 8, render=_choice(COMPLAINT, "priority")),
        col(COMPLAINT, "status", 12, render=_choice(COMPLAINT, "status")),
        Column("customer_name", field_label(COMPLAINT, "customer_id"), 12, min_width=10),
        col(COMPLAINT, "type", 16, render=_choice(COMPLAINT, "type"), min_width=8, drop=4),
        col(COMPLAINT, "received_at", 16, render=_short_time("received_at"), drop=5),
        Column("due", t("complaints.due"), 26, render=due_text, min_width=24),
        col(COMPLAINT, "handler", 8, drop=3),
        col(COMPLAINT, "description", 0, drop=9),
    ]




def agenda_columns() -> list[Column]:
    return [
        # as wide as the longest label (Stale deals) where there is room; 8 at 80x24
        Column("bucket", t("agenda.when"), max(cell_len(t(f"agenda.{b}")) for b in ROW_KINDS),
               render=lambda r: t(f"agenda.{r['bucket']}"), min_width=8),
        col(VISIT, "next_action_date", 16, min_width=10, short=t("agenda.date_short")),
        Column("customer_name", field_label(VISIT, "customer_id"), 14),
        col(VISIT, "next_action", 32, min_width=12, drop=3),  # a stale deal's reason and title
        col(VISIT, "channel", 12, render=_choice(VISIT, "channel"), drop=5),
        col(VISIT, "purpose", 16, render=_choice(VISIT, "purpose"), drop=4),
        col(VISIT, "outcome", 0, drop=9),
    ]


def visit_cells(row: Row) -> list[str]:
    return [_short_time("visited_at")(row), choice_label(VISIT, "channel", row.get("channel")),
            choice_label(VISIT, "purpose", row.get("purpose")), row.get("outcome") or "",
            row.get("next_action") or "", row.get("next_action_date") or "",
            t("detail.done") if row.get("follow_up_done") else ""]


def visit_headers() -> list[str]:
    return [field_label(VISIT, n) for n in ("visited_at", "channel", "purpose", "outcome", "next_action",
                                            "next_action_date", "follow_up_done")]
