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


@pytest.mark.parametrize("text, amount", [("1,234.56", 1234.56), ("¥1,200", 1200.0), ("12,345,678", 12345678.0),
                                          ("1234.5", 1234.5), ("0.125", 0.13), ("1200.005", 1200.01)])
def test_commas_separate_thousands_and_cents_round_half_up(text: str, amount: float) -> None:
    # Half up, as an order line's amount (crm_tui.domain.orders.line_amount) and an invoice.
    assert normalize_money(text) == amount


@pytest.mark.parametrize("text", ["1.234,56", "1,2", "1,23", "12,34,567", "1,234,5", ",100", "100,"])
def test_a_comma_that_is_no_thousands_separator_is_refused(text: str) -> None:
    # '1.234,56' (a decimal comma) was read as 1.23, and '1,2' as 12: a wrong amount
    # written without a word. Refused, the value named, it cannot be misread.
    with pytest.raises(ValueError, match="thousands"):
        normalize_money(text)
