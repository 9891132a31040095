"""The merge rules, pure: the state of one record is a function of the set of
changes received for it, whatever their order and however often each arrived.

- Field-level last-writer-wins: each field takes the value of the change with the
  greatest (hlc, node) stamp among the changes that wrote it.
- Deletes are tombstones: whether a record exists is a last-writer-wins register
  set only by inserts (exists) and deletes (gone). An edit never revives a deleted
  record: a concurrent or later edit of it is kept in the change log, not applied.
  Only a new insert of the same id, stamped after the delete, brings it back (ids
  are ULIDs, so in practice only records keyed by another record's id, such as a
  customer's classification override, are ever inserted again).
- A same-field write that loses to a write it did not see (its `base` is not the
  winner's stamp, and the winner's base is not its stamp) is a conflict: the losing
  value is reported with both values, both stamps and both reps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

Stamp = tuple[int, str]

# Fields every edit touches: concurrent edits of different fields would otherwise
# always "conflict" on them. Still merged last-writer-wins, never reported.
UNREPORTED_FIELDS = frozenset({"updated_at"})


class Change(NamedTuple):
    """One entry of a change log (local or server), decoded. Immutable; a named tuple
    rather than a frozen dataclass because a pull makes one per change, and a frozen
    dataclass sets each of its ten fields through object.__setattr__: 2.7 us to make
    one, against 0.4 us for this."""

    node: str
    node_seq: int
    hlc: int
    tbl: str
    row_id: str
    op: str
    data: Mapping[str, Any]
    old: Mapping[str, Any] | None = None
    base: Mapping[str, Any] | None = None
    rep: str = ""

    @property
    def stamp(self) -> Stamp:
        return (self.hlc, self.node)

    @property
    def key(self) -> tuple[str, int]:
        return (self.node, self.node_seq)

    def base_of(self, name: str) -> Stamp | None:
        if not self.base:
            return None
        value = self.base.get(name)
        return (int(value[0]), str(value[1])) if value else None


@dataclass(frozen=True)
class Conflict:
    """A same-field write that lost to a concurrent one."""

    tbl: str
    row_id: str
    field: str
    winner_value: Any
    winner_stamp: Stamp
    winner_rep: str
    loser_value: Any
    loser_stamp: Stamp
    loser_rep: str


@dataclass
class RowState:
    """What the changes received so far say about one record."""

    alive: bool = False
    alive_stamp: Stamp | None = None  # the insert or delete that set `alive`
    winners: dict[str, Change] = field(default_factory=dict)

    def values(self) -> dict[str, Any] | None:
        """The record's synced fields, or None when it does not exist (deleted, or
        its insert has not arrived)."""
        if not self.alive:
            return None
        return {name: change.data[name] for name, change in self.winners.items()}


@dataclass
class Outcome:
    """What applying new changes to one record found."""

    conflicts: list[Conflict] = field(default_factory=list)
    # (field, stamp) of winners overwritten by a write that had seen them: an open
    # conflict whose winner this was has been settled by a later edit.
    superseded: list[tuple[str, Stamp]] = field(default_factory=list)


def fold(changes: Iterable[Change]) -> RowState:
    """The state of a record from changes already merged (order does not matter)."""
    state = RowState()
    for change in changes:
        _take(state, change)
    return state


def _take(state: RowState, change: Change) -> None:
    if change.op != "update" and (state.alive_stamp is None or change.stamp > state.alive_stamp):
        state.alive, state.alive_stamp = change.op == "insert", change.stamp
    for name in change.data:
        current = state.winners.get(name)
        if current is None or change.stamp > current.stamp:
            state.winners[name] = change


def merge(state: RowState, change: Change, outcome: Outcome) -> None:
    """Merge one newly received change into `state`, noting conflicts in `outcome`."""
    if change.op != "delete":
        for name in change.data:
            current = state.winners.get(name)
            if current is None or name in UNREPORTED_FIELDS:
                continue
            new_wins = change.stamp > current.stamp
            winner, loser = (change, current) if new_wins else (current, change)
            saw_loser = winner.base_of(name) == loser.stamp
            if new_wins and saw_loser:
                outcome.superseded.append((name, current.stamp))
                continue
            if saw_loser or loser.base_of(name) == winner.stamp:
                # A sequential overwrite (or history arriving late): nothing to review.
                continue
            if winner.data[name] == loser.data[name]:
                continue  # both wrote the same value: agreement, not a conflict
            outcome.conflicts.append(Conflict(
                change.tbl, change.row_id, name,
                winner.data[name], winner.stamp, winner.rep,
                loser.data[name], loser.stamp, loser.rep,
            ))
    _take(state, change)
