"""Where a laptop cuts its pending changes into pushes. The server judges an order
(a quotation) by the amount and lines a whole push leaves it with (crm_tui.sync.
server.judge), and a laptop writes an order with its lines in one transaction, their
changes a few apart in its log. So a push ends only where no order has changes on
both sides of the cut within SPAN of each other, when there is such a place within
the most a push may hold. (An import writes its orders, then each order's lines
together: one longer than a push sends orders alone, each bare until its lines come,
whole, in a later push.) Pure."""

from __future__ import annotations

from collections.abc import Collection, Sequence

# How far apart two changes of one order may be and still be taken for one write of it:
# a push is not cut between them. The most a push may hold (crm_tui.sync.protocol).
SPAN = 2000


def push_cut(keys: Sequence[Collection[str]], want: int, most: int, *, ended: bool, span: int = SPAN) -> int:
    """How many of the pending changes, in log order, the next push takes. `keys` are
    the orders and quotations each change is about (none for other kinds) for at
    least `most` + `span` changes unless the log ends after them (`ended`). The most
    changes up to `want` that end where no order is cut from its lines; else the
    fewest above it, up to `most`; else `want` (one order with more lines than a
    push holds: the server refuses it, and says why)."""
    n = len(keys)
    if ended and n <= want:
        return n
    reach = -1  # the furthest a change before the cut has its order again, within `span`
    last: dict[str, int] = {}
    nexts = [-1] * n
    for i in range(n - 1, -1, -1):
        for key in keys[i]:
            j = last.get(key)
            if j is not None and j - i <= span:
                nexts[i] = max(nexts[i], j)
            last[key] = i
    safe_below: int | None = None
    for p in range(1, min(n, most) + 1):
        reach = max(reach, nexts[p - 1])
        if reach < p and (p < n or ended):
            if p <= want:
                safe_below = p
            elif safe_below is None:
                return p
            else:
                break
    if safe_below is not None:
        return safe_below
    return min(want, n)
