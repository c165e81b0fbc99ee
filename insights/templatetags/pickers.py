"""`{{ op|operator_label }}`: a property filter operator as the builders' selects show it."""

from django import template

register = template.Library()

OPERATOR_LABELS = {
    "exact": "= equals",
    "is_not": "≠ is not",
    "icontains": "contains",
    "not_icontains": "does not contain",
    "regex": "matches regex",
    "not_regex": "does not match regex",
    "gt": "> greater than",
    "gte": "≥ at least",
    "lt": "< less than",
    "lte": "≤ at most",
    "is_set": "is set",
    "is_not_set": "is not set",
}


@register.filter
def operator_label(op) -> str:
    return OPERATOR_LABELS.get(str(op), str(op))
