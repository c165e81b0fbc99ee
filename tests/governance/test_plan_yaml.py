"""The tracking plan as YAML (governance/plan.py): export -> parse -> apply -> export loses
nothing (hypothesis-generated plans), each bad shape gives an error naming its field and
line, and the diff lists added, changed and removed definitions field by field."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app.models import Membership
from governance.models import AuditEntry, EventDefinition, PlanSettings, PropertyDefinition
from governance.plan import (
    EventSpec,
    Plan,
    PlanInvalid,
    PropertySpec,
    apply,
    diff,
    export_yaml,
    parse_yaml,
    project_plan,
    to_yaml,
)
from governance.roles import Role

pytestmark = pytest.mark.django_db

OWNERS = ["alice@example.com", "bob@example.com"]
# Text YAML could read as something else (yes, 1.5, 2026-01-01, null, ~) or that needs quoting.
# Any character but NUL (refused: PostgreSQL text cannot hold it) and lone surrogates.
chars = st.characters(codec="utf-8", exclude_characters="\x00")
text = st.text(chars, max_size=30) | st.sampled_from(
    ["yes", "no", "on", "null", "~", "1.5", "0x1F", "2026-01-01", "- a", "a: b", "#c", "'q'", '"', " lead"]
)
multiline = st.text(
    chars,
    max_size=60,
)
name = text.filter(lambda s: s.strip() and len(s) <= 200)


@st.composite
def properties(draw):
    type_ = draw(st.sampled_from(["string", "number", "boolean", "datetime", "object", "array"]))
    values: tuple = ()
    if type_ == "string":
        values = tuple(draw(st.lists(text, max_size=3, unique=True)))
    elif type_ == "number":
        values = tuple(
            draw(
                st.lists(
                    st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False),
                    max_size=3,
                    unique=True,
                )
            )
        )
        values = tuple(dict.fromkeys(values))  # 1 and 1.0 are one value
        seen: list = []
        for v in values:
            if v not in seen:
                seen.append(v)
        values = tuple(seen)
    elif type_ == "boolean":
        values = tuple(draw(st.lists(st.booleans(), max_size=2, unique=True)))
    return PropertySpec(
        name=draw(name),
        type=type_,
        required=draw(st.booleans()),
        allowed_values=values,
        pattern=draw(st.sampled_from(["", r"[a-z]+", r"\d{3}-\d{4}"])) if type_ == "string" else "",
        pii=draw(st.sampled_from(["none", "pii", "sensitive"])),
        dimension=draw(st.booleans()),
        description=draw(multiline),
    )


def unique_props(items):
    return tuple(sorted({p.name: p for p in items}.values(), key=lambda p: p.name))


@st.composite
def events(draw):
    return EventSpec(
        name=draw(name),
        description=draw(multiline),
        owner=draw(st.sampled_from([None, *OWNERS])),
        status=draw(st.sampled_from(["planned", "live", "deprecated"])),
        tags=tuple(dict.fromkeys(draw(st.lists(name, max_size=3)))),
        example=draw(multiline),
        properties=unique_props(draw(st.lists(properties(), max_size=4))),
    )


@st.composite
def plans(draw):
    naming = draw(st.sampled_from(["none", "snake_case", "title_case", "regex"]))
    evs = {e.name: e for e in draw(st.lists(events(), max_size=5))}
    return Plan(
        naming=naming,
        naming_regex=r"[a-z_]+" if naming == "regex" else "",
        events=tuple(sorted(evs.values(), key=lambda e: e.name)),
        person_properties=unique_props(draw(st.lists(properties(), max_size=3))),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
def test_a_round_trip_loses_nothing(make_project, alice, bob, rf, plan):
    source = make_project("Source", members={alice: Role.ADMIN, bob: Role.EXEC})
    target = make_project("Target", members={alice: Role.ADMIN, bob: Role.EXEC})
    request = rf.post("/")
    request.user = alice

    assert parse_yaml(to_yaml(plan)) == plan
    apply(source, plan, request)
    assert project_plan(source) == plan
    exported = export_yaml(source)
    apply(target, parse_yaml(exported), request)
    assert export_yaml(target) == exported
    assert diff(target, parse_yaml(exported)).empty


SAMPLE = """\
naming: snake_case
events:
  - name: signed_up
    description: A visitor creates an account.
    owner: alice@example.com
    status: live
    tags: [growth, onboarding]
    example: "posthog.capture('signed_up', {plan: 'free'})"
    properties:
      - {name: plan, type: string, required: true, allowed_values: [free, pro], pii: none, dimension: true}
      - {name: seats, type: number}
  - name: plan_upgraded
    properties:
      - {name: from, type: string}
