"""Finding products in the catalogue as a rep types, pure: a product matches when
every word of the query is in its SKU, name, category or unit (any case)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SEARCHED = ("sku", "name", "category", "unit")


def product_matches(product: Mapping[str, Any], query: str) -> bool:
    words = query.casefold().split()
    if not words:
        return True
    text = " ".join(str(product.get(k) or "") for k in SEARCHED).casefold()
    return all(w in text for w in words)


def filter_products(products: Iterable[Mapping[str, Any]], query: str) -> list[Mapping[str, Any]]:
    return [p for p in products if product_matches(p, query)]
