"""Template filters every Sextant template can use (registered as a builtin)."""

import datetime as dt
import json
import re

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

_SCRIPT_ESCAPES = {
    ord("<"): "\\u003C",
    ord(">"): "\\u003E",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


@register.filter
def script_json(value):
    """JSON (text or object) made safe inside <script type="application/json">.

    Event names, property values and labels come from SDKs, i.e. from anyone who
    knows a project token: `</script>` in them must not end the script element.
    """
    text = value if isinstance(value, str) else json.dumps(value)
    return mark_safe(text.translate(_SCRIPT_ESCAPES))  # noqa: S308 - escaped above


@register.filter
def local_time(value, fmt: str = "Y-m-d H:i:s"):
    """An instant as `<time datetime="<ISO with offset>" title="<UTC>">local text</time>`.

    Local means the active zone: the project's, which the access gate activates for
    every project page (docs/architecture.md, "Time zones"). A naive datetime is read
    as UTC (what ClickHouse stores). Anything else renders as it is.
    """
    if not isinstance(value, dt.datetime):
        return "" if value is None else value
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        local.isoformat(),
        value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        dateformat.format(local, fmt),
    )


@register.simple_tag
def time_zone_name() -> str:
    """The zone times render in (the project's on project pages), for column labels."""
    return timezone.get_current_timezone_name()


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _type_of(value) -> str:
    """The tracking plan's vocabulary: string, number, boolean, datetime, object, array, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dt.datetime | dt.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return "datetime"
    return "string"


@register.filter
def property_rows(properties) -> list[dict]:
    """A properties dict (already masked for the viewer by the presenter) as table rows
    {key, value, type, sort}, by key: `value` is the text shown (objects and arrays as
    compact JSON), `sort` what a numeric column sorts by (templates/analytics_app/_properties.html)."""
    if not isinstance(properties, dict):
        return []
    rows = []
    for key in sorted(properties, key=lambda k: str(k).lower()):
        value = properties[key]
        kind = _type_of(value)
        if kind in ("object", "array"):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        elif kind == "null":
            text = "null"
        elif kind == "boolean":
            text = "true" if value else "false"
        else:
            text = str(value)
        rows.append({"key": key, "value": text, "type": kind, "sort": value if kind == "number" else ""})
    return rows


@register.filter
def pretty_json(value) -> str:
    """Indented, key-sorted JSON text (the properties table's "JSON" view)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def clock(value) -> str:
    """A duration (timedelta or seconds) as a player's clock: 8 s -> "0:08", 3,725 s -> "1:02:05"."""
    if isinstance(value, dt.timedelta):
        value = value.total_seconds()
    if not isinstance(value, int | float):
        return "" if value is None else str(value)
    total = int(round(value))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
