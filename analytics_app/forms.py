from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth import get_user_model

from governance.roles import Role

from .models import Membership, PersonalAPIKey, Project

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
            "anonymize_ips",
        ]
        labels = {
            "recording_enabled": "Record sessions (posthog-js session replay)",
            "recording_mask_all_text": "Mask all page text in recordings (inputs are always masked)",
            "recording_retention_days": "Keep recordings for (days)",
            "anonymize_ips": "Drop IP addresses at ingestion",
        }

    def clean_recording_retention_days(self):
        days = self.cleaned_data["recording_retention_days"]
        if not 1 <= days <= 3650:
            raise forms.ValidationError("Choose between 1 and 3650 days.")
        return days


class NewProjectForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[(z, z) for z in COMMON_ZONES], initial="UTC")

    class Meta:
        model = Project
        fields = ["name", "time_zone"]


class AddMemberForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.PM)

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        user = (
            get_user_model().objects.filter(email__iexact=email).first()
            or get_user_model().objects.filter(username__iexact=email).first()
        )
        if user is None:
            raise forms.ValidationError(
                "No Sextant user has this email. Ask an administrator to create the account first (manage.py bootstrap or createsuperuser)."
            )
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise forms.ValidationError("This user is already a member; change their role below.")
        self.user = user
        return email


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class APIKeyForm(forms.Form):
    label = forms.CharField(max_length=100)

    def save(self, user) -> tuple[PersonalAPIKey, str]:
        return PersonalAPIKey.issue(user, self.cleaned_data["label"])
