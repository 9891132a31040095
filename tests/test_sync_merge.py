"""The pure merge rules and clock helpers: field-level last-writer-wins, tombstones,
conflicts only for concurrent writes, and the same state in any order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_tui.sync import clock
from crm_tui.sync.merge import Change, Outcome, fold, merge


def ins(node: str, seq: int, hlc: int, **data: object) -> Change:
    return Change(node, seq, hlc, "customers", "r1", "insert", {"name": "x", "notes": None, **data}, rep=node)


def upd(node: str, seq: int, hlc: int, base: Change, **data: object) -> Change:
    return Change(node, seq, hlc, "customers", "r1", "update", data,
                  base={k: [base.hlc, base.node] for k in data}, rep=node)


def dele(node: str, seq: int, hlc: int) -> Change:
    return Change(node, seq, hlc, "customers", "r1", "delete", {}, rep=node)


def merged(changes: list[Change]) -> tuple[dict | None, Outcome]:
    state, outcome = fold([]), Outcome()
    for c in changes:
        merge(state, c, outcome)
    return state.values(), outcome


def test_different_fields_both_survive() -> None:
    root = ins("a", 1, 10)
    x = upd("a", 2, 20, root, title="boss")
    y = upd("b", 1, 21, root, notes="met")
    for order in ([root, x, y], [root, y, x]):
        values, outcome = merged(order)
        assert values is not None and values["title"] == "boss" and values["notes"] == "met"
        assert outcome.conflicts == []


def test_same_field_concurrent_keeps_loser() -> None:
    root = ins("a", 1, 10)
    x = upd("a", 2, 20, root, notes="mine")
    y = upd("b", 1, 20, root, notes="theirs")  # same hlc: node id breaks the tie
    for order in ([root, x, y], [root, y, x]):
        values, outcome = merged(order)
        assert values["notes"] == "theirs"
        [c] = outcome.conflicts
        assert (c.field, c.winner_value, c.loser_value) == ("notes", "theirs", "mine")
        assert (c.winner_stamp, c.loser_stamp, c.winner_rep, c.loser_rep) == ((20, "b"), (20, "a"), "b", "a")


def test_sequential_overwrite_is_not_a_conflict() -> None:
    root = ins("a", 1, 10)
    x = upd("a", 2, 20, root, notes="first")
    y = upd("b", 1, 30, x, notes="second")  # b saw x
    values, outcome = merged([root, x, y])
    assert values["notes"] == "second"
    assert outcome.conflicts == [] and ("notes", (20, "a")) in outcome.superseded


def test_agreeing_writes_are_not_a_conflict() -> None:
    root = ins("a", 1, 10)
    _, outcome = merged([root, upd("a", 2, 20, root, notes="same"), upd("b", 1, 21, root, notes="same")])
    assert outcome.conflicts == []


def test_delete_wins_over_concurrent_and_later_edits() -> None:
    root = ins("a", 1, 10)
    gone = dele("a", 2, 20)
    late_edit = upd("b", 1, 30, root, notes="still here?")
    for order in ([root, gone, late_edit], [root, late_edit, gone]):
        values, _ = merged(order)
        assert values is None


def test_reinsert_after_delete_revives_only_when_later() -> None:
    first = ins("a", 1, 10, notes="v1")
    again = ins("b", 1, 30, notes="v2")
    values, _ = merged([first, dele("a", 2, 20), again])
    assert values is not None and values["notes"] == "v2"
    values, _ = merged([first, again, dele("a", 2, 40)])
    assert values is None


def test_update_before_insert_gives_no_record() -> None:
    root = ins("a", 1, 10)
    values, _ = merged([upd("b", 1, 20, root, notes="x")])
    assert values is None


ops = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["update", "delete"]),
              st.sampled_from(["notes", "title"]), st.integers(0, 3), st.integers(11, 60)),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.randoms(use_true_random=False))
def test_any_order_same_state(script: list, rnd) -> None:  # type: ignore[no-untyped-def]
    root = ins("a", 0, 10)
    changes = [root]
    for i, (node, op, name, value, wall) in enumerate(script):
        hlc = wall * 100 + i  # a node never stamps two changes alike (its clock ticks)
        if op == "delete":
            changes.append(Change(node, i + 1, hlc, "customers", "r1", "delete", {}))
        else:
            base = rnd.choice(changes)
            changes.append(Change(node, i + 1, hlc, "customers", "r1", "update", {name: f"v{value}"},
                                  base={name: [base.hlc, base.node]}))
    expected, _ = merged(changes)
    shuffled = changes[:]
    rnd.shuffle(shuffled)
    got, _ = merged(shuffled + shuffled[:3])  # duplicates too
    assert got == expected
    assert fold(shuffled).values() == expected


def test_clock_receive_adopts_and_refuses() -> None:
    now = 1_000_000
    later = clock.pack(now + 5, 3)
    got = clock.receive(now, 0, later, now=now, max_offset_ms=60_000)
    assert (got.wall, got.counter, got.refused) == (now + 5, 3, None)
    older = clock.receive(now, 7, clock.pack(now - 1, 9), now=now, max_offset_ms=60_000)
    assert (older.wall, older.counter) == (now, 7)
    far = clock.pack(now + 3_600_000, 0)
    refused = clock.receive(now, 7, far, now=now, max_offset_ms=60_000)
    assert (refused.wall, refused.counter, refused.refused) == (now, 7, far)
    assert clock.unpack(clock.pack(123, 456)) == (123, 456)
