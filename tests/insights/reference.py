"""Deliberately simple Python reference implementations of the insight semantics,
used to check ClickHouse's answers on generated data."""

from __future__ import annotations

import json
import math
import re

MISSING = object()


def prop_text(props: dict, key: str) -> str:
    value = props.get(key, MISSING)
    if value is MISSING or value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else json.dumps(value)
    return str(value) if not isinstance(value, float) else repr(value)


def prop_is_set(props: dict, key: str) -> bool:
    value = props.get(key, MISSING)
    return value is not MISSING and value is not None and not isinstance(value, dict | list)


def as_number(text):
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text) if math.isfinite(text) else None
    try:
        number = float(str(text).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def matches(props: dict, f: dict) -> bool:
    key, op, value = f["key"], f.get("operator", "exact"), f.get("value")
    text = prop_text(props, key)
    if op == "is_set":
        return prop_is_set(props, key)
    if op == "is_not_set":
        return not prop_is_set(props, key)
    if op in ("exact", "is_not"):
        values = value if isinstance(value, list) else [value]
        hit = False
        for v in values:
            if isinstance(v, int | float) and not isinstance(v, bool):
                n = as_number(text)
                hit = hit or (n is not None and n == float(v))
            elif isinstance(v, bool):
                hit = hit or text == ("true" if v else "false")
            else:
                hit = hit or text == str(v)
        return hit if op == "exact" else not hit
    if op in ("icontains", "not_icontains"):
        found = str(value).lower() in text.lower()
        return found if op == "icontains" else not found
    if op in ("regex", "not_regex"):
        found = re.search(str(value), text) is not None
        return found if op == "regex" else not found
    n = as_number(text)
    if n is None:
        return False
    v = float(value)
    return {"gt": n > v, "gte": n >= v, "lt": n < v, "lte": n <= v}[op]
