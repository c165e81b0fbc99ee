"""Reading the audit log: the page's filters (a form -> `AuditFilter`), the entries they
select, and the CSV of them. Dates are the project's local days (the gate activates its
zone), the same days the page shows."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass

from django import forms
from django.utils import timezone

from .audit import ACTIONS
from .models import AuditEntry

PAGE_SIZE = 50
# A cell a spreadsheet would run as a formula gets a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def entries(self, project):
        """The project's entries this filter selects, newest first."""
        qs = AuditEntry.objects.filter(project=project)
        if self.actor:
            qs = qs.filter(actor_label=self.actor)
        if self.action:
            qs = qs.filter(action=self.action)
        tz = timezone.get_current_timezone()
        if self.date_from:
            qs = qs.filter(created_at__gte=dt.datetime.combine(self.date_from, dt.time(), tz))
        if self.date_to:
            end = self.date_to + dt.timedelta(days=1)
            qs = qs.filter(created_at__lt=dt.datetime.combine(end, dt.time(), tz))
        return qs.order_by("-created_at", "-id")

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (links to pages and the CSV keep it)."""
        params = {
            "actor": self.actor,
            "action": self.action,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return {k: v for k, v in params.items() if v}


class AuditFilterForm(forms.Form):
    """GET parameters of the audit page; the actor and action choices are those the
    project's log holds (and every action the application records)."""

    actor = forms.ChoiceField(required=False)
    action = forms.ChoiceField(required=False)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data, *, project):
        super().__init__(data)
        logged = AuditEntry.objects.filter(project=project)
        actors = sorted(set(logged.exclude(actor_label="").values_list("actor_label", flat=True)))
        self.fields["actor"].choices = [("", "Anyone"), *((a, a) for a in actors)]
        present = set(logged.values_list("action", flat=True).distinct())
        actions = {**ACTIONS, **{a: a for a in present if a not in ACTIONS}}
        self.fields["action"].choices = [("", "Any action"), *sorted(actions.items(), key=lambda kv: kv[0])]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end is before the start.")
        return data

    def spec(self) -> AuditFilter:
        data = self.cleaned_data
        return AuditFilter(data["actor"], data["action"], data["date_from"], data["date_to"])


def action_label(action: str) -> str:
    return ACTIONS.get(action, action)


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class _Echo:
    def write(self, value):
        return value


CSV_HEADER = ["time", "actor", "action", "target", "ip", "before", "after"]


def csv_rows(entries, tz):
    """The CSV of `entries`, a line at a time: the time in `tz` with its offset (the response
    streams after the gate has left the project's zone), then the facts."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for e in entries.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                e.created_at.astimezone(tz).isoformat(),
                _cell(e.actor_label or "system"),
                _cell(e.action),
                _cell(e.target),
                e.ip or "",
                _cell(_json(e.before)),
                _cell(_json(e.after)),
            ]
        )


def changes(entry) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field the entry names, values as short JSON text."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, _json(before[k]) if k in before else "", _json(after[k]) if k in after else "") for k in keys]
