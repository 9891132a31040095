"""Small inline SVG charts for the HTML report: vertical bars, horizontal bars and a
Pareto chart (bars with the cumulative share as a line). No scripts, no external
resources: the SVG is text inside the page."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = 'font-family="system-ui, sans-serif" font-size="11"'
BAR = "#3b6ea8"
LINE = "#d0603a"


def _short(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}" if v == int(v) else f"{v:.1f}"


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, width: int = 640, height: int = 240) -> str:
    """Vertical bars, one per (label, value), with the value above each bar."""
    left, bottom, top = 40, 40, 28
    plot_h = height - bottom - top
    n = max(len(items), 1)
    slot = (width - left - 10) / n
    peak = max((v for _, v in items), default=0) or 1
    step = -(-n // 12)  # label at most 12 bars, so a long period's months do not overlap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" {FONT}>',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#888"/>']
    for i, (name, value) in enumerate(items):
        h = plot_h * value / peak
        x = left + i * slot + slot * 0.15
        y = height - bottom - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{BAR}">'
                     f'<title>{escape(name)}: {value:,.2f}</title></rect>')
        if i % step:
            continue
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle">{_short(value)}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
                     f'{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(items: Sequence[tuple[str, float]], *, title: str, width: int = 640) -> str:
    """Horizontal bars, one row per (label, value): for named categories."""
    row, left, top = 20, 150, 28
    # room for three rows at least: a chart of one product is a chart, not a sliver
    height = top + row * max(len(items), 3) + 10
    peak = max((v for _, v in items), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" {FONT}>',
             f'<title>{escape(title)}</title>',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = (width - left - 60) * value / peak
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{BAR}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}">{_short(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pareto_chart(items: Sequence[tuple[str, int, float]], *, title: str, width: int = 640,
                 height: int = 240) -> str:
    """Bars of (label, count, cumulative share), largest first, and the cumulative
    share as a line against the right axis, with the 80% mark."""
    left, right, bottom, top = 40, 40, 40, 28
    plot_w, plot_h = width - left - right, height - bottom - top
    n = max(len(items), 1)
    slot = plot_w / n
    peak = max((c for _, c, _ in items), default=0) or 1
    base = height - bottom
    mark = base - 0.8 * plot_h
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" {FONT}>',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#888"/>',
             f'<line x1="{left}" y1="{mark:.1f}" x2="{width - right}" y2="{mark:.1f}" stroke="{LINE}" '
             'stroke-dasharray="4 3" stroke-width="0.8"/>',
             f'<text x="{width - right + 4}" y="{mark + 4:.1f}" fill="{LINE}">80%</text>']
    points = []
    for i, (name, count, cumulative) in enumerate(items):
        h = plot_h * count / peak
        x = left + i * slot + slot * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                     f'fill="{BAR}"><title>{escape(name)}: {count}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{base - h - 3:.1f}" text-anchor="middle">{count}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{base + 14}" text-anchor="middle">{escape(name)}</text>')
        points.append(f"{x + slot * 0.35:.1f},{base - plot_h * cumulative:.1f}")
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def funnel_chart(items: Sequence[tuple[str, float]], *, title: str, width: int = 640) -> str:
    """A sales funnel: one centred bar per stage (label, deals reached), as wide as its
    share of the first stage, each with its count and the share of the first."""
    row, top, side = 26, 28, 150
    height = top + row * max(len(items), 1) + 10
    first = items[0][1] if items and items[0][1] else 1
    plot = width - 2 * side
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" {FONT}>',
             f'<title>{escape(title)}</title>',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = max(plot * value / first, 2.0)
        x = side + (plot - w) / 2
        parts.append(f'<text x="{side - 8}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" rx="3" fill="{BAR}">'
                     f'<title>{escape(name)}: {value:,.0f}</title></rect>')
        parts.append(f'<text x="{width - side + 8}" y="{y + 16}">{_short(value)} '
                     f'({100 * value / first:.0f}%)</text>')
    parts.append("</svg>")
    return "".join(parts)
