"""An amount already in normal form skips the text-and-Decimal round trip of
`normalize_money` (order-line imports normalise each amount twice): the short cut
must give exactly what the full path gives, and must not let through what it refuses."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_tui.domain.validation import normalize_money


@given(st.integers(min_value=0, max_value=10**12 - 1), st.integers(min_value=0, max_value=99))
def test_a_normal_amount_is_what_the_text_path_makes_of_it(units: int, cents: int) -> None:
    value = float(f"{units}.{cents:02d}")
    assert normalize_money(value) == normalize_money(repr(value)) == normalize_money(f"{units}.{cents:02d}")
    assert normalize_money(units) == normalize_money(str(units)) == float(units)


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_any_float_is_rounded_as_its_text(value: float) -> None:
    if value >= 1e12:
        with pytest.raises(ValueError):
            normalize_money(value)
    else:
        assert normalize_money(value) == normalize_money(str(value))


@pytest.mark.parametrize("bad", [-0.01, -1, math.nan, math.inf, 1e12, 10**12])
def test_the_short_cut_refuses_what_the_full_path_refuses(bad: float) -> None:
    with pytest.raises(ValueError):
        normalize_money(bad)
