"""Request parameters of the ingestion-warnings page -> a WarningsSpec."""

from __future__ import annotations

from django import forms

from .queries import RANGES, WarningsSpec


class WarningsForm(forms.Form):
    range = forms.ChoiceField(choices=[(k, k) for k in RANGES], required=False, initial="24h")
    reason = forms.RegexField(regex=r"^[A-Za-z0-9_:.\-]{0,100}$", required=False)

    def spec(self) -> WarningsSpec:
        data = self.cleaned_data
        return WarningsSpec(range=data.get("range") or "24h", reason=data.get("reason") or "")
