"""The tracking plan pages (governance/plan_views.py): an admin defines events with their
properties, person properties, the naming convention and enforcement setting, exports
and imports YAML through a diff preview; every change is audited. Executives and support
read the plan and get 403 for any change; strangers get 404; bad input is a 400 with the
reason on the page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics_app.models import Membership
from governance.audit import ACTIONS
from governance.models import AuditEntry, EventDefinition, PlanSettings, PropertyDefinition
from governance.plan import export_yaml
from governance.roles import Role

from .pages import forms, text, texts

pytestmark = pytest.mark.django_db

FIELDS = ("name", "type", "allowed_values", "pattern", "pii_class", "description")


def url(name, project, **kw) -> str:
    return reverse(name, kwargs={"project_id": project.pk, **kw})


def rows(*props, prefix="props", initial=0) -> dict:
    """A property formset's POST data: one row per dict, plus its management form."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(props)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, p in enumerate(props):
        row = {"type": "string", "pii_class": "none", **p}
        for key, value in row.items():
            if value is True:
                data[f"{prefix}-{i}-{key}"] = "on"
            elif value is not False:
                data[f"{prefix}-{i}-{key}"] = value
    return data


def event_data(name="signed_up", *props, **fields) -> dict:
    return {
        "name": name,
        "status": "live",
        "owner": "",
        "tags": "",
        "description": "",
        "example": "",
        **fields,
        **rows(*props),
    }


def create(client, project, name="signed_up", *props, **fields):
    return client.post(url("plan_event_new", project), event_data(name, *props, **fields))


def test_an_admin_defines_an_event_with_properties(alice_client, project, alice):
    response = create(
        alice_client,
        project,
        "signed_up",
        {"name": "plan", "required": True, "allowed_values": "free, pro", "dimension": True},
        {"name": "seats", "type": "number", "allowed_values": "1, 2.5"},
        {"name": ""},  # an empty row is ignored
        owner=str(alice.pk),
        tags="growth, onboarding, growth",
        description="A visitor creates an account.",
    )
    event = EventDefinition.objects.get(project=project, name="signed_up")
    assert response.status_code == 302 and response["Location"] == url(
        "plan_event", project, event_id=event.pk
    )
    assert (event.status, event.owner, event.tags) == ("live", alice, ["growth", "onboarding"])
    props = {p.name: p for p in event.properties.all()}
    assert (
        props["plan"].required and props["plan"].dimension and props["plan"].allowed_values == ["free", "pro"]
    )
    assert props["seats"].type == "number" and props["seats"].allowed_values == [1, 2.5]
    entry = AuditEntry.objects.get(project=project, action="plan.event_create")
    assert entry.target == "signed_up" and entry.actor == alice
    assert [p["name"] for p in entry.after["properties"]] == ["plan", "seats"]

    html = alice_client.get(url("plan", project)).content.decode()
    (row,) = texts(html, "class", "plan-event")
    assert row.startswith(
        "signed_up A visitor creates an account. Live alice@example.com growth onboarding 2"
    )


def test_an_admin_edits_and_deletes_an_event(alice_client, project):
    create(alice_client, project, "signed_up", {"name": "plan"}, {"name": "seats", "type": "number"})
    event = EventDefinition.objects.get(project=project)
    page = alice_client.get(url("plan_event", project, event_id=event.pk)).content.decode()
    (form, _) = [f for f in forms(page) if f["action"] == url("plan_event", project, event_id=event.pk)]
    assert form["fields"]["props-INITIAL_FORMS"] == "2" and form["fields"]["props-0-name"] == "plan"

    data = event_data(
        "signed_up",
        {"name": "plan", "pii_class": "sensitive"},
        {"name": "seats", "type": "number", "DELETE": True},
        {"name": "source"},
        status="deprecated",
    )
    data["props-INITIAL_FORMS"] = "2"
    response = alice_client.post(url("plan_event", project, event_id=event.pk), data)
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == "deprecated"
    assert {p.name: p.pii_class for p in event.properties.all()} == {"plan": "sensitive", "source": "none"}
    entry = AuditEntry.objects.get(project=project, action="plan.event_update")
    assert set(entry.before) == {"status", "properties"} == set(entry.after)
    assert (entry.before["status"], entry.after["status"]) == ("live", "deprecated")

    response = alice_client.post(url("plan_event", project, event_id=event.pk), {"action": "delete"})
    assert response.status_code == 302 and response["Location"] == url("plan", project)
    assert not EventDefinition.objects.filter(project=project).exists()
    assert not PropertyDefinition.objects.filter(project=project).exists()
    entry = AuditEntry.objects.get(project=project, action="plan.event_delete")
    assert entry.target == "signed_up" and entry.before["status"] == "deprecated"
    assert 'data-confirm="Remove signed_up and its properties from the plan?"' in page


