"""How a time is shown to a person, the same on every screen, CLI table and report:
local wall time to the minute, `2026-12-01 21:51`.

Stored times come in two kinds (docs/architecture.md): what the user gives (a visit's
time, a complaint's due time) is local wall time without a zone; what the system
stamps (`created_at`, a sync, a conflict) is UTC with `Z`. Both read the same here;
--json and exports keep the stored text."""

from __future__ import annotations

import datetime as dt


def shown_time(value: str | dt.datetime | None) -> str:
    """`2026-12-01T13:51:52.427Z` -> `2026-12-01 21:51` (in Shanghai); a local
    `2026-03-01T08:00:00` -> `2026-03-01 08:00`; a date stays a date; text that is not
    a time is shown as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = str(value)
        if len(text) <= 10:  # a date, or not a time at all
            return text
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return text
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)  # the reader's wall clock
    return moment.strftime("%Y-%m-%d %H:%M")


def stamp_of_local(text: str) -> str:
    """A local wall time (`2026-12-02T00:00:00`) as the UTC stamp the system writes
    (`2026-12-01T16:00:00.000Z` in Shanghai), to be compared with `created_at` and
    `updated_at`: a rep filtering on a day means their own day, as the tables show it."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def is_time_name(name: str) -> bool:
    """Whether a column of that name holds a time (`received_at`, `created_at`, the audit's `at`)."""
    return name == "at" or name.endswith("_at")
