"""Which fields each form shows and which API call saves it: create and edit forms for
customers, contacts, visits, complaints and orders, shared by every screen that opens them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crm_tui.api import Record
from crm_tui.domain.entities import COMPLAINT, CONTACT, CUSTOMER, OPPORTUNITY, ORDER, VISIT, Field
from crm_tui.domain.orders import format_line, parse_lines
from crm_tui.domain.times import shown_time
from crm_tui.i18n import language, t
from crm_tui.screens.form import FormScreen

if TYPE_CHECKING:
    from crm_tui.app import CrmApp

Done = Callable[[Record | None], Any]

# Status, stage and tier are computed (a manual classification overrides them).
CUSTOMER_FIELDS = CUSTOMER.input_names
VISIT_FIELDS = ("channel", "purpose", "contact_ids", "notes", "outcome", "next_action", "next_action_date", "visited_at")
VISIT_EDIT_FIELDS = (*VISIT_FIELDS, "follow_up_done")
# The workflow fields (status and its time stamps, resolution) change only through
# the workflow actions of the complaints queue.
COMPLAINT_NEW_FIELDS = ("type", "priority", "channel", "description", "cause", "product", "received_at")
COMPLAINT_EDIT_FIELDS = ("type", "priority", "channel", "description", "cause", "product", "handler", "due_at")
# An order's product, quantity and amount come from its lines, edited as text: one
# PRODUCT:QTY[:PRICE[:DISCOUNT%]] per line (a SKU of the catalogue, or a name and price).
ORDER_FIELDS = ("ordered_at", "status", "lines", "notes")
ORDER_LINES = Field("lines", max_len=20000, required=True, label="order_lines.label")
CONTACT_FIELDS = tuple(n for n in CONTACT.field_names if n != "customer_id")
# A deal is won or lost from the pipeline board (which asks the reason), so the form
# moves it only among the stages.
OPPORTUNITY_FIELDS = ("title", "amount", "stage", "probability", "close_date", "product_ids", "next_step",
                      "next_step_date", "source", "notes")


def _context(customer: Record | None) -> str:
    if not customer:
        return ""
    return t("form.for_customer", name=customer.get("name", ""), company=customer.get("company") or "")


def customer_form(app: CrmApp, record: Record | None, done: Done) -> None:
    crm = app.crm
    if record is None:
        form = FormScreen(CUSTOMER, CUSTOMER_FIELDS, crm.customers.create, title=t("form.new_customer"))
    else:
        cid = record["id"]
        form = FormScreen(CUSTOMER, CUSTOMER_FIELDS, lambda v: crm.customers.update(cid, v),
                          title=t("form.edit_customer", name=record["name"]), values=record, only_changes=True)
    app.push_screen(form, done)


def visit_form(app: CrmApp, customer: Record, done: Done, *, follow_up_of: str | None = None,
               record: Record | None = None) -> None:
    crm, agenda = app.crm, app.agenda
    if record is None:
        cid = customer["id"]
        defaults = {"channel": "face_to_face", "purpose": "follow_up" if follow_up_of else "visit",
                    "visited_at": app.now().strftime("%Y-%m-%d %H:%M")}
        form = FormScreen(VISIT, VISIT_FIELDS,
                          lambda v: agenda.log_visit({**v, "customer_id": cid}, follow_up_of=follow_up_of),
                          title=t("form.log_visit"), values=defaults, context=_context(customer),
                          focus="notes")  # channel and purpose come preset: type the notes
    else:
        vid = record["id"]
        values = {**record, "visited_at": shown_time(record.get("visited_at"))}
        form = FormScreen(VISIT, VISIT_EDIT_FIELDS, lambda v: crm.visits.update(vid, v),
                          title=t("form.edit_visit"), values=values, context=_context(customer),
                          only_changes=True)
    app.push_screen(form, done)


def complaint_form(app: CrmApp, customer: Record, done: Done, *, record: Record | None = None) -> None:
    crm, workflow = app.crm, app.workflow
    if record is None:
        cid = customer["id"]
        defaults = {"priority": "medium", "received_at": app.now().strftime("%Y-%m-%d %H:%M")}
        form = FormScreen(COMPLAINT, COMPLAINT_NEW_FIELDS, lambda v: workflow.open({**v, "customer_id": cid}),
                          title=t("form.new_complaint"), values=defaults, context=_context(customer),
                          focus="type")
    else:
        comp_id = record["id"]
        # the due time as the queue shows it (2026-03-04 10:00), as a visit's time is
        values = {**record, "due_at": shown_time(record.get("due_at"))}
        form = FormScreen(COMPLAINT, COMPLAINT_EDIT_FIELDS, lambda v: crm.complaints.update(comp_id, v),
                          title=t("form.edit_complaint"), values=values, context=_context(customer),
                          only_changes=True)
    app.push_screen(form, done)


def order_form(app: CrmApp, customer: Record, done: Done, *, record: Record | None = None,
               lines: list[Record] | None = None) -> None:
    book = app.crm.order_book
    if record is None:
        cid = customer["id"]

        def add(v: dict[str, Any]) -> Record:
            return book.add({**{k: x for k, x in v.items() if k != "lines"}, "customer_id": cid},
                            parse_lines(v.get("lines")))

        form = FormScreen(ORDER, ORDER_FIELDS, add, title=t("form.new_order"), extra_fields=(ORDER_LINES,),
                          values={"ordered_at": app.now().date().isoformat(), "status": ORDER.field("status").default},
                          context=_context(customer), focus="lines")
    else:
        oid = record["id"]

        def edit(v: dict[str, Any]) -> Record:
            # the fields and the lines in one write: a bad date never leaves new lines behind
            lines = parse_lines(v.pop("lines")) if "lines" in v else None
            return book.update(oid, v, lines) if v or lines is not None else app.crm.orders.get(oid)

        text = "\n".join(format_line(line) for line in lines or [])
        form = FormScreen(ORDER, ORDER_FIELDS, edit, title=t("form.edit_order"), extra_fields=(ORDER_LINES,),
                          values={**record, "lines": text}, context=_context(customer), only_changes=True)
    app.push_screen(form, done)


def contact_form(app: CrmApp, customer: Record, done: Done, *, record: Record | None = None) -> None:
    crm = app.crm
    if record is None:
        cid = customer["id"]
        form = FormScreen(CONTACT, CONTACT_FIELDS, lambda v: crm.contacts.create({**v, "customer_id": cid}),
                          title=t("contacts.new"), context=_context(customer))
    else:
        contact_id = record["id"]
        form = FormScreen(CONTACT, CONTACT_FIELDS, lambda v: crm.contacts.update(contact_id, v),
                          title=t("contacts.edit", name=record["name"]), values=record,
                          context=_context(customer), only_changes=True)
    app.push_screen(form, done)


def resolve_form(app: CrmApp, complaint: Record, done: Done) -> None:
    workflow, cid = app.workflow, complaint["id"]
    form = FormScreen(COMPLAINT, ("resolution", "root_cause"),
                      lambda v: workflow.resolve(cid, v.get("resolution"), v.get("root_cause")),
                      title=t("complaints.resolve_title"), values=complaint,
                      context=complaint.get("description") or "")
    app.push_screen(form, done)


def assign_form(app: CrmApp, complaint: Record, done: Done) -> None:
    workflow, cid = app.workflow, complaint["id"]
    form = FormScreen(COMPLAINT, ("handler",), lambda v: workflow.assign(cid, v.get("handler") or ""),
                      title=t("complaints.assign_title"), values=complaint,
                      context=complaint.get("description") or "")
    app.push_screen(form, done)


def schedule_form(app: CrmApp, visit: Record, done: Done) -> None:
    agenda, vid = app.agenda, visit["id"]
    form = FormScreen(VISIT, ("next_action_date", "next_action"),
                      lambda v: agenda.schedule_next(vid, v.get("next_action_date") or "", v.get("next_action")),
                      title=t("agenda.schedule_title"), values=visit,
                      context=f"{visit.get('customer_name', '')} · {visit.get('next_action') or ''}")
    app.push_screen(form, done)


def opportunity_form(app: CrmApp, customer: Record, done: Done, *, record: Record | None = None,
                     stage: str | None = None) -> None:
    """A new deal for `customer` (in `stage`, else the first one), or an edit of `record`.
    The stage is a choice among the configured open stages, by their configured labels
    (a closed deal's own stage stays on the list): winning and losing go through the
    board, which asks about the order and the reason."""
    crm = app.crm
    settings = crm.pipeline.settings
    choices = [s.id for s in settings.open_stages]
    if record is not None and record.get("stage") not in choices:
        choices.append(str(record.get("stage")))
    lang = language()
    labels = {"stage": {s.id: s.label(lang) for s in settings.stages}}
    stage_field = Field("stage", kind="enum", required=True, choices=tuple(choices), label="field.opportunities.stage")
    if record is None:
        cid = customer["id"]
        values = {"stage": stage or settings.open_stages[0].id, "close_date": ""}
        form = FormScreen(OPPORTUNITY, OPPORTUNITY_FIELDS, lambda v: crm.opportunities.create({**v, "customer_id": cid}),
                          title=t("pipeline.new_title"), values=values, context=_context(customer),
                          extra_fields=(stage_field,), choice_labels=labels)
    else:
        oid = record["id"]
        # the products by SKU (`with_product_skus`), which the API takes as well as ids
        shown: dict[str, Any] = {**record, "product_ids": record.get("product_skus", record.get("product_ids"))}
        form = FormScreen(OPPORTUNITY, OPPORTUNITY_FIELDS, lambda v: crm.opportunities.update(oid, v),
                          title=t("pipeline.edit_title"), values=shown, context=_context(customer),
                          only_changes=True, extra_fields=(stage_field,), choice_labels=labels)
    app.push_screen(form, done)
