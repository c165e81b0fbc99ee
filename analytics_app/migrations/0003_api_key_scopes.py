"""Personal API keys get a scope: all projects or a list, read-only or read-write, an
optional expiry. Keys that exist keep working as before: every project of their owner,
reads and writes. New keys default to read-only."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics_app", "0002_edit_insights_permission"),
    ]

    operations = [
        # Added with the value existing keys get, then given the default of new keys.
        migrations.AddField(
            model_name="personalapikey",
            name="all_projects",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="personalapikey",
            name="all_projects",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="personalapikey",
            name="read_only",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="personalapikey",
            name="read_only",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="personalapikey",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="personalapikey",
            name="projects",
            field=models.ManyToManyField(blank=True, related_name="+", to="analytics_app.project"),
        ),
    ]
