"""Cohort moved from the retention app to the cohorts app (issue 14) with its table
and rows as they were: a database at the old head migrates forward keeping every
cohort, its content type follows it, and the models match the migrations."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analytics_app.models import Project
from cohorts.models import Cohort

BEFORE = [("retention", "0001_initial"), ("cohorts", None)]
OLD_HEAD = [("retention", "0001_initial"), ("contenttypes", "0002_remove_content_type_name")]


def _executor() -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor


@pytest.mark.django_db(transaction=True)
def test_a_database_at_the_old_head_keeps_its_cohorts():
    executor = _executor()
    executor.migrate(BEFORE)
    old = executor.loader.project_state(OLD_HEAD).apps
    project = old.get_model("analytics_app", "Project").objects.create(name="before the move")
    kept = old.get_model("retention", "Cohort").objects.create(
        project_id=project.pk,
        name="kept",
        kind="static",
        definition={"distinct_ids": ["a", "b"]},
        version=3,
        status="ready",
        count=2,
    )
    content_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="retention", model="cohort"
    )[0]

    executor = _executor()
    executor.migrate(executor.loader.graph.leaf_nodes())

    cohort = Cohort.objects.get(pk=kept.pk)
    assert (cohort.name, cohort.kind, cohort.definition, cohort.version, cohort.status, cohort.count) == (
        "kept",
        "static",
        {"distinct_ids": ["a", "b"]},
        3,
        "ready",
        2,
    )
    assert list(Project.objects.get(pk=project.pk).cohorts.all()) == [cohort]
    assert Cohort._meta.db_table == "retention_cohort"
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(Cohort).pk == content_type.pk


@pytest.mark.django_db
def test_the_models_match_the_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
