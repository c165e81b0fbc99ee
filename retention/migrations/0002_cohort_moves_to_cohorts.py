"""Cohort now belongs to the cohorts app (cohorts 0001 takes over the model and its
table, `retention_cohort`, unchanged); here it only leaves retention's model state."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0001_initial"),
        ("cohorts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Cohort")],
            database_operations=[],
        ),
    ]
