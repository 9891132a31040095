"""Where a laptop cuts its pending changes into pushes (crm_tui.sync.batches): never
between two changes of one order within SPAN of each other when a place to cut is
within the most a push may hold; the most changes up to the push's size, else the
fewest above it. Checked against every place to cut, by brute force."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crm_tui.sync.batches import push_cut

keys_st = st.lists(st.frozensets(st.sampled_from("ABCDE"), max_size=2), max_size=40)


def safe(keys: list[frozenset[str]], p: int, span: int, ended: bool) -> bool:
    """No order has changes at i < p <= j with j - i <= span; the end of what was read
    is a place to cut only when the log ends there."""
    if p == len(keys) and not ended:
        return False
    return not any(keys[i] & keys[j] for i in range(p) for j in range(p, len(keys)) if j - i <= span)


@given(keys=keys_st, want=st.integers(1, 12), extra=st.integers(0, 12), ended=st.booleans(), span=st.integers(1, 10))
def test_a_push_ends_where_no_order_is_cut_from_its_lines(keys: list[frozenset[str]], want: int, extra: int,
                                                           ended: bool, span: int) -> None:
    most = want + extra
    cut = push_cut(keys, want, most, ended=ended, span=span)
    n = len(keys)
    if ended and n <= want:
        assert cut == n
        return
    places = [p for p in range(1, min(n, most) + 1) if safe(keys, p, span, ended)]
    below = [p for p in places if p <= want]
    if below:
        assert cut == max(below)
    elif places:
        assert cut == min(places)
    else:
        assert cut == min(want, n)  # one order longer than a push: the server says why


def test_an_order_with_its_lines_goes_whole_and_the_rest_waits_for_the_next_push() -> None:
    order, other = frozenset({"orders:A"}), frozenset()
    assert push_cut([order] * 5 + [other] * 3, 3, 2000, ended=True) == 5
    assert push_cut([other] * 2 + [order] * 5, 3, 2000, ended=True) == 2
    assert push_cut([order] * 5 + [other], 3, 2000, ended=False) == 5
