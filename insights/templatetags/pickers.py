"""`{{ op|operator_label }}`: a property filter operator as the builders' selects show it.
`{{ f|filter_key_shown:project.pk }}`: what a filter row's name box shows (a cohort filter:
the cohort's name, read by id, so a renamed cohort shows its new name)."""

from django import template

from cohorts.membership import cohort_names, project_cohorts

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
    "in": "in cohort",
    "not_in": "not in cohort",
}
COHORT_FILTER_OPERATORS = ("in", "not_in")


@register.filter
def operator_label(op) -> str:
    return OPERATOR_LABELS.get(str(op), str(op))


@register.filter
def filter_key_shown(f, project_id) -> str:
    """The row's name box: the property key, or for a cohort filter the cohort's name
    ("deleted cohort N" when it is gone; running the query then gives the form error)."""
    if not f:
        return ""
    key = f.get("key", "") if isinstance(f, dict) else getattr(f, "key", "")
    ftype = f.get("type") if isinstance(f, dict) else getattr(f, "type", "")
    if ftype != "cohort":
        return key or ""
    value = str(f.get("value", "") if isinstance(f, dict) else getattr(f, "value", ""))
    if not value.isdigit():
        return key or ""
    return cohort_names(int(project_id), [int(value)]).get(value, f"deleted cohort {value}")


@register.simple_tag
def cohort_operators():
    return COHORT_FILTER_OPERATORS


@register.simple_tag
def cohort_choices(project, chosen=()):
    """The project's cohorts for a cohort breakdown's box: (value, name, person count, checked),
    "All users" first."""
    chosen = {str(c) for c in chosen or ()}
    rows = [("all", "All users", None, "all" in chosen)]
    rows += [
        (str(c.pk), c.name, c.count, str(c.pk) in chosen)
        for c in project_cohorts(project).only("id", "name", "count")[:200]
    ]
    return rows
