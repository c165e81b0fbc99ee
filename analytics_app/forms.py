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
            "require_admin_2fa",
        ]
        labels = {
            "recording_enabled": "Record sessions (posthog-js session replay)",
            "recording_mask_all_text": "Mask all page text in recordings (inputs are always masked)",
            "recording_retention_days": "Keep recordings for (days)",
            "event_retention_days": "Keep events for (days)",
            "anonymize_ips": "Drop IP addresses at ingestion",
            "replay_resources": "Replays load images, fonts and styles",
            "require_admin_2fa": "Require two-factor for admins",
        }
        help_texts = {
            "event_retention_days": "Empty keeps events forever. Older events are deleted once a day.",
            "replay_resources": (
                "A replayed page that loads them from another server tells that server the viewer's IP address."
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
