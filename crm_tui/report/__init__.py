"""Reports from `Analytics.report_data`: markdown, one self-contained HTML file with
inline SVG charts, CSV, and an Excel workbook. Renderers are pure: data in, text (or
the workbook's bytes) out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_tui.report.csv_report import render_csv
from crm_tui.report.html import render_html
from crm_tui.report.markdown import render_markdown


def _xlsx(data: dict[str, Any]) -> bytes:
    from crm_tui.report.xlsx_report import render_xlsx  # openpyxl loads only for a workbook

    return render_xlsx(data)


FORMATS: dict[str, Callable[[dict[str, Any]], str | bytes]] = {
    "md": render_markdown, "html": render_html, "csv": render_csv, "xlsx": _xlsx,
}
BINARY_FORMATS = ("xlsx",)


def render(data: dict[str, Any], fmt: str) -> str | bytes:
    try:
        return FORMATS[fmt](data)
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}") from None


__all__ = ["BINARY_FORMATS", "FORMATS", "render", "render_csv", "render_html", "render_markdown"]
