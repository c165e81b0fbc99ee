"""Every page with a property field makes it a picker (templates/insights/_picker.html) and
keeps it a plain input: the same field names, every operator offered with a readable label,
the picker's script and style loaded from our origin (no inline script)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = {
    # page: (query, the fields that must be pickers, the groups each offers)
    "trends:trends": (
        "?filter_key=plan&filter_value=pro",
        {"filter_key": "", "breakdown": "", "series_math_property": "event,session"},
    ),
    "funnels:funnel": (
        "?step_event=%24pageview&step_event=%24pageleave&filter_key=plan&filter_value=pro",
        {"filter_key": "", "breakdown": "", "step_key": ""},
    ),
    "retention:retention": (
        "",
        {"filter_key": "", "target_filter_key": "", "returning_filter_key": "", "breakdown": "person"},
    ),
    "paths:paths": ("?filter_key=plan&filter_value=x", {"filter_key": ""}),
    "explorer:events": ("", {"prop_key": "event,session,cohort"}),
    "replay:list": ("", {"prop_key": "event,session"}),
    "cohorts:cohorts": ("", {"g0_c0_key": "person"}),
}


class Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs: list[dict] = []
        self.scripts: list[dict] = []
        self.options: list[tuple[str, str]] = []
        self._option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            self.inputs.append(a)
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "option":
            self._option = a.get("value")

    def handle_data(self, data):
        if self._option is not None:
            self.options.append((self._option, data.strip()))
            self._option = None


@pytest.mark.parametrize("name", list(PAGES))
def test_property_fields_are_pickers_and_plain_inputs(alice_client, project, name):
    query, fields = PAGES[name]
    response = alice_client.get(reverse(name, kwargs={"project_id": project.pk}) + query)
    assert response.status_code == 200
    page = Inputs()
    page.feed(response.content.decode())
    names_url = reverse("api_property_names", kwargs={"project_id": project.pk})
    values_url = reverse("api_property_values", kwargs={"project_id": project.pk})
    for field, groups in fields.items():
        found = [i for i in page.inputs if i.get("name") == field]
        assert found, f"{name}: no {field} input"
        for tag in found:
            assert "data-picker" in tag and tag.get("type") == "text", (name, field)
            assert (tag["data-names-url"], tag["data-values-url"]) == (names_url, values_url)
            assert tag.get("data-picker-groups", "") == groups
            assert tag.get("autocomplete") == "off"
    assert any(s.get("src", "").endswith("js/picker.js") for s in page.scripts)
    assert all(s.get("src") or s.get("type") == "application/json" for s in page.scripts)
    labels = dict(page.options)
    if "exact" in labels:
        assert (labels["exact"], labels["gt"], labels["is_not_set"]) == (
            "= equals",
            "> greater than",
            "is not set",
        )
    assert not re.search(r"\son[a-z]+=", response.content.decode())
