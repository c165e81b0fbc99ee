"""The tracking plan's definitions (governance/models.py) and the two pure checks of
governance/plan.py: `validate_value` (what ingestion enforcement will call) and
`check_name` (the naming convention)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance.models import EventDefinition, PlanSettings, PropertyDefinition
from governance.plan import PropertySpec, check_name, validate_value


def prop(type_="string", **kw) -> PropertySpec:
    return PropertySpec(name="p", type=type_, **kw)


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("string", ["", "pro", "ünïcode"], [1, 1.5, True, None.__class__, [], {}]),
        ("number", [0, -3, 1.5, 10**20, 2.0], [True, False, "1", float("nan"), float("inf"), [], {}]),
        ("boolean", [True, False], [0, 1, "true", "false", 1.0]),
        (
            "datetime",
            ["2026-12-03", "2026-12-03T08:00:00", "2026-12-03T08:00:00Z", "2026-12-03T08:00:00.123+01:00"],
            ["yesterday", "2026-13-01", "03/12/2026", 1733212800, True],
        ),
        ("object", [{}, {"a": 1}], [[], "x", 1, True]),
        ("array", [[], [1, "a"]], [{}, "x", 1, False]),
    ],
)
def test_each_type_accepts_its_values_and_refuses_others(type_, good, bad):
    p = prop(type_)
    for value in good:
        assert validate_value(p, value) is None, value
    for value in bad:
        if value is type(None):
            continue
        reason = validate_value(p, value)
        assert reason and reason.startswith("p: "), value


def test_bools_are_not_numbers_and_numbers_are_not_bools():
    assert validate_value(prop("number"), True) == "p: True is not a number"
    assert validate_value(prop("boolean"), 1) == "p: 1 is not true or false"


def test_ints_and_floats_are_both_numbers_and_equal_values_match_allowed():
    p = prop("number", allowed_values=(1, 2.5))
    assert validate_value(p, 1) is None
    assert validate_value(p, 1.0) is None
    assert validate_value(p, 2.5) is None
    assert validate_value(p, 3) == "p: 3 is not one of the allowed values"


def test_allowed_values_compare_as_json_values():
    assert validate_value(prop("boolean", allowed_values=(True,)), True) is None
    assert validate_value(prop("boolean", allowed_values=(True,)), False) is not None
    # True == 1 in Python, not in a plan
    assert validate_value(prop("number", allowed_values=(1,)), True) == "p: True is not a number"
    assert validate_value(prop("string", allowed_values=("free", "pro")), "Pro") is not None


def test_a_pattern_must_match_the_whole_text():
    p = prop(pattern=r"[a-z]+-\d+")
    assert validate_value(p, "ab-12") is None
    assert validate_value(p, "ab-12x") == "p: “ab-12x” does not match [a-z]+-\\d+"
    assert validate_value(p, "1ab-12") is not None


def test_missing_values_break_required_properties_only():
    assert validate_value(prop(), None) is None
    assert validate_value(prop(required=True), None) == "p is required"


def test_long_values_are_shortened_in_the_reason():
    reason = validate_value(prop("number"), "x" * 500)
    assert len(reason) < 120 and reason.endswith("is not a number")


def test_validate_value_reads_a_model_instance_without_the_database():
    p = PropertyDefinition(name="plan", type="string", allowed_values=["free"], pattern="")
    assert validate_value(p, "free") is None
    assert validate_value(p, "gold") == "plan: “gold” is not one of the allowed values"


def settings(naming, regex=""):
    return PlanSettings(naming=naming, naming_regex=regex)


@pytest.mark.parametrize(
    ("naming", "regex", "good", "bad"),
    [
        ("none", "", ["anything goes", "X"], []),
        (
            "snake_case",
            "",
            ["signed_up", "plan_upgraded", "invoice_v2_paid", "$pageview", "$autocapture"],
            [
                "signedup",
                "Signed_Up",
                "signed up",
                "signed__up",
                "_signed_up",
                "signed_up_",
                "2fa_enabled",
                "",
            ],
        ),
        (
            "title_case",
            "",
            ["Signed Up", "Plan Upgraded", "API Key Created", "Step 2 Done", "$pageview"],
            ["signed up", "Signed up", "SignedUp", "Signed  Up", " Signed Up", "Signed_Up"],
        ),
        ("regex", r"(web|app)\.[a-z_]+", ["web.signed_up", "app.x"], ["signed_up", "web.signed_up!", "web."]),
        ("regex", "", ["anything"], []),  # no pattern saved: nothing to break
    ],
)
def test_naming_conventions(naming, regex, good, bad):
    rule = settings(naming, regex)
    for name in good:
        assert check_name(rule, name) is None, name
    for name in bad:
        reason = check_name(rule, name)
        assert reason and f"“{name}”" in reason, name


def test_check_name_without_settings_accepts_everything():
    assert check_name(None, "whatever name") is None


@pytest.mark.django_db
def test_names_are_unique_per_project_and_person_properties_per_project(project, other_project):
    signup = EventDefinition.objects.create(project=project, name="signed_up")
    EventDefinition.objects.create(project=other_project, name="signed_up")
    with transaction.atomic(), pytest.raises(IntegrityError):
        EventDefinition.objects.create(project=project, name="signed_up")

    PropertyDefinition.objects.create(project=project, event=signup, name="plan")
    PropertyDefinition.objects.create(project=project, event=None, name="plan")  # a person property
    with transaction.atomic(), pytest.raises(IntegrityError):
        PropertyDefinition.objects.create(project=project, event=signup, name="plan")
    with transaction.atomic(), pytest.raises(IntegrityError):
        PropertyDefinition.objects.create(project=project, event=None, name="plan")
    other = EventDefinition.objects.create(project=project, name="plan_upgraded")
    PropertyDefinition.objects.create(project=project, event=other, name="plan")


@pytest.mark.parametrize(("pattern", "ok"), [("[a-z]+", True), ("[", False), ("a" * 201, False), ("", True)])
def test_a_pattern_must_compile_and_be_short(pattern, ok):
    p = PropertyDefinition(name="p", pattern=pattern)
    if ok:
        p.clean_fields(exclude=["project"])
    else:
        with pytest.raises(ValidationError):
            p.clean_fields(exclude=["project"])


@pytest.mark.django_db
def test_a_large_whole_float_is_stored_as_the_int_it_is(project):
    """PostgreSQL's jsonb reads 4.297153937518997e+16 as 42971539375189970, not the float's
    exact value (…968): found by the YAML round trip on PostgreSQL."""
    from governance.models import PropertyDefinition  # noqa: PLC0415

    value = 4.297153937518997e16
    prop = PropertyDefinition.objects.create(
        project=project, name="n", type="number", allowed_values=[value, 1.5]
    )
    prop.refresh_from_db()
    assert prop.allowed_values == [int(value), 1.5] and prop.allowed_values[0] == value