@pytest.mark.parametrize(
    ("name", "props", "error"),
    [
        ("", (), "This field is required."),
        ("Signed Up", (), "is not snake_case object_action"),
        (
            "signed_up",
            ({"name": "n", "type": "number", "allowed_values": "1, two"},),
            "“two” is not a number",
        ),
        (
            "signed_up",
            ({"name": "b", "type": "boolean", "allowed_values": "yes"},),
            "“yes” is not true or false",
        ),
        ("signed_up", ({"name": "p", "pattern": "(["},), "Not a valid regular expression"),
        (
            "signed_up",
            ({"name": "o", "type": "object", "allowed_values": "a"},),
            "take no list of allowed values",
        ),
        ("signed_up", ({"name": "p"}, {"name": "p"}), "“p” is defined twice."),
        ("signed_up", ({"name": "", "description": "orphan"},), "Give the property a name"),
        ("taken_name", (), "The plan already defines “taken_name”."),
    ],
)
def test_event_form_errors_are_400_on_the_page(alice_client, project, name, props, error):
    PlanSettings.objects.create(project=project, naming="snake_case")
    EventDefinition.objects.create(project=project, name="taken_name")
    response = create(alice_client, project, name, *props)
    assert response.status_code == 400
    assert error in " ".join(texts(response.content.decode(), "class", "form-error"))
    assert EventDefinition.objects.filter(project=project).count() == 1


def test_the_convention_is_checked_on_new_names_and_flagged_on_old_ones(alice_client, project):
    EventDefinition.objects.create(project=project, name="Old Name")
    response = alice_client.post(
        url("plan", project), {"naming": "snake_case", "naming_regex": "", "enforcement": "warn"}
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(project=project, action="plan.settings")
    assert entry.before == {"naming": "none", "enforcement": "allow"}
    assert entry.after == {"naming": "snake_case", "enforcement": "warn"}

    html = alice_client.get(url("plan", project)).content.decode()
    assert text(html, "class", "naming-flag") == "breaks convention"
    event = EventDefinition.objects.get(project=project)
    # saving it under its old name is allowed; the page says it breaks the convention
    response = alice_client.post(
        url("plan_event", project, event_id=event.pk), event_data("Old Name", status="planned")
    )
    assert response.status_code == 302
    page = alice_client.get(url("plan_event", project, event_id=event.pk)).content.decode()
    assert "is not snake_case object_action" in text(page, "class", "naming-flag")
    # renaming it must follow the convention
    response = alice_client.post(url("plan_event", project, event_id=event.pk), event_data("New Name"))
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"naming": "regex", "naming_regex": "", "enforcement": "allow"}, "Give the pattern"),
        ({"naming": "regex", "naming_regex": "[", "enforcement": "allow"}, "Not a valid regular expression"),
        ({"naming": "kebab", "naming_regex": "", "enforcement": "allow"}, "Select a valid choice."),
        ({"naming": "none", "naming_regex": "", "enforcement": "drop"}, "Select a valid choice."),
    ],
)
def test_settings_errors_are_400(alice_client, project, data, error):
    response = alice_client.post(url("plan", project), data)
    assert response.status_code == 400
    assert error in " ".join(texts(response.content.decode(), "class", "form-error"))
    assert not PlanSettings.objects.filter(project=project).exists()


