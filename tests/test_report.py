"""Reports of the hand-worked book for 2026-Q3: markdown and CSV exactly as in
tests/golden/ (customer ids, random per run, are replaced by their letters), and the
HTML one self-contained with inline SVG charts."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from analytics_fixture import add_deals, analytics, build

from crm_tui.api import Crm
from crm_tui.report import render

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def data(crm: Crm) -> tuple[dict, dict[str, str]]:
    ids = build(crm)
    ids |= add_deals(crm, ids)
    return analytics(crm).report_data("2026-Q3"), ids


def letters(text: str, ids: dict[str, str]) -> str:
    for letter, cid in ids.items():
        text = text.replace(cid, f"<{letter}>")
    return text


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_report_matches_the_golden_file(data: tuple[dict, dict[str, str]], fmt: str) -> None:
    report, ids = data
    got = letters(render(report, fmt), ids)
    golden = GOLDEN / f"report_2026-Q3.{fmt}"
    assert got == golden.read_text(encoding="utf-8")


def test_golden_report_holds_the_hand_worked_figures() -> None:
    md = (GOLDEN / "report_2026-Q3.md").read_text(encoding="utf-8")
    for line in ("| Sales | 7,400.00 |", "| Customer growth rate | 50.0% |", "| Retention rate | 66.7% |",
                 "| Satisfaction C = b / a | 0.912 (2 surveys) |", "| Champions | 2 |",
                 "| 1 | 赵一 | A Co | 2 | 6,000.00 |", "| 钱二 | A | churned | 486 | 5,000.00 |",
                 "| urgent | 1 | 1 | 1 | 100.0% |",
                 # pipeline: open 4000 x 50% + 800 x 40%; sales 7,400 orders + 2,600 won without order
                 "| Weighted open pipeline | 2,320.00 |", "| Team sales (orders + won without order) | 10,000.00 |",
                 "| Team attainment | 50.0% |", "| proposal | 1 | 4,000.00 | 50% | 2,000.00 |",
                 "| Win rate (opportunities created in the period) | 50.0% |",
                 "| 2026-09 | 2,600.00 | 2,320.00 | 4,920.00 |",
                 "| 2026-08-15 | lost | 钱二 | CRM | 1,000.00 | wang | price \\| too high |"):
        assert line in md, line


def test_html_report_is_self_contained_with_inline_svg(data: tuple[dict, dict[str, str]]) -> None:
    report, _ = data
    html = render(report, "html")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<svg") >= 6  # sales, segments, tiers, complaint Pareto, funnel, forecast charts
    assert "Sales funnel" in html and "price | too high" in html
    assert "<rect" in html and "<polyline" in html
    # nothing fetched from elsewhere: no scripts, links, images, imports or urls
    for needle in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href="):
        assert needle not in html.lower(), needle
    assert set(re.findall(r"https?://[^\"' >]+", html)) == {"http://www.w3.org/2000/svg"}  # a namespace only
    assert "赵一" in html and "7,400.00" in html
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ElementTree.fromstring(svg)  # each chart is well-formed SVG


def test_report_escapes_names(crm: Crm) -> None:
    c = crm.customers.create({"name": "<b>Evil</b> | Co"})
    crm.orders.create({"customer_id": c["id"], "ordered_at": "2026-08-01", "product": "x", "amount": 10})
    report = analytics(crm).report_data("2026-Q3")
    assert "<b>Evil" not in render(report, "html")
    assert "\\| Co" in render(report, "md")
