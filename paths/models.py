"""Project-wide path cleaning rules (docs/paths.md).

A rule rewrites a node with ClickHouse's replaceRegexpAll(node, regex, alias);
project rules run first, in `order`, then the rules of the query itself.
"""

from __future__ import annotations

from django.db import models

from analytics_app.models import Project


class PathCleaningRule(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="path_cleaning_rules")
    regex = models.CharField(max_length=500)
    alias = models.CharField(max_length=500)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.regex} → {self.alias}"

    def to_json(self) -> dict:
        return {"regex": self.regex, "alias": self.alias}
