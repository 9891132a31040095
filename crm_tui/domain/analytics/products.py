"""Sales by product and category, top products per region and per rep, and the
returns rate (issue 13), pure: from the rows of `crm_tui.db.analytics.product_sales`.

Net figures, as every sales figure: a refund counts against sales in the period it is
dated in, cancelled orders not at all. The returns rate is refunds / gross sales (the
sales before refunds) of the same rows; None when nothing was sold."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crm_tui.domain.analytics.complaints import UNKNOWN


@dataclass
class _Sum:
    gross: float = 0.0
    refunds: float = 0.0
    sold: float = 0.0  # quantity sold
    returned: float = 0.0  # quantity returned
    orders: int = 0  # sale orders (an order with two lines of one product counts once)

    def add(self, row: Mapping[str, Any]) -> None:
        if row["is_sale"]:
            self.gross += row["amount"]
            self.sold += row["quantity"]
            self.orders += row["orders"]
        else:
            self.refunds += row["amount"]
            self.returned += row["quantity"]

    @property
    def net(self) -> float:
        return self.gross - self.refunds

    def figures(self, total_net: float) -> dict[str, Any]:
        return {"orders": self.orders, "quantity": round(self.sold - self.returned, 4),
                "gross": round(self.gross, 2), "returns": round(self.refunds, 2), "sales": round(self.net, 2),
                "share": round(self.net / total_net, 4) if total_net else None,
                "returns_rate": returns_rate(self.refunds, self.gross)}


def returns_rate(refunds: float, gross: float) -> float | None:
    return round(refunds / gross, 4) if gross else None


def _ranked(sums: Mapping[Any, _Sum], total: float) -> list[tuple[Any, dict[str, Any]]]:
    return sorted(((k, s.figures(total)) for k, s in sums.items()), key=lambda kv: (-kv[1]["sales"], str(kv[0])))


def product_sales(rows: Iterable[Mapping[str, Any]], orders: tuple[int, int] = (0, 0), *,
                  top: int = 5) -> dict[str, Any]:
    """{by_product, by_category, top_by_region, top_by_rep, returns} of the rows;
    `orders` is the number of sale and refund orders (an order of several products
    counts once, which sums over products cannot tell)."""
    rows = list(rows)
    names: dict[str, tuple[str | None, str, str]] = {}
    by_product: dict[str, _Sum] = defaultdict(_Sum)
    by_category: dict[str, _Sum] = defaultdict(_Sum)
    by_region: dict[tuple[str, str], _Sum] = defaultdict(_Sum)
    by_rep: dict[tuple[str, str], _Sum] = defaultdict(_Sum)
    overall = _Sum()
    for r in rows:
        key = r["key"]
        category = r["category"] or UNKNOWN
        names.setdefault(key, (r["sku"], r["product"], category))
        by_product[key].add(r)
        by_category[category].add(r)
        by_region[(r["region"] or UNKNOWN, key)].add(r)
        by_rep[(r["rep"] or UNKNOWN, key)].add(r)
        overall.add(r)
    total = overall.net

    def product_row(key: str, figures: dict[str, Any]) -> dict[str, Any]:
        sku, product, category = names[key]
        return {"sku": sku, "product": product, "category": category, **figures}

    def top_per(sums: Mapping[tuple[str, str], _Sum], name: str) -> list[dict[str, Any]]:
        groups: dict[str, dict[str, _Sum]] = defaultdict(dict)
        for (group, key), s in sums.items():
            groups[group][key] = s
        out: list[dict[str, Any]] = []
        for group in sorted(groups):
            group_total = sum(s.net for s in groups[group].values())
            for rank, (key, figures) in enumerate(_ranked(groups[group], group_total)[:top], 1):
                out.append({name: group, "rank": rank, **product_row(key, figures)})
        return out

    return {
        "by_product": [product_row(k, f) for k, f in _ranked(by_product, total)],
        # An order of two products of one category would count twice: no order count here.
        "by_category": [{"category": k, **{n: v for n, v in f.items() if n != "orders"}}
                        for k, f in _ranked(by_category, total)],
        "top_by_region": top_per(by_region, "region"),
        "top_by_rep": top_per(by_rep, "rep"),
        "returns": {"gross_sales": round(overall.gross, 2), "refunds": round(overall.refunds, 2),
                    "net_sales": round(total, 2), "returns_rate": returns_rate(overall.refunds, overall.gross),
                    "sale_orders": orders[0], "refund_orders": orders[1]},
    }