def test_the_plan_list_filters_by_status_tag_and_search(alice_client, project):
    EventDefinition.objects.create(project=project, name="signed_up", status="live", tags=["growth"])
    EventDefinition.objects.create(
        project=project, name="invoice_paid", status="live", tags=["billing"], description="Stripe webhook"
    )
    EventDefinition.objects.create(project=project, name="old_thing", status="deprecated")

    def names(query):
        html = alice_client.get(url("plan", project), query).content.decode()
        return [r.split()[0] for r in texts(html, "class", "plan-event")]

    assert names({}) == ["invoice_paid", "old_thing", "signed_up"]
    assert names({"status": "live"}) == ["invoice_paid", "signed_up"]
    assert names({"tag": "growth"}) == ["signed_up"]
    assert names({"q": "stripe"}) == ["invoice_paid"]
    assert names({"status": "bogus"}) == ["invoice_paid", "old_thing", "signed_up"]  # ignored


def test_person_properties_are_edited_and_audited(alice_client, project):
    response = alice_client.post(
        url("plan_person_properties", project),
        rows({"name": "email", "pii_class": "pii"}, {"name": "plan", "allowed_values": "free, pro"}),
    )
    assert response.status_code == 302
    assert dict(
        PropertyDefinition.objects.filter(project=project, event=None).values_list("name", "pii_class")
    ) == {"email": "pii", "plan": "none"}
    entry = AuditEntry.objects.get(project=project, action="plan.person_property_update")
    assert entry.before == {"email": None, "plan": None}
    assert entry.after["email"] == {"name": "email", "type": "string", "pii": "pii"}

    data = rows({"name": "email", "pii_class": "pii"}, {"name": "plan", "DELETE": True}, initial=2)
    alice_client.post(url("plan_person_properties", project), data)
    assert list(PropertyDefinition.objects.filter(project=project).values_list("name", flat=True)) == [
        "email"
    ]
    html = alice_client.get(url("plan", project)).content.decode()
    assert texts(html, "class", "person-property") == ["email String PII"]

    response = alice_client.post(
        url("plan_person_properties", project), rows({"name": "x", "type": "colour"})
    )
    assert response.status_code == 400


def test_export_and_import_through_the_preview(alice_client, project):
    create(alice_client, project, "signed_up", {"name": "plan", "allowed_values": "free, pro"})
    response = alice_client.get(url("plan_export", project))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="acme-tracking-plan.yaml"'
    exported = response.content.decode()
    assert exported == export_yaml(project)

    changed = exported.replace("- pro", "- pro\n    - team") + "- name: email\n  type: string\n  pii: pii\n"
    changed = changed.replace("person_properties: []\n", "person_properties:\n")
    preview = alice_client.post(url("plan_import", project), {"yaml": changed})
    assert preview.status_code == 200
    html = preview.content.decode()
    diff = text(html, "id", "plan-diff")
    assert "property plan changed allowed_values" in diff and "team" in diff
    assert "property email added (string)" in diff
    assert PropertyDefinition.objects.filter(project=project).count() == 1  # nothing applied yet

    confirm = [f for f in forms(html) if f["action"] == url("plan_import", project)][0]
    assert confirm["fields"]["confirm"] == "1"
    response = alice_client.post(url("plan_import", project), {"yaml": changed, "confirm": "1"})
    assert response.status_code == 302
    assert PropertyDefinition.objects.get(project=project, name="plan").allowed_values == [
        "free",
        "pro",
        "team",
    ]
    entry = AuditEntry.objects.get(project=project, action="plan.import")
    assert entry.after["events_changed"] == 1 and entry.after["properties_added"] == 1


def test_a_file_upload_is_read_too(alice_client, project):
    from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: PLC0415

    upload = SimpleUploadedFile(
        "plan.yaml", b"events:\n  - name: signed_up\n", content_type="application/yaml"
    )
    response = alice_client.post(url("plan_import", project), {"file": upload, "yaml": ""})
    assert response.status_code == 200
    assert "signed_up" in text(response.content.decode(), "class", "diff-added")


