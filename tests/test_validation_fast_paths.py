"""The validators' fast paths (a phonenumbers check per 7-digit mobile block, an
email-validator check per domain) must agree with the libraries on every input."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_tui.domain.validation import normalize_email, normalize_phone


def library_phone(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def ours_phone(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except ValueError:
        return None


def library_email(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def ours_email(text: str) -> str | None:
    try:
        return normalize_email(text)
    except ValueError:
        return None


mobiles = st.builds(
    lambda prefix, digits, sep: prefix + sep.join([digits[:3], digits[3:7], digits[7:]]),
    st.sampled_from(["", "+86", "86", "+86 ", "0086"]),
    st.from_regex(r"1[0-9]{10}", fullmatch=True),
    st.sampled_from(["", " ", "-"]),
)


@settings(max_examples=3000)
@given(mobiles)
def test_mobile_fast_path_agrees_with_phonenumbers(text: str) -> None:
    assert ours_phone(text) == library_phone(text)


local_parts = st.text(alphabet="abcXYZ059._-+!#'\"é ", min_size=1, max_size=70)
domains = st.sampled_from(["example.com", "EXAMPLE.COM", "a.b", "-x.com", "x..com", "localhost",
                           "x.test", "bücher.de", "qq.com", "163.com", "a" * 250 + ".com", ""])


@settings(max_examples=3000)
@given(local_parts, domains)
def test_email_fast_path_agrees_with_email_validator(local: str, domain: str) -> None:
    text = f"{local}@{domain}"
    assert ours_email(text) == library_email(text)