person_properties:
  - {name: email, type: string, pii: pii}
"""


def test_the_documented_sample_parses(project):
    plan = parse_yaml(SAMPLE)
    assert plan.naming == "snake_case"
    assert [e.name for e in plan.events] == ["plan_upgraded", "signed_up"]
    signup = plan.events[1]
    assert signup.owner == "alice@example.com" and signup.tags == ("growth", "onboarding")
    assert signup.properties[0] == PropertySpec(
        name="plan", type="string", required=True, allowed_values=("free", "pro"), dimension=True
    )
    assert plan.events[0].status == "planned"  # the default
    assert plan.person_properties == (PropertySpec(name="email", pii="pii"),)


@pytest.mark.parametrize(
    ("yaml_text", "errors"),
    [
        ("", ["file: the file is empty"]),
        ("- signed_up\n", ["line 1, file: expected a mapping (key: value lines)"]),
        ("events: {name: x}\n", ["line 1, events: expected a list"]),
        (
            "evnts: []\n",
            ["line 1, evnts: unknown field; expected one of naming, naming_regex, events, person_properties"],
        ),
        (
            "naming: camelCase\n",
            ["line 1, naming: expected one of none, snake_case, title_case, regex, got “camelCase”"],
        ),
        ("naming: regex\n", ["line 1, naming_regex: required when naming is regex"]),
        ("naming: regex\nnaming_regex: '['\n", ["line 2, naming_regex: not a valid regular expression"]),
        ("events:\n  - description: no name\n", ["line 2, events[0].name: required"]),
        (
            "events:\n  - name: 2026-01-01\n",
            ["line 2, events[0].name: expected text, got datetime.date(2026, 1, 1) (quote it)"],
        ),
        ("events:\n  - name: a\n  - name: a\n", ["line 3, events[1].name: “a” is defined twice"]),
        (
            "events:\n  - name: a\n    status: live\n    stauts: live\n",
            [
                "line 4, events[0].stauts: unknown field; expected one of name, description, owner, status, tags, example, properties"
            ],
        ),
        (
            "events:\n  - name: a\n    tags: [ok, 3]\n",
            ["line 3, events[0].tags[1]: expected a non-empty text tag, got 3"],
        ),
        ("events:\n  - name: a\n    owner: [x]\n", ["line 3, events[0].owner: expected an e-mail address"]),
        (
            "events:\n  - name: a\n    properties:\n      - {name: n, type: number, allowed_values: [1, yes, '2', 1.0]}\n",
            [
                "line 4, events[0].properties[0].allowed_values[1]: True is not a number",
                "line 4, events[0].properties[0].allowed_values[2]: “2” is not a number",
                "line 4, events[0].properties[0].allowed_values[3]: 1.0 is listed twice",
            ],
        ),
        (
            "person_properties:\n  - {name: e}\n  - {name: e, type: text, pii: secret, required: maybe, pattern: '(', allowed_values: [[1]]}\n",
            [
                "line 2, person_properties[0].type: required: one of string, number, boolean, datetime, object, array",
                "line 3, person_properties[1].type: expected one of string, number, boolean, datetime, object, array, got “text”",
                "line 3, person_properties[1].pattern: not a valid regular expression",
                "line 3, person_properties[1].allowed_values[0]: expected a single value, got [1] (quote it)",
                "line 3, person_properties[1].required: expected true or false, got “maybe”",
                "line 3, person_properties[1].pii: expected one of none, pii, sensitive, got “secret”",
                "line 3, person_properties[1].name: “e” is defined twice",
            ],
        ),
        (
            "events: [\n",
            ["line 2, file: while parsing a flow node expected the node content, but found '<stream end>'"],
        ),
        ("a: &x 1\nb: *x\n", ["line 1, b: aliases (*name) are not supported"]),
        ("events: []\nevents: []\n", ["line 2, events: defined twice"]),
        (
            "--- {}\n--- {}\n",
            ["line 2, file: expected a single document in the stream but found another document"],
        ),
        ("!!python/object:os.system {}\n", None),  # refused by the safe loader
    ],
)
def test_bad_yaml_gives_clear_errors(yaml_text, errors):
    with pytest.raises(PlanInvalid) as caught:
        parse_yaml(yaml_text)
    found = [str(e) for e in caught.value.errors]
    if errors is None:
        assert len(found) == 1 and "python/object" in found[0]
    else:
        assert found == errors


def test_nul_characters_are_refused():
    with pytest.raises(PlanInvalid) as caught:
        parse_yaml('events:\n  - name: a\n    description: "x\\0y"\n')
    assert [str(e) for e in caught.value.errors] == [
        "line 3, events[0].description: contains a NUL character (\\0)"
    ]


def test_a_very_large_file_is_refused():
    with pytest.raises(PlanInvalid, match="larger than"):
        parse_yaml("events: []\n" + "#" * 1_000_001)


def test_a_file_without_naming_keeps_the_projects_convention(project, alice, rf):
    PlanSettings.objects.create(project=project, naming="title_case")
    request = rf.post("/")
    request.user = alice
    changes = apply(project, parse_yaml("events: [{name: Signed Up}]\n"), request)
    assert changes.settings == ()
    assert PlanSettings.of(project).naming == "title_case"


def test_the_diff_lists_changes_field_by_field_and_apply_audits_counts(project, alice, rf):
    request = rf.post("/")
    request.user = alice
    apply(project, parse_yaml(SAMPLE), request)
    signup = EventDefinition.objects.get(project=project, name="signed_up")
    created = signup.created_at

    changed = SAMPLE.replace("status: live", "status: deprecated").replace(
        "allowed_values: [free, pro]", "allowed_values: [free, pro, team]"
    )
    changed = changed.replace(
        "      - {name: seats, type: number}\n", "      - {name: source, type: string}\n"
    )
    changed = changed.replace(
        "  - name: plan_upgraded\n    properties:\n      - {name: from, type: string}\n",
        "  - name: invoice_paid\n",
    )
    changed = changed.replace("naming: snake_case", "naming: title_case")
    changed += "  - {name: name, type: string, pii: pii}\n"
    changes = diff(project, parse_yaml(changed))

    assert [(c.field, c.before, c.after) for c in changes.settings] == [
        ("naming", "snake_case", "title_case")
    ]
    assert [e.name for e in changes.added] == ["invoice_paid"]
    assert changes.removed == ("plan_upgraded",)
    (event,) = changes.changed
    assert event.name == "signed_up"
    assert [(c.field, c.before, c.after) for c in event.changes] == [("status", "live", "deprecated")]
    assert [p.name for p in event.added] == ["source"]
    assert event.removed == ("seats",)
    (plan_prop,) = event.changed
    assert (plan_prop.name, [(c.field, c.before, c.after) for c in plan_prop.changes]) == (
        "plan",
        [("allowed_values", ("free", "pro"), ("free", "pro", "team"))],
    )
    assert [p.name for p in changes.person.added] == ["name"]
    assert changes.counts() == {
        "events_added": 1,
        "events_removed": 1,
        "events_changed": 1,
        "properties_added": 2,
        "properties_removed": 1,
        "properties_changed": 1,
    }

    apply(project, parse_yaml(changed), request)
    assert set(EventDefinition.objects.filter(project=project).values_list("name", flat=True)) == {
        "signed_up",
        "invoice_paid",
    }
    signup.refresh_from_db()
    assert signup.created_at == created and signup.status == "deprecated"  # updated in place
    assert not PropertyDefinition.objects.filter(project=project, name="from").exists()
    entry = AuditEntry.objects.filter(project=project, action="plan.import").first()
    assert entry.after["events_added"] == 1 and entry.after["settings"] == ["naming"]
    assert entry.actor == alice


def test_an_owner_who_is_not_a_member_is_refused_and_nothing_changes(project, alice, rf, charlie):
    request = rf.post("/")
    request.user = alice
    plan = parse_yaml(
        "events:\n  - {name: a, owner: charlie@example.com}\n  - {name: b, owner: BOB@example.com}\n"
    )
    with pytest.raises(PlanInvalid, match="charlie@example.com is not a member of Acme"):
        apply(project, plan, request)
    assert not EventDefinition.objects.filter(project=project).exists()
    Membership.objects.create(user=charlie, project=project, role=Role.ANALYST)
    apply(project, plan, request)
    owners = dict(EventDefinition.objects.filter(project=project).values_list("name", "owner__email"))
    assert owners == {"a": "charlie@example.com", "b": "bob@example.com"}  # matched case-insensitively


def test_owners_compare_as_the_members_they_name(project, alice, rf):
    request = rf.post("/")
    request.user = alice
    apply(project, parse_yaml("events: [{name: a, owner: alice@example.com}]\n"), request)
    assert diff(project, parse_yaml("events: [{name: a, owner: ALICE@Example.com}]\n")).empty
