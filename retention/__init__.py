"""Retention.

spec.py (RetentionSpec) -> queries.py (RetentionQueryRunner, RetentionActorsRunner)
-> charts.py (heatmap cells, mean curve, summary; pure); forms.py turns the page's
GET into the spec. insight.py declares the kind "RetentionQuery" (the navigation,
the JSON query API and the insight registry derive from it); `register()`
(RetentionConfig.ready) declares it. Breakdowns by cohort read cohorts.membership.
Semantics: docs/retention.md.
"""

from __future__ import annotations


def register() -> None:
    from insights.registry import declare  # noqa: PLC0415

    from . import exports  # noqa: PLC0415
    from .insight import KIND  # noqa: PLC0415

    declare(KIND)
    exports.register()
