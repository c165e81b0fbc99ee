"""Forms of the tracking plan pages: the settings, an event definition with its property
rows, the person properties and the YAML import. Each turns the POST into the plan's
dataclasses (governance.plan); the views never read raw parameters."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from .models import PATTERN_MAX_LENGTH, EventDefinition, PlanSettings, PropertyDefinition, validate_pattern
from .plan import MAX_YAML_BYTES, NAME_MAX_LENGTH, EventSpec, PropertySpec, check_name, validate_value

Type = PropertyDefinition.Type


class PlanSettingsForm(forms.ModelForm):
    class Meta:
        model = PlanSettings
        fields = ["naming", "naming_regex", "enforcement"]
        labels = {
            "naming": "Naming convention",
            "naming_regex": "Naming pattern",
            "enforcement": "Enforcement",
        }
        help_texts = {
            "naming_regex": "With “Regular expression”: the whole event name must match (Python syntax).",
            "enforcement": "What ingestion does with events that break the plan; applies within seconds.",
        }

    def clean(self):
        data = super().clean()
        if data.get("naming") == PlanSettings.Naming.REGEX and not data.get("naming_regex"):
            self.add_error("naming_regex", "Give the pattern event names must match.")
        if data.get("naming") != PlanSettings.Naming.REGEX:
            data["naming_regex"] = ""
        return data


def split_list(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def typed_value(type_: str, text: str):
    """An allowed value typed into the form, read as the property's type."""
    if type_ == Type.NUMBER:
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    if type_ == Type.BOOLEAN:
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


class PropertyForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH, required=False)
    type = forms.ChoiceField(choices=Type.choices, initial=Type.STRING)
    required = forms.BooleanField(required=False)
    allowed_values = forms.CharField(
        required=False, label="Allowed values", help_text="Comma-separated; empty: any value."
    )
    pattern = forms.CharField(
        required=False, max_length=PATTERN_MAX_LENGTH, validators=[validate_pattern], label="Pattern"
    )
    pii_class = forms.ChoiceField(choices=PropertyDefinition.PII.choices, initial="none", label="PII class")
    dimension = forms.BooleanField(required=False, label="Dimension (alert root-cause ranking)")
    description = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        name = (data.get("name") or "").strip()
        data["name"] = name
        if not name:
            if any(data.get(k) for k in ("allowed_values", "pattern", "description")):
                self.add_error("name", "Give the property a name (or clear the row).")
            return data
        type_ = data.get("type") or Type.STRING
        values = []
        if data.get("allowed_values"):
            if type_ in (Type.OBJECT, Type.ARRAY):
                self.add_error("allowed_values", "Objects and arrays take no list of allowed values.")
            else:
                probe = PropertySpec(name=name, type=type_)
                for text in split_list(data["allowed_values"]):
                    value = typed_value(type_, text)
                    problem = validate_value(probe, value)
                    if problem:
                        self.add_error("allowed_values", problem)
                    elif value not in values:
                        values.append(value)
        data["values"] = tuple(values)
        return data

    def spec(self) -> PropertySpec | None:
        d = self.cleaned_data
        if not d.get("name") or d.get("DELETE"):
            return None
        return PropertySpec(
            name=d["name"],
            type=d["type"],
            required=d["required"],
            allowed_values=d["values"],
            pattern=d.get("pattern") or "",
            pii=d["pii_class"],
            dimension=d["dimension"],
            description=(d.get("description") or "").strip(),
        )


class BasePropertyFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            spec = form.spec() if form.is_valid() else None
            if spec is None:
                continue
            if spec.name in seen:
                form.add_error("name", f"“{spec.name}” is defined twice.")
            seen.add(spec.name)

    def specs(self) -> tuple[PropertySpec, ...]:
        found = [f.spec() for f in self.forms]
        return tuple(sorted((s for s in found if s is not None), key=lambda s: s.name))


PropertyFormSet = forms.formset_factory(
    PropertyForm, formset=BasePropertyFormSet, extra=2, can_delete=True, max_num=500, validate_max=True
)


def property_initial(props) -> list[dict]:
    return [
        {
            "name": p.name,
            "type": p.type,
            "required": p.required,
            "allowed_values": ", ".join(
                ("true" if v else "false") if isinstance(v, bool) else str(v) for v in p.allowed_values
            ),
            "pattern": p.pattern,
            "pii_class": p.pii_class,
            "dimension": p.dimension,
            "description": p.description,
        }
        for p in props
    ]


def property_formset(data=None, *, props=(), prefix="props") -> BasePropertyFormSet:
    return PropertyFormSet(data, initial=property_initial(props) if data is None else None, prefix=prefix)


class EventForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH)
    status = forms.ChoiceField(choices=EventDefinition.Status.choices, initial=EventDefinition.Status.PLANNED)
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    description = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 3}))
    example = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="A capture call or payload.",
    )

    def __init__(self, *args, project, event: EventDefinition | None = None, **kwargs):
        self.project, self.event = project, event
        if event is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": event.name,
                "status": event.status,
                "owner": event.owner_id,
                "tags": ", ".join(event.tags or ()),
                "description": event.description,
                "example": event.example,
            }
        super().__init__(*args, **kwargs)
        self.members = {u.pk: u for u in get_user_model().objects.filter(memberships__project=project)}
        if event is not None and event.owner is not None:
            self.members.setdefault(event.owner_id, event.owner)  # an owner who has left the project
        self.fields["owner"].choices = [("", "—")] + [
            (pk, u.email or u.get_username())
            for pk, u in sorted(self.members.items(), key=lambda i: str(i[1]))
        ]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if self.event is not None and name == self.event.name:
            return name
        taken = EventDefinition.objects.filter(project=self.project, name=name)
        if self.event is not None:
            taken = taken.exclude(pk=self.event.pk)
        if taken.exists():
            raise forms.ValidationError(f"The plan already defines “{name}”.")
        reason = check_name(PlanSettings.of(self.project), name)
        if reason:
            raise forms.ValidationError(reason)
        return name

    def spec(self, properties: tuple[PropertySpec, ...]) -> EventSpec:
        d = self.cleaned_data
        owner = self.chosen_owner()
        tags = list(dict.fromkeys(split_list(d.get("tags", ""))))
        return EventSpec(
            name=d["name"],
            description=_lf(d.get("description", "")),
            owner=(owner.email or owner.get_username()) if owner else None,
            status=d["status"],
            tags=tuple(tags),
            example=_lf(d.get("example", "")),
            properties=properties,
        )

    def chosen_owner(self):
        return self.members.get(self.cleaned_data.get("owner"))


def _lf(text: str) -> str:
    """A textarea's text as typed: browsers send CRLF line ends; whitespace is kept (an
    imported text saved unchanged on the page stays the same)."""
    text = text.replace("\r\n", "\n")
    return "" if not text.strip() else text


class PlanImportForm(forms.Form):
    yaml = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        label="YAML",
    )
    file = forms.FileField(required=False, label="…or upload a file")

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_YAML_BYTES:
                raise forms.ValidationError(f"The file is larger than {MAX_YAML_BYTES // 1000} kB.")
            try:
                data["yaml"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        if not (data.get("yaml") or "").strip():
            raise forms.ValidationError("Paste the plan's YAML or choose a file.")
        return data
