"""Request -> validated values for saved insights and dashboards. Views never read
raw parameters; bad input becomes form errors (400), never a 500."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.utils import timezone

from analytics_app.errors import BadRequest
from insights.blocks.dates import parse_point
from insights.blocks.filters import parse_filters
from insights.registry import KINDS

from .cache import DateOverride, parse_spec, spec_dict
from .models import Dashboard, DashboardTile, Insight

DATE_PRESETS = [
    ("", "Each insight's own range"),
    ("-7d", "Last 7 days"),
    ("-30d", "Last 30 days"),
    ("-90d", "Last 90 days"),
    ("mStart", "This month"),
    ("all", "All time"),
]
MAX_SPEC_CHARS = 50_000


def _errors_text(exc: BadRequest) -> str:
    details = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    return f"{exc.message} ({details})" if details else exc.message


class SaveInsightForm(forms.Form):
    """`kind` + `spec` (JSON text) from a builder page, plus a name and description."""

    kind = forms.CharField(max_length=64, widget=forms.HiddenInput)
    spec = forms.CharField(max_length=MAX_SPEC_CHARS, widget=forms.HiddenInput)
    name = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Weekly signups"})
    )
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if kind not in KINDS:
            raise forms.ValidationError(f"{kind!r} is not an insight kind this installation knows.")
        return kind

    def clean_spec(self):
        text = self.cleaned_data["spec"]
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"The insight definition is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise forms.ValidationError("The insight definition must be a JSON object.")
        return raw

    def clean(self):
        cleaned = super().clean()
        if "kind" in cleaned and "spec" in cleaned:
            kind = KINDS[cleaned["kind"]]
            try:
                spec = parse_spec(kind, cleaned["spec"], self.project)
            except BadRequest as exc:
                self.add_error("spec", _errors_text(exc))
            else:
                cleaned["spec"] = spec_dict(kind, spec)  # stored in the kind's canonical form
        return cleaned

    def save(self, user) -> Insight:
        data = self.cleaned_data
        return Insight.objects.create(
            project=self.project,
            name=data["name"].strip(),
            description=data["description"].strip(),
            kind=data["kind"],
            spec=data["spec"],
            created_by=user,
        )


class InsightForm(forms.ModelForm):
    """Rename / describe a saved insight."""

    class Meta:
        model = Insight
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class InsightSearchForm(forms.Form):
    search = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search by name"}),
    )
    kind = forms.ChoiceField(required=False)

    def __init__(self, *args, kinds: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "All kinds"), *kinds]

    def filter(self, queryset):
        if not self.is_valid():
            return queryset.none()
        if self.cleaned_data["search"].strip():
            queryset = queryset.filter(name__icontains=self.cleaned_data["search"].strip())
        if self.cleaned_data["kind"]:
            queryset = queryset.filter(kind=self.cleaned_data["kind"])
        return queryset


class AddToDashboardForm(forms.Form):
    dashboard = forms.ModelChoiceField(queryset=Dashboard.objects.none(), empty_label=None)
    width = forms.TypedChoiceField(
        choices=DashboardTile.Width.choices, coerce=int, initial=DashboardTile.Width.ONE
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dashboard"].queryset = Dashboard.objects.filter(project=project)


def _check_point(value: str, project, *, is_end: bool) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        parse_point(value, project.tz, dt.datetime.now(dt.UTC), is_end=is_end)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None
    return value


class DateRangeForm(forms.Form):
    """The dashboard-wide override: a preset or a date for `date_from`, optional `date_to`."""

    date_from = forms.CharField(required=False, max_length=32, label="Date range")
    date_to = forms.CharField(required=False, max_length=32, label="Until")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_date_from(self):
        return _check_point(self.cleaned_data["date_from"], self.project, is_end=False)

    def clean_date_to(self):
        return _check_point(self.cleaned_data["date_to"], self.project, is_end=True)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_to") and not cleaned.get("date_from"):
            self.add_error("date_from", "Choose where the range starts.")
        return cleaned

    @property
    def override(self) -> DateOverride:
        return DateOverride(self.cleaned_data["date_from"], self.cleaned_data["date_to"])


class DashboardForm(forms.ModelForm):
    class Meta:
        model = Dashboard
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class TileForm(forms.Form):
    """One change to a tile: move it, resize it (width or height), remove it."""

    action = forms.ChoiceField(
        choices=[
            ("up", "Move up"),
            ("down", "Move down"),
            ("width", "Resize"),
            ("height", "Change height"),
            ("remove", "Remove"),
        ]
    )
    width = forms.TypedChoiceField(
        required=False, choices=DashboardTile.Width.choices, coerce=int, empty_value=None
    )
    height = forms.ChoiceField(required=False, choices=DashboardTile.Height.choices)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "width" and not cleaned.get("width"):
            self.add_error("width", "Choose a width: 1/3, 1/2, 2/3 or full.")
        if cleaned.get("action") == "height" and not cleaned.get("height"):
            self.add_error("height", "Choose a height: small, medium or large.")
        return cleaned


FILTER_FIELDS = ("filter_type", "filter_key", "filter_operator", "filter_value")


def filter_rows(data) -> list[dict]:
    """The filter rows of a form (insights/_filter_row.html's fields), blank rows dropped."""
    types, keys, operators, values = (data.getlist(name) for name in FILTER_FIELDS)

    def at(column: list[str], i: int, default: str) -> str:
        return column[i] if i < len(column) else default

    rows = []
    for i, key in enumerate(keys):
        ftype, operator, value = at(types, i, "event"), at(operators, i, "exact"), at(values, i, "")
        if not key.strip():
            continue
        raw = {"key": key.strip(), "operator": operator, "type": ftype or "event"}
        if operator not in ("is_set", "is_not_set"):
            raw["value"] = value
        rows.append(raw)
    return rows


def parse_dashboard_filters(data) -> tuple[list[dict], str]:
    """A dashboard's property filters from the filter rows: (canonical JSON dicts, error).
    Parsed with the current request's presenter, so a role that sees PII masked cannot
    filter on it (insights.blocks.filters.parse_filter), and what it saves stays a filter
    on the masked text."""
    rows = filter_rows(data)
    if len(rows) > 10:
        return [], "At most 10 dashboard filters."
    try:
        parsed = parse_filters(rows, "filters")
    except BadRequest as exc:
        return [], _errors_text(exc)
    return [f.to_json() for f in parsed], ""


class ShareLinkForm(forms.Form):
    """A new share link: an optional expiry (a date and time in the project's zone)."""

    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="Optional; empty = until revoked.",
    )

    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value