@pytest.mark.parametrize(
    ("yaml_text", "error"),
    [
        ("events: [", "line 1, file: while parsing a flow node expected the node content"),
        (
            "events:\n  - name: x\n    status: gone\n",
            "line 3, events[0].status: expected one of planned, live, deprecated",
        ),
        ("events:\n  - {name: x, owner: nobody@example.com}\n", "nobody@example.com is not a member of Acme"),
        ("", "Paste the plan's YAML or choose a file."),
    ],
)
def test_bad_yaml_is_400_with_the_errors_on_the_page(alice_client, project, yaml_text, error):
    for confirm in ("", "1"):
        response = alice_client.post(url("plan_import", project), {"yaml": yaml_text, "confirm": confirm})
        assert response.status_code == 400
        assert error in " ".join(texts(response.content.decode(), "class", "form-error"))
    assert not EventDefinition.objects.filter(project=project).exists()


@pytest.mark.parametrize("role", [Role.EXEC, Role.SUPPORT])
def test_readers_see_the_plan_and_may_change_nothing(client, project, make_user, role):
    event = EventDefinition.objects.create(project=project, name="signed_up")
    PropertyDefinition.objects.create(project=project, event=event, name="plan", allowed_values=["free"])
    reader = make_user(f"reader-{role}@example.com")
    Membership.objects.create(user=reader, project=project, role=role)
    client.force_login(reader)
    for name, kw in [
        ("plan", {}),
        ("plan_event", {"event_id": event.pk}),
        ("plan_person_properties", {}),
        ("plan_export", {}),
    ]:
        assert client.get(url(name, project, **kw)).status_code == 200, name
    html = client.get(url("plan_event", project, event_id=event.pk)).content.decode()
    assert texts(html, "class", "plan-property-row") == ["plan String no free None no"]
    assert not [f for f in forms(html) if f["action"] and "/plan/" in f["action"]]
    writes = [
        ("plan", {}, {"naming": "snake_case", "enforcement": "allow"}),
        ("plan_event_new", {}, event_data("x")),
        ("plan_event", {"event_id": event.pk}, {"action": "delete"}),
        ("plan_person_properties", {}, rows({"name": "email"})),
        ("plan_import", {}, {"yaml": "events: []", "confirm": "1"}),
    ]
    for name, kw, data in writes:
        response = client.post(url(name, project, **kw), data)
        assert response.status_code == 403, name
        assert "does not allow: Manage the tracking plan." in response.content.decode(), name
    assert client.get(url("plan_event_new", project)).status_code == 403
    assert client.get(url("plan_import", project)).status_code == 403
    assert EventDefinition.objects.filter(project=project).count() == 1
    assert not AuditEntry.objects.filter(project=project, action__startswith="plan.").exists()


def test_strangers_get_404(client, project, charlie):
    event = EventDefinition.objects.create(project=project, name="signed_up")
    client.force_login(charlie)
    for name, kw in [
        ("plan", {}),
        ("plan_event", {"event_id": event.pk}),
        ("plan_event_new", {}),
        ("plan_person_properties", {}),
        ("plan_export", {}),
        ("plan_import", {}),
    ]:
        assert client.get(url(name, project, **kw)).status_code == 404, name
        if name != "plan_export":  # GET only: 405 for everyone
            assert client.post(url(name, project, **kw), {}).status_code == 404, name


def test_an_event_of_another_project_is_404(alice_client, project, other_project):
    theirs = EventDefinition.objects.create(project=other_project, name="signed_up")
    assert alice_client.get(url("plan_event", project, event_id=theirs.pk)).status_code == 404
    assert (
        alice_client.post(url("plan_event", project, event_id=theirs.pk), {"action": "delete"}).status_code
        == 404
    )
    assert EventDefinition.objects.filter(pk=theirs.pk).exists()


def test_the_plan_actions_have_labels_and_the_menu_lists_the_plan(alice_client, project):
    for action in (
        "event_create",
        "event_update",
        "event_delete",
        "person_property_update",
        "settings",
        "import",
    ):
        assert f"plan.{action}" in ACTIONS
    html = alice_client.get(url("plan", project)).content.decode()
    assert "Tracking plan" in texts(html, "class", "sidebar")[0]


