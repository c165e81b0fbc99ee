"""The alert rule form: request fields -> an AlertRule's metric, detector params and channels.

Views never read raw parameters: `AlertForm(data, project=..., insight=...)` validates
everything (bad input -> form errors, shown with a 400) and `apply(rule)` writes the
cleaned values onto a rule (saved or not: the backtest runs on an unsaved one).
"""

from __future__ import annotations

from django import forms
from django.core.validators import URLValidator

from . import webhooks
from .models import AlertRule, Detector, Interval, Metric

DIRECTIONS = [("both", "Up or down"), ("up", "Up only"), ("down", "Down only")]
SNOOZES = {"1h": "1 hour", "1d": "1 day", "resolved": "Until resolved"}


class AlertForm(forms.Form):
    name = forms.CharField(max_length=200)
    metric = forms.ChoiceField(choices=Metric.choices, initial=Metric.EVENTS)
    series_index = forms.TypedChoiceField(label="Series", coerce=int, required=False, empty_value=0)
    funnel_step = forms.TypedChoiceField(label="Conversion", coerce=int, required=False, empty_value=None)
    interval = forms.ChoiceField(choices=Interval.choices, initial=Interval.HOUR)
    detector = forms.ChoiceField(choices=Detector.choices, initial=Detector.SEASONAL)
    direction = forms.ChoiceField(choices=DIRECTIONS, initial="both")
    min_abs_change = forms.FloatField(
        label="Minimum absolute change",
        min_value=0,
        initial=0,
        required=False,
        help_text="Changes smaller than this never fire (keeps tiny counts quiet).",
    )
    # threshold
    op = forms.ChoiceField(
        label="Fire when the value is",
        choices=[("above", "Above"), ("below", "Below")],
        initial="above",
        required=False,
    )
    threshold = forms.FloatField(label="Threshold", required=False, initial=0)
    # relative
    compare_to = forms.ChoiceField(
        label="Compare with",
        choices=[("previous", "The previous period"), ("last_week", "Same period last week")],
        initial="previous",
        required=False,
    )
    percent = forms.FloatField(
        label="Change (%)", min_value=0.1, max_value=100000, initial=30, required=False
    )
    # seasonal
    weeks = forms.IntegerField(label="Weeks of history", min_value=1, max_value=12, initial=4, required=False)
    k = forms.FloatField(label="|z| at least", min_value=0.5, max_value=20, initial=3, required=False)
    min_history = forms.IntegerField(
        label="Weeks needed before firing", min_value=1, max_value=12, initial=2, required=False
    )
    # channels
    email = forms.EmailField(label="E-mail to", required=False)
    webhook = forms.CharField(
        label="Webhook URL",
        max_length=500,
        required=False,
        help_text="Receives a JSON POST per firing and resolution.",
    )
    slack = forms.BooleanField(label="Slack-compatible webhook body", required=False)
    inapp = forms.BooleanField(
        label="In-app bell (members who can see this alert)", required=False, initial=True
    )
    cooldown_minutes = forms.IntegerField(
        label="Cooldown (minutes)", min_value=0, max_value=7 * 24 * 60, initial=60
    )

    def __init__(self, *args, project, insight=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.insight = insight
        if insight is not None:
            del self.fields["metric"]
            if insight.kind == "TrendsQuery":
                series = insight.spec.get("series") or []
                self.fields["series_index"].choices = [
                    (i, s.get("name") or s.get("event") or f"Series {i + 1}") for i, s in enumerate(series)
                ]
                del self.fields["funnel_step"]
            else:
                steps = insight.spec.get("steps") or []
                self.fields["funnel_step"].choices = [("", "Overall conversion")] + [
                    (k, f"Step {k + 1}: {s.get('event')} (from step {k})") for k, s in enumerate(steps) if k
                ]
                del self.fields["series_index"]
                self.fields["interval"].choices = [(Interval.DAY, "Daily")]
                self.fields["interval"].initial = Interval.DAY
        else:
            del self.fields["series_index"]
            del self.fields["funnel_step"]
            self.fields["metric"].choices = [c for c in Metric.choices if c[0] != Metric.INSIGHT]

    def clean_webhook(self):
        url = self.cleaned_data.get("webhook") or ""
        if url:
            URLValidator(schemes=["http", "https"])(url)
            try:
                webhooks.resolve(url)
            except webhooks.UnsafeWebhook as exc:
                raise forms.ValidationError(f"This URL is refused: {exc}.") from None
        return url

    def clean(self):
        data = super().clean()
        detector = data.get("detector")
        need = {
            "threshold": ["op", "threshold"],
            "relative": ["compare_to", "percent"],
            "seasonal": ["weeks", "k", "min_history"],
        }.get(detector, [])
        for name in need:
            if data.get(name) in (None, ""):
                self.add_error(name, "Required for this detector.")
        if self.insight is not None and self.insight.kind == "FunnelsQuery" and data.get("interval") != "day":
            self.add_error("interval", "Funnel alerts are daily.")
        if self.insight is not None and self.insight.kind == "TrendsQuery" and data.get("interval") == "hour":
            series = self.insight.spec.get("series") or []
            index = data.get("series_index") or 0
            if index < len(series) and series[index].get("math") in ("weekly_active", "monthly_active"):
                self.add_error(
                    "interval", "Weekly and monthly active persons are counted per day: choose Daily."
                )
        return data

    def params(self) -> dict:
        d = self.cleaned_data
        common = {"direction": d["direction"], "min_abs_change": d.get("min_abs_change") or 0.0}
        if d["detector"] == "threshold":
            return {**common, "op": d["op"], "value": d["threshold"]}
        if d["detector"] == "relative":
            return {**common, "compare_to": d["compare_to"], "percent": d["percent"]}
        return {**common, "weeks": d["weeks"], "k": d["k"], "min_history": d["min_history"]}

    def channels(self) -> list[dict]:
        d = self.cleaned_data
        out = []
        if d.get("email"):
            out.append({"type": "email", "to": d["email"]})
        if d.get("webhook"):
            out.append({"type": "webhook", "url": d["webhook"], "slack": bool(d.get("slack"))})
        if d.get("inapp"):
            out.append({"type": "inapp"})
        return out

    def apply(self, rule: AlertRule) -> AlertRule:
        d = self.cleaned_data
        rule.project = self.project
        rule.name = d["name"]
        rule.insight = self.insight
        rule.metric = Metric.INSIGHT if self.insight is not None else d["metric"]
        rule.series_index = d.get("series_index") or 0
        rule.funnel_step = d.get("funnel_step")
        rule.interval = d["interval"]
        rule.detector = d["detector"]
        rule.params = self.params()
        rule.channels = self.channels()
        rule.cooldown_minutes = d["cooldown_minutes"]
        return rule


def initial_for(rule: AlertRule) -> dict:
    """The form's fields from a saved rule (the edit page)."""
    p = rule.params or {}
    out = {
        "name": rule.name,
        "metric": rule.metric,
        "series_index": rule.series_index,
        "funnel_step": rule.funnel_step,
        "interval": rule.interval,
        "detector": rule.detector,
        "cooldown_minutes": rule.cooldown_minutes,
        "direction": p.get("direction", "both"),
        "min_abs_change": p.get("min_abs_change", 0),
        "inapp": False,
    }
    for key in ("op", "compare_to", "percent", "weeks", "k", "min_history"):
        if key in p:
            out[key] = p[key]
    if "value" in p:
        out["threshold"] = p["value"]
    for c in rule.channels or []:
        if c.get("type") == "email":
            out["email"] = c.get("to")
        elif c.get("type") == "webhook":
            out["webhook"], out["slack"] = c.get("url"), c.get("slack", False)
        elif c.get("type") == "inapp":
            out["inapp"] = True
    return out


def snapshot(rule: AlertRule) -> dict:
    """The audited fields of a rule (before/after of alert.create/update/delete)."""
    return {
        "name": rule.name,
        "insight": rule.insight_id,
        "metric": rule.metric,
        "interval": rule.interval,
        "detector": rule.detector,
        "params": rule.params,
        "channels": [c.get("type") for c in rule.channels or []],
        "cooldown_minutes": rule.cooldown_minutes,
    }
