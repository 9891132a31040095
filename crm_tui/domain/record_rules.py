"""The rules a record keeps beyond its fields' own validators, by kind, in one place:
every local write (crm_tui.api.records.Records), every synced change on every
replica (crm_tui.domain.changes.check_change) and the record a pushed edit leaves on
the server (crm_tui.sync.server.judge) are checked by these same functions. Pure;
each raises ValidationError naming the field and the reason. (The rules across many
records of a kind, such as all the refunds of a sale, are crm_tui.domain.orders',
run by the local write, crm_tui.api.records WRITTEN_RULES, and by the server's judge
over a customer's orders; docs/sync.md says what the server leaves out.)"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crm_tui.domain import agenda, complaints, merging, opportunities, orders, privacy, quotes

Rule = Callable[[Mapping[str, Any]], None]

# Over a whole record: what its state says happened is recorded (a closed complaint
# has its resolution, an accepted quote its order, a decided erase request its
# decider) and its dates come in order (a visit's next action not before the visit),
# so no write, local or synced, leaves a record no workflow could reach.
STATE_RULES: dict[str, Rule] = {
    "complaints": complaints.check_record,
    "quotes": quotes.check_record,
    "erase_requests": privacy.check_request,
    "merges": merging.check_record,
    "opportunities": opportunities.check_record,
    "visits": agenda.check_visit,
}

# Over the values one insert or edit writes, whatever the rest of the record holds.
VALUE_RULES: dict[str, Rule] = {
    "merges": merging.check_values,
}

# Over what an edit (not an insert) may write.
UPDATE_RULES: dict[str, Rule] = {
    "merges": merging.check_update,
}

# Between a record and one record it names (table -> (its field, the named kind, the
# rule over both)): the server checks them with the named record as it holds it; a
# local write checks more (WRITTEN_RULES), a laptop's pull cannot (no look-ups there).
REFERENCE_RULES: dict[str, tuple[str, str, Callable[[Mapping[str, Any], Mapping[str, Any] | None], None]]] = {
    "orders": ("refund_of", "orders", orders.check_refund_of),
}

# The kinds whose amount is what their lines come to (crm_tui.domain.orders.check_total):
# kind -> (its lines' kind, the lines' field naming it). A laptop's edit of the amount
# and the server's judge of every push check it, with the lines as each holds them.
TOTALS: dict[str, tuple[str, str]] = {
    "orders": ("order_lines", "order_id"),
    "quotes": ("quote_lines", "quote_id"),
}
