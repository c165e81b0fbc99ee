"""Cohort moves from the retention app to this one without touching the database:
the table keeps its name (`retention_cohort`, Cohort.Meta.db_table) and its rows;
only Django's model state moves (retention 0002 deletes it there). Cohort's content
type follows it, so permissions attached to it stay attached."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def move_content_type(apps, schema_editor, source="retention", target="cohorts"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=target, model="cohort").exists():
        ContentType.objects.using(db).filter(app_label=source, model="cohort").update(app_label=target)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="cohorts", target="retention")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("analytics_app", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("retention", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Cohort",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200)),
                        ("description", models.TextField(blank=True, default="")),
                        (
                            "kind",
                            models.CharField(
                                choices=[("static", "Static list"), ("behavioral", "Behavioral")],
                                default="behavioral",
                                max_length=16,
                            ),
                        ),
                        ("definition", models.JSONField(blank=True, default=dict)),
                        ("version", models.PositiveBigIntegerField(default=0)),
                        (
                            "status",
                            models.CharField(
                                choices=[("pending", "Calculating"), ("ready", "Ready"), ("error", "Error")],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("error", models.TextField(blank=True, default="")),
                        ("last_calculated_at", models.DateTimeField(blank=True, null=True)),
                        ("count", models.PositiveBigIntegerField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="cohorts",
                                to="analytics_app.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "retention_cohort",
                        "ordering": ["project_id", "name", "id"],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
