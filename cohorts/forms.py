"""The cohorts page's form: name, kind, and a behavioral definition (the
click-through builder's POST fields or JSON) or a static list (CSV upload)."""

from __future__ import annotations

import json

from django import forms

from analytics_app.errors import BadRequest
from insights.templatetags.pickers import operator_label

from .definitions import clean_definition, parse_csv
from .membership import cohort_names
from .models import Cohort


class CohortForm(forms.Form):
    """Name, kind, and either a behavioral definition (JSON) or a CSV of distinct_ids / emails."""

    EXAMPLE = {
        "match": "all",
        "groups": [
            {
                "match": "any",
                "criteria": [
                    {
                        "type": "performed_event",
                        "event": "$pageview",
                        "operator": "gte",
                        "count": 3,
                        "days": 30,
                    },
                    {"type": "first_performed_event", "event": "signup", "days": 7},
                ],
            },
            {
                "match": "all",
                "criteria": [
                    {"type": "not_performed_event", "event": "purchase", "days": 30},
                    {"type": "person_property", "key": "plan", "operator": "exact", "value": "free"},
                ],
            },
        ],
    }

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(choices=Cohort.Kind.choices, initial=Cohort.Kind.BEHAVIORAL)
    definition = forms.CharField(
        required=False, max_length=100_000, widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"})
    )
    csv = forms.FileField(
        required=False, help_text="A column distinct_id and/or email, or one value per line."
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        try:
            if kind == Cohort.Kind.STATIC:
                upload = data.get("csv")
                if upload is None:
                    self.add_error("csv", "upload a CSV of distinct_ids or emails")
                    return data
                if upload.size > 20 * 1024 * 1024:
                    self.add_error("csv", "at most 20 MB")
                    return data
                data["definition"] = clean_definition(parse_csv(upload.read()), kind, self.project)
            elif kind == Cohort.Kind.BEHAVIORAL:
                text = (data.get("definition") or "").strip()
                if text:
                    try:
                        raw = json.loads(text)
                    except ValueError as exc:
                        self.add_error("definition", f"not valid JSON: {exc}")
                        return data
                else:
                    raw = definition_from_builder(self.data)
                data["definition"] = clean_definition(raw, kind, self.project)
        except BadRequest as exc:
            for where, problem in (exc.errors or {"definition": exc.message}).items():
                self.add_error("csv" if where == "csv" else "definition", f"{where}: {problem}")
        return data


# The page's click-through builder: BUILDER_GROUPS groups of BUILDER_ROWS criteria rows,
# fields g<i>_match and g<i>_c<j>_<field>; a row with an empty type is ignored.
BUILDER_GROUPS = 2
BUILDER_ROWS = 3
CRITERION_LABELS = {
    "performed_event": "did event",
    "not_performed_event": "did not do event",
    "first_performed_event": "first did event",
    "person_property": "has person property",
    "cohort": "is in cohort",
}
# The builder's field sets each criterion type uses (the page shows only these, see
# static/js/cohorts.js): "event" (event and time frame), "count" (how often), "property"
# (key, operator, value), "cohort" (cohort and "not").
CRITERION_FIELDS = {
    "performed_event": ("event", "count"),
    "not_performed_event": ("event",),
    "first_performed_event": ("event",),
    "person_property": ("property",),
    "cohort": ("cohort",),
}


def _number(text: str):
    text = (text or "").strip()
    return int(text) if text.lstrip("-").isdigit() else text


def definition_from_builder(post) -> dict:
    """The behavioral definition JSON from the builder's POST fields (validated later)."""
    groups = []
    for g in range(BUILDER_GROUPS):
        criteria = []
        for r in range(BUILDER_ROWS):

            def field(name, g=g, r=r):
                return (post.get(f"g{g}_c{r}_{name}") or "").strip()

            kind = field("type")
            if not kind:
                continue
            c: dict = {"type": kind}
            if kind in ("performed_event", "not_performed_event", "first_performed_event"):
                c["event"] = field("event")
                if field("date_from") or field("date_to"):
                    c.update(date_from=field("date_from"), date_to=field("date_to"))
                else:
                    c["days"] = _number(field("days") or "30")
                if kind == "performed_event":
                    c.update(operator=field("operator") or "gte", count=_number(field("count") or "1"))
            elif kind == "person_property":
                c.update(key=field("key"), operator=field("prop_operator") or "exact")
                if c["operator"] not in ("is_set", "is_not_set"):
                    c["value"] = field("value")
            else:
                c.update(cohort_id=_number(field("cohort")), negate=field("negate") in ("on", "1", "true"))
            criteria.append(c)
        if criteria:
            groups.append({"match": post.get(f"g{g}_match") or "all", "criteria": criteria})
    return {"match": post.get("match") or "all", "groups": groups}


_HOW_OFTEN = {"gte": "at least", "eq": "exactly", "lte": "at most"}


def _frame(c: dict) -> str:
    if c.get("date_from") or c.get("date_to"):
        return f"between {c.get('date_from', '…')} and {c.get('date_to', '…')}"
    days = c.get("days", 30)
    return f"in the last {days} day{'' if days == 1 else 's'}"


def _criterion_text(c: dict, names: dict[str, str]) -> str:
    kind = c.get("type")
    where = " (with event filters)" if c.get("properties") else ""
    if kind == "performed_event":
        count = c.get("count", 1)
        times = f"{_HOW_OFTEN.get(c.get('operator', 'gte'), c.get('operator'))} {count} time{'' if count == 1 else 's'}"
        return f"did {c.get('event')}{where} {times} {_frame(c)}"
    if kind == "not_performed_event":
        return f"did not do {c.get('event')}{where} {_frame(c)}"
    if kind == "first_performed_event":
        return f"first did {c.get('event')}{where} {_frame(c)}"
    if kind == "person_property":
        value = "" if c.get("operator") in ("is_set", "is_not_set") else f" {c.get('value')}"
        return f"person property {c.get('key')} {operator_label(c.get('operator', 'exact'))}{value}"
    if kind == "cohort":
        name = names.get(str(c.get("cohort_id")), f"cohort {c.get('cohort_id')}")
        return f"{'not ' if c.get('negate') else ''}in cohort {name}"
    return str(kind)


def describe(definition: dict, project) -> list[str]:
    """A behavioral definition in words, one line per group ("did buy at least 2 times in
    the last 7 days and person property plan = equals pro"), for the cohort page."""
    groups = (definition or {}).get("groups", [])
    ids = [c.get("cohort_id") for g in groups for c in g.get("criteria", []) if c.get("type") == "cohort"]
    names = cohort_names(project.pk, [i for i in ids if isinstance(i, int)])
    lines = []
    for g in groups:
        joiner = " or " if g.get("match") == "any" else " and "
        lines.append(joiner.join(_criterion_text(c, names) for c in g.get("criteria", [])))
    return lines
