"""What the insights layer needs of funnels to act on its numbers (insights.people):
the people behind a drill-down, all of them, and the result table for the CSV / JSON export.
Registered from the app's AppConfig.ready."""

from __future__ import annotations

from analytics_app import clickhouse as ch
from insights import people
from insights.export import Table


def people_rows(request, query, limit):
    from funnels.queries import FunnelActorsQueryRunner  # noqa: PLC0415
    from funnels.queries.base import QUERY_SETTINGS  # noqa: PLC0415
    from funnels.queries.results import from_micros  # noqa: PLC0415
    from funnels.views import _actors_spec  # noqa: PLC0415

    spec = _actors_spec(query, request.project)
    sql, params = FunnelActorsQueryRunner(request.project, spec).all_persons_sql(limit)
    tz = request.project.tz
    rows = [
        (pid, {"reached_step": int(step) + 1, "reached_at": from_micros(at).astimezone(tz).isoformat()})
        for pid, step, at in ch.query(sql, params, settings=QUERY_SETTINGS).rows
    ]
    what = "converted at" if spec.status == "converted" else "dropped before"
    event = spec.funnel.steps[spec.step].event
    title = f"Funnel {what} step {spec.step + 1} ({event})"
    return rows, title, ["reached_step", "reached_at"]


def result_table(project, body, presenter) -> Table:
    from funnels.queries import FunnelQueryRunner  # noqa: PLC0415
    from funnels.spec import FunnelSpec  # noqa: PLC0415

    payload = FunnelQueryRunner(project, FunnelSpec.from_json(body, project)).run().to_json(presenter)
    columns = [
        "breakdown_value",
        "step",
        "event",
        "count",
        "conversion_rate",
        "conversion_rate_from_previous",
        "dropped",
        "average_conversion_time_seconds",
        "median_conversion_time_seconds",
        "label",  # last, so the columns before keep their places
    ]
    rows = [
        [
            "" if r.get("breakdown_value") is None else r["breakdown_value"],
            s["order"] + 1,
            s["event"],
            s["count"],
            s["conversion_rate"],
            s["conversion_rate_from_previous"],
            s["dropped"],
            _blank(s["average_conversion_time_seconds"]),
            _blank(s["median_conversion_time_seconds"]),
            s["label"],
        ]
        for r in payload["results"]
        for s in r["steps"]
    ]
    return Table(columns, rows)


def _blank(value):
    return "" if value is None else value


def correlation_people_rows(request, query, limit):
    """The persons behind one count of a correlation analysis (funnels/correlation.py)."""
    from funnels.queries.correlation import FunnelCorrelationRunner  # noqa: PLC0415
    from funnels.views import correlation_people_spec, correlation_title  # noqa: PLC0415

    spec = correlation_people_spec(query, request.project)
    ids = FunnelCorrelationRunner(request.project, spec.correlation).people(
        spec.status, spec.candidate, limit
    )
    status = spec.status
    return [(pid, {"status": status}) for pid in ids], correlation_title(spec, request.presenter), ["status"]


def correlation_table(project, body, presenter) -> Table:
    """A correlation analysis (`q` = its FunnelCorrelationQuery JSON) as a table."""
    from funnels.correlation import FunnelCorrelationSpec  # noqa: PLC0415
    from funnels.queries.correlation import FunnelCorrelationRunner  # noqa: PLC0415

    payload = (
        FunnelCorrelationRunner(project, FunnelCorrelationSpec.from_json(body, project))
        .run()
        .to_json(presenter)
    )
    columns = [
        "correlation",
        "candidate",
        "converted_with",
        "dropped_with",
        "odds_ratio",
        "p_value",
        "significant",
    ]
    rows = [
        [
            r["correlation"],
            r["candidate"],
            r["success_count"],
            r["failure_count"],
            r["odds_ratio"],
            r["p_value"],
            r["significant"],
        ]
        for r in payload["positive"] + payload["negative"]
    ]
    return Table(columns, rows)


CORRELATION_PARAMS = (
    "q",
    "correlation_type",
    "target_step",
    "property",
    "property_type",
    "include_internal",
    "status",
    "candidate",
)


def register() -> None:
    people.register("funnels", people=people_rows, table=result_table)
    people.register(
        "funnel_correlation",
        people=correlation_people_rows,
        table=correlation_table,
        params=CORRELATION_PARAMS,
    )
