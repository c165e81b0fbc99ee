from __future__ import annotations

import zoneinfo

from django import forms

from .models import Project

COMMON_ZONES = sorted(zoneinfo.available_timezones())


class ProjectForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[(z, z) for z in COMMON_ZONES], initial="UTC")

    class Meta:
        model = Project
        fields = [
            "name",
            "time_zone",
            "recording_enabled",
            "recording_mask_all_text",
            "recording_retention_days",
            "event_retention_days",
            "anonymize_ips",
            "replay_resources",
            "replay_text_masking",
            "replay_mask_selectors",
            "require_admin_2fa",
        ]
        labels = {
            "recording_enabled": "Record sessions (posthog-js session replay)",
            "recording_mask_all_text": (
                "Mask all page text when recording (posthog-js records no text at all; inputs are always masked)"
            ),
            "recording_retention_days": "Keep recordings for (days)",
            "event_retention_days": "Keep events for (days)",
            "anonymize_ips": "Drop IP addresses at ingestion",
            "replay_resources": "Replays load images, fonts and styles",
            "replay_text_masking": "Replay text that roles without view-PII see masked",
            "replay_mask_selectors": "Also mask everything inside elements matching",
            "require_admin_2fa": "Require two-factor for admins",
        }
        help_texts = {
            "event_retention_days": "Empty keeps events forever. Older events are deleted once a day.",
            "replay_resources": (
                "A replayed page that loads them from another server tells that server the viewer's IP address."
            ),
            "replay_text_masking": (
                "By the PII policy, support reads headings, buttons and error messages while inputs, "
                "e-mail addresses, phone, card and IBAN numbers, the recorded person's PII values and "
                "the elements below are masked. All text masks every text of the page."
            ),
            "replay_mask_selectors": (
                "Comma-separated simple selectors: tag, .class, #id, [attr], [attr=value] "
                "(e.g. [data-sextant-mask], .ph-sensitive, .ph-no-capture). Used by the PII policy."
            ),
            "require_admin_2fa": (
                "Admins without a two-factor device (you too) are sent to set one up before "
                "they can open this project's pages."
            ),
        }

    def clean_recording_retention_days(self):
        days = self.cleaned_data["recording_retention_days"]
        if not 1 <= days <= 3650:
            raise forms.ValidationError("Choose between 1 and 3650 days.")
        return days

    # Settings a form posted without them keeps as they are (a form rendered before they
    # existed, an API client that only knows the older fields).
    KEEP_WHEN_ABSENT = ("replay_text_masking", "replay_mask_selectors")

    def __init__(self, data=None, *args, **kwargs):
        instance = kwargs.get("instance")
        if data is not None and instance is not None and any(n not in data for n in self.KEEP_WHEN_ABSENT):
            data = data.copy()
            for name in self.KEEP_WHEN_ABSENT:
                if name not in data:
                    data[name] = getattr(instance, name)
        super().__init__(data, *args, **kwargs)

    def clean_replay_mask_selectors(self):
        from governance.masking import parse_selectors  # noqa: PLC0415

        text = (self.cleaned_data.get("replay_mask_selectors") or "").strip()
        try:
            parse_selectors(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return ", ".join(p.strip() for p in text.split(",") if p.strip())

    def clean_event_retention_days(self):
        days = self.cleaned_data["event_retention_days"]
        if days is not None and not 1 <= days <= 3650:
            raise forms.ValidationError("Choose between 1 and 3650 days, or leave it empty to keep events.")
        return days


class NewProjectForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[(z, z) for z in COMMON_ZONES], initial="UTC")

    class Meta:
        model = Project
        fields = ["name", "time_zone"]
