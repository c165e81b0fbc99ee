"""Funnels: how many actors (persons, sessions, or persons x a property) go through
a sequence of steps within a conversion window. docs/funnels.md has the semantics.

spec.py (FunnelSpec) -> queries/ (runners, one module per order) -> charts.py (plotly
figures);
views.py serves the builder page and its drill-down. FunnelsConfig.ready registers
the navigation section, the query kinds and the insight kind (register.py).
"""


# What other apps may use (the alerts' evaluations), imported when called.
def spec_from_json(body: dict, project):
    from .spec import FunnelSpec  # noqa: PLC0415

    return FunnelSpec.from_json(body, project)


def conversion_by_day(project, spec):
    """FunnelTrendsRunner: conversion by entry day (project time zone), as TrendPoints."""
    from .queries.runners import FunnelTrendsRunner  # noqa: PLC0415

    return FunnelTrendsRunner(project, spec).run()


def run(project, spec):
    """FunnelQueryRunner(project, spec).run(): the steps, per breakdown value when there is one."""
    from .queries.runners import FunnelQueryRunner  # noqa: PLC0415

    return FunnelQueryRunner(project, spec).run()


def with_breakdown(spec, prop: str, top: int):
    """`spec` broken down by the event property `prop` (its `top` most common values)."""
    import dataclasses  # noqa: PLC0415

    from .spec import FunnelBreakdown  # noqa: PLC0415

    return dataclasses.replace(spec, breakdown=FunnelBreakdown(prop, "event", 0, top))