def test_the_preview_warns_of_names_breaking_the_convention_and_crlf_text_applies(alice_client, project):
    text_ = "naming: snake_case\nevents:\n  - name: Signed Up\n  - name: plan_upgraded\n    description: |\n      Two\n      lines\n"
    preview = alice_client.post(url("plan_import", project), {"yaml": text_})
    warnings = texts(preview.content.decode(), "class", "danger-text")
    assert warnings == [
        "“Signed Up” is not snake_case object_action: lower-case words joined by _, e.g. signed_up."
    ]
    # a browser sends the hidden textarea back with CRLF line ends
    response = alice_client.post(
        url("plan_import", project), {"yaml": text_.replace("\n", "\r\n"), "confirm": "1"}
    )
    assert response.status_code == 302
    assert EventDefinition.objects.get(project=project, name="plan_upgraded").description == "Two\nlines\n"
    assert PlanSettings.of(project).naming == "snake_case"


def test_saving_an_imported_event_unchanged_on_the_page_changes_nothing(alice_client, project, alice):
    yaml_text = (
        "events:\n  - name: signed_up\n    description: |\n      Two\n      lines\n"
        "    owner: alice@example.com\n    example: '  indented'\n    tags: [b, a]\n"
        "    properties:\n      - {name: n, type: number, allowed_values: [1, 2.5]}\n"
        "      - {name: f, type: boolean, allowed_values: [true]}\n"
    )
    alice_client.post(url("plan_import", project), {"yaml": yaml_text, "confirm": "1"})
    before = export_yaml(project)
    event = EventDefinition.objects.get(project=project)
    html = alice_client.get(url("plan_event", project, event_id=event.pk)).content.decode()
    (form, _) = [f for f in forms(html) if f["action"] == url("plan_event", project, event_id=event.pk)]
    data = {k: v for k, v in form["fields"].items() if not k.endswith(("-required", "-dimension", "-DELETE"))}
    data.update(
        {
            "status": "planned",
            "owner": str(alice.pk),
            "description": "Two\r\nlines\r\n",  # as a browser sends the textarea
            "example": "  indented",
            "props-0-type": "boolean",
            "props-0-pii_class": "none",
            "props-1-type": "number",
            "props-1-pii_class": "none",
        }
    )
    for i in (2, 3):
        data.update({f"props-{i}-type": "string", f"props-{i}-pii_class": "none"})
    assert data["tags"] == "b, a" and data["props-0-allowed_values"] == "true"
    response = alice_client.post(url("plan_event", project, event_id=event.pk), data)
    assert response.status_code == 302
    assert export_yaml(project) == before
    assert not AuditEntry.objects.filter(project=project, action="plan.event_update").exists()


def test_an_event_whose_owner_left_the_project_can_still_be_saved(alice_client, project, bob):
    event = EventDefinition.objects.create(project=project, name="signed_up", owner=bob)
    Membership.objects.filter(user=bob, project=project).delete()
    data = event_data("signed_up", owner=str(bob.pk), status="planned")
    assert alice_client.post(url("plan_event", project, event_id=event.pk), data).status_code == 302
    event.refresh_from_db()
    assert event.owner == bob


def test_the_plan_page_queries_do_not_grow_with_the_plan(alice_client, project):
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert alice_client.get(url("plan", project)).status_code == 200
        return len(ctx)

    event = EventDefinition.objects.create(project=project, name="e0")
    PropertyDefinition.objects.create(project=project, event=event, name="p")
    queries()  # the first request of a session does some one-off work
    few = queries()
    for i in range(1, 30):
        e = EventDefinition.objects.create(project=project, name=f"e{i}", tags=["t"])
        PropertyDefinition.objects.create(project=project, event=e, name="p")
        PropertyDefinition.objects.create(project=project, name=f"person{i}")
    assert queries() == few


def test_a_name_defined_by_someone_else_meanwhile_is_a_form_error(alice_client, project, monkeypatch):
    from governance import plan_views  # noqa: PLC0415

    real = plan_views.save_event

    def racing(project_, event, spec, owner):
        EventDefinition.objects.create(project=project_, name=spec.name)  # the other admin's, first
        return real(project_, event, spec, owner)

    monkeypatch.setattr(plan_views, "save_event", racing)
    response = create(alice_client, project, "signed_up")
    assert response.status_code == 400
    assert "The plan already defines “signed_up”." in " ".join(
        texts(response.content.decode(), "class", "form-error")
    )
    assert not AuditEntry.objects.filter(project=project, action__startswith="plan.").exists()
