"""Hybrid logical clock helpers, pure: a stamp is one integer `wall_ms * 65536 +
counter`, totally ordered together with the node id.

The local clock itself lives in the `replica` row and is ticked by the capture
triggers in SQL; these helpers pack, unpack and merge stamps for sync."""

from __future__ import annotations

import time
from dataclasses import dataclass

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1

# A pulled stamp further ahead of our own wall clock than this is never adopted;
# the server refuses pushes beyond its own configured offset (same default).
DEFAULT_MAX_OFFSET_MS = 5 * 60 * 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def pack(wall: int, counter: int) -> int:
    return (wall << COUNTER_BITS) | counter


def unpack(hlc: int) -> tuple[int, int]:
    return hlc >> COUNTER_BITS, hlc & COUNTER_MAX


def wall_of(hlc: int) -> int:
    return hlc >> COUNTER_BITS


@dataclass(frozen=True)
class Received:
    """The local clock after receiving remote stamps."""

    wall: int
    counter: int
    # The newest remote stamp that was too far ahead to adopt, if any.
    refused: int | None = None


def receive(wall: int, counter: int, remote: int, *, now: int, max_offset_ms: int) -> Received:
    """Merge a remote stamp into the local clock (wall, counter), as a hybrid logical
    clock does on receive, so that the next local write is stamped after it. A remote
    stamp more than `max_offset_ms` ahead of `now` is not adopted: one bad laptop
    clock must not drag every replica into the future."""
    r_wall, r_counter = unpack(remote)
    if r_wall > now + max_offset_ms:
        return Received(wall, counter, refused=remote)
    if (r_wall, r_counter) <= (wall, counter):
        return Received(wall, counter)
    return Received(r_wall, r_counter)


def ahead_ms(hlc: int, now: int) -> int:
    """How far `hlc` is ahead of the wall clock `now` (negative when behind)."""
    return wall_of(hlc) - now
