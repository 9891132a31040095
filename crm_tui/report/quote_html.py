"""A quotation as one self-contained printable HTML page: the company header from the
config, the customer, the lines, the totals, validity and terms, in English or
Chinese. Inline CSS only: no scripts, fonts, images or any other resource to fetch,
so it prints, mails and opens offline as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from crm_tui.i18n import money, quantity, unit_price

CSS = """
@page { size: A4; margin: 16mm 14mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
       system-ui, sans-serif; color: #222; margin: 0 auto; max-width: 190mm; padding: 10mm 0; font-size: 10.5pt; }
header { display: flex; justify-content: space-between; align-items: flex-start;
         border-bottom: 2px solid #2a4d8f; padding-bottom: 4mm; }
.company .name { font-size: 15pt; font-weight: 700; color: #2a4d8f; }
.company div, .meta div { line-height: 1.5; }
.doc { text-align: right; }
.doc h1 { font-size: 20pt; margin: 0 0 2mm; letter-spacing: 0.1em; }
.meta { color: #444; }
.parties { display: flex; gap: 10mm; margin: 6mm 0 4mm; }
.parties section { flex: 1; }
h2 { font-size: 10pt; color: #666; margin: 0 0 1mm; text-transform: uppercase; letter-spacing: 0.05em; }
table.lines { width: 100%; border-collapse: collapse; margin-top: 3mm; }
table.lines th { background: #eef2f9; text-align: left; padding: 2mm; border-bottom: 1px solid #99a; }
table.lines td { padding: 2mm; border-bottom: 1px solid #ddd; vertical-align: top; }
table.lines th.n { text-align: right; }
.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.totals { margin: 3mm 0 0 auto; border-collapse: collapse; min-width: 70mm; }
table.totals td { padding: 1.2mm 2mm; }
table.totals tr.total td { font-weight: 700; font-size: 12pt; border-top: 2px solid #2a4d8f; }
.terms { white-space: pre-wrap; border: 1px solid #ddd; padding: 3mm; margin-top: 2mm; }
.stamp { display: inline-block; border: 2px solid #b22; color: #b22; padding: 0.5mm 3mm; font-weight: 700;
         transform: rotate(-4deg); margin-top: 2mm; }
footer { margin-top: 8mm; color: #666; font-size: 9pt; border-top: 1px solid #ddd; padding-top: 2mm; }
@media print { body { padding: 0; } }
"""


def _money(value: Any) -> str:
    return money(float(value or 0))


def _qty(value: Any) -> str:
    return quantity(float(value or 0))


def render_quote(quote: Mapping[str, Any], customer: Mapping[str, Any], company: Any, *, lang: str,
                 tr: Callable[..., str], currency: str, status: str) -> str:
    """The HTML of `quote` (with its `lines` and `totals`, as QuoteBook.get returns it)
    for `customer`; `company` is the config's CompanySettings, `tr(key, **values)` the
    catalog in `lang`, `status` the status's label in that language."""
    def e(value: Any) -> str:
        return escape(str(value or ""))

    def line(label_key: str, value: str) -> str:
        return f"<div>{e(tr(label_key))}: {e(value)}</div>" if value else ""

    name = company.text("name", lang)
    head = "".join([
        f'<div class="name">{e(name)}</div>' if name else "",
        f"<div>{e(company.text('address', lang))}</div>" if company.text("address", lang) else "",
        line("quote.phone", company.phone or ""), line("quote.email", company.email or ""),
        f"<div>{e(company.website)}</div>" if company.website else "", line("quote.tax_id", company.tax_id or ""),
    ])
    to = "".join([
        f"<div><strong>{e(customer.get('company') or customer.get('name'))}</strong></div>",
        f"<div>{e(customer.get('name'))}{' · ' + e(customer.get('title')) if customer.get('title') else ''}</div>"
        if customer.get("company") else "",
        f"<div>{e(customer.get('address'))}</div>" if customer.get("address") else "",
        line("quote.phone", customer.get("mobile") or customer.get("phone") or ""),
        line("quote.email", customer.get("email") or ""),
    ])
    rows = []
    for n, item in enumerate(quote["lines"], start=1):
        discount = f"{_qty(item['discount'])}%" if item.get("discount") else ""
        rows.append(f"<tr><td class=\"n\">{n}</td><td>{e(item.get('sku'))}</td><td>{e(item['product'])}</td>"
                    f"<td class=\"n\">{_qty(item['quantity'])}</td><td class=\"n\">{unit_price(item['unit_price'])}</td>"
                    f"<td class=\"n\">{e(discount)}</td><td class=\"n\">{_money(item['amount'])}</td></tr>")
    totals = quote["totals"]
    foot = [f"<tr><td>{e(tr('quote.subtotal'))}</td><td class=\"n\">{_money(totals['subtotal'])}</td></tr>"]
    if totals["discount"]:
        foot.append(f"<tr><td>{e(tr('quote.discount_total'))}</td>"
                    f"<td class=\"n\">-{_money(totals['discount'])}</td></tr>")
    foot.append(f"<tr class=\"total\"><td>{e(tr('quote.total'))} ({e(currency)})</td>"
                f"<td class=\"n\">{_money(totals['total'])}</td></tr>")
    stamp = ""
    if quote.get("expired"):
        stamp = f'<div class="stamp">{e(tr("quote.expired"))}</div>'
    elif quote.get("status") in ("accepted", "declined"):
        stamp = f'<div class="stamp">{e(status)}</div>'
    terms = f'<h2>{e(tr("quote.terms"))}</h2><div class="terms">{e(quote["terms"])}</div>' if quote.get("terms") else ""
    bank = f"<div>{e(tr('quote.bank'))}: {e(company.bank)}</div>" if company.bank else ""
    title = tr("quote.title")
    return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}">
<head><meta charset="utf-8"><title>{e(title)} {e(quote['id'])}</title><style>{CSS}</style></head>
<body>
<header>
<div class="company">{head}</div>
<div class="doc"><h1>{e(title)}</h1><div class="meta">
<div>{e(tr('quote.number'))}: {e(quote['id'])}</div>
<div>{e(tr('quote.date'))}: {e(quote['quoted_on'])}</div>
<div>{e(tr('quote.valid_until'))}: {e(quote['valid_until'])}</div>
</div>{stamp}</div>
</header>
<div class="parties">
<section><h2>{e(tr('quote.to'))}</h2>{to}</section>
<section><h2>{e(tr('quote.about'))}</h2><div>{e(quote.get('title'))}</div>
{line('quote.prepared_by', quote.get('owner') or '')}</section>
</div>
<table class="lines">
<thead><tr><th class="n">#</th><th>{e(tr('quote.sku'))}</th><th>{e(tr('quote.product'))}</th>
<th class="n">{e(tr('quote.quantity'))}</th><th class="n">{e(tr('quote.unit_price'))}</th>
<th class="n">{e(tr('quote.discount'))}</th><th class="n">{e(tr('quote.amount'))}</th></tr></thead>
<tbody>{''.join(rows)}</tbody>
</table>
<table class="totals">{''.join(foot)}</table>
{terms}
<footer>{e(tr('quote.validity_note', date=quote['valid_until']))}{bank}</footer>
</body>
</html>
"""
