"""Trends: counts, unique persons, active users and property aggregates over time.

spec.py (TrendsSpec) -> queries.py (TrendsQueryRunner, TrendsPersonsQueryRunner)
-> charts.py (plotly figure) ; forms.py turns the builder page's GET into the spec.
insight.py declares the kind "TrendsQuery" (TrendsConfig.ready declares it: the
navigation, the JSON query API and the insight registry derive from it).
"""


# What other apps may use (the alerts' evaluations): the spec and the runner, imported when
# called, so importing the package stays free of the app's modules.
def spec_from_json(body: dict, project):
    from .spec import TrendsSpec  # noqa: PLC0415

    return TrendsSpec.from_json(body, project)


def run(project, spec, **options):
    """TrendsQueryRunner(project, spec, **options).run()."""
    from .queries import TrendsQueryRunner  # noqa: PLC0415

    return TrendsQueryRunner(project, spec, **options).run()


def annotations_for_chart(project, start, end) -> list[dict]:
    """The project's annotations inside [start, end) as a chart draws them (any time chart)."""
    from .views import annotations_for_chart as shown  # noqa: PLC0415

    return shown(project, start, end)


def add_annotations(fig, shown: list[dict], window: dict) -> None:
    """Draw `shown` (annotations_for_chart) on a plotly time chart."""
    from .charts import add_annotations as draw  # noqa: PLC0415

    draw(fig, shown, window)
