"""The model's feature names as a reader of the What-if page understands them."""

from __future__ import annotations

import re

STATS = {
    "median_list_price": "median list price",
    "median_list_ppsf": "list price per sq ft",
    "median_ppsf": "sale price per sq ft",
    "median_sale_price": "median sale price",
    "inventory": "homes for sale",
    "median_dom": "days on market",
    "avg_sale_to_list": "sale-to-list ratio",
    "sold_above_list": "share sold above list",
    "off_market_in_two_weeks": "share off market in 2 weeks",
    "homes_sold": "homes sold",
    "pending_sales": "pending sales",
    "new_listings": "new listings",
}
NAMED = {
    "horizon": "months since the last known price",
    "anchor_log_price": "the zip's last known price",
    "metro_encoding": "the metro's typical price",
    "zip_frequency": "months of the zip in training",
    "list_vs_anchor": "list price against the last known price",
    "anchor_list_gap": "list price against price, at the last known month",
    "home_value_vs_list": "census home value against list price",
    "year": "year",
    "month": "calendar month",
    "quarter": "quarter",
}
PATTERNS = [
    (r"trend_(\d+)", "the zip's {}-month price trend, carried forward"),
    (r"metro_trend_(\d+)", "the metro's {}-month price trend, carried forward"),
    (r"mom_(\d+)", "the zip's price change over {} month(s)"),
    (r"metro_mom_(\d+)", "the metro's price change over {} months"),
    (r"change_(\w+)", "{} since the last known month"),
    (r"smooth_(\w+)", "{}, 6-month average"),
]


def label(feature: str) -> str:
    """`trend_1` -> "the zip's 1-month price trend, carried forward"; an unknown name as is."""
    if feature in NAMED:
        return NAMED[feature]
    for pattern, text in PATTERNS:
        found = re.fullmatch(pattern, feature)
        if found:
            part = found.group(1)
            return text.format(STATS.get(part, part.replace("_", " ")))
    return STATS.get(feature, feature.replace("_", " "))
