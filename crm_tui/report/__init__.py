"""Reports from `Analytics.report_data`: markdown, one self-contained HTML file with
inline SVG charts, and CSV. Renderers are pure: data in, text out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_tui.report.csv_report import render_csv
from crm_tui.report.html import render_html
from crm_tui.report.markdown import render_markdown

FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "md": render_markdown, "html": render_html, "csv": render_csv,
}


def render(data: dict[str, Any], fmt: str) -> str:
    try:
        return FORMATS[fmt](data)
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}") from None


__all__ = ["FORMATS", "render", "render_csv", "render_html", "render_markdown"]
