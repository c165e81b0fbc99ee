"""Template filters every Sextant template can use (registered as a builtin)."""

import json

from django import template
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
