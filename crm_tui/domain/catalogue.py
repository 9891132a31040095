"""Finding products in the catalogue as a rep types, pure: a product matches when
every word of the query is in its SKU, name, category or unit, folded as every
search folds (crm_tui.domain.search.fold: any case, with or without accents)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crm_tui.domain.search import fold

SEARCHED = ("sku", "name", "category", "unit")


def product_matches(product: Mapping[str, Any], query: str) -> bool:
    words = fold(query).split()
    if not words:
        return True
    text = fold(" ".join(str(product.get(k) or "") for k in SEARCHED))
    return all(w in text for w in words)


def filter_products(products: Iterable[Mapping[str, Any]], query: str) -> list[Mapping[str, Any]]:
    return [p for p in products if product_matches(p, query)]
