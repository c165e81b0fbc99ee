"""What the insights layer needs of retention to act on its numbers (insights.people):
the people behind a drill-down, all of them, and the result table for the CSV / JSON export.
Registered from the app's AppConfig.ready."""

from __future__ import annotations

from analytics_app.errors import BadRequest
from insights import people
from insights.export import Table


def people_rows(request, query, limit):
    from insights import views_common  # noqa: PLC0415
    from retention import charts  # noqa: PLC0415
    from retention.queries import RetentionActorsRunner, RetentionQueryRunner  # noqa: PLC0415
    from retention.spec import RetentionSpec  # noqa: PLC0415
    from retention.views import _int  # noqa: PLC0415

    project = request.project
    spec = views_common.spec_from_q(
        query, RetentionSpec, project, message="Invalid cell.", what="the matrix's"
    )
    errors: dict = {}
    cohort = _int(query, "cohort", errors)
    offset = _int(query, "offset", errors)
    breakdown_index = _int(query, "breakdown_index", errors, default=-1)
    if errors:
        raise BadRequest("Invalid cell.", errors)
    value = None
    if spec.breakdown is not None:
        values = RetentionQueryRunner(project, spec).run().breakdown_values()
        if not 0 <= breakdown_index < len(values):
            raise BadRequest("Invalid cell.", {"breakdown_index": "no such breakdown value"})
        value = values[breakdown_index]
    cell = RetentionActorsRunner(project, spec, cohort, offset, value, limit=limit).run()
    rows = [
        (p.person_id, {"last_seen": p.last_seen.astimezone(project.tz).isoformat()}) for p in cell.persons
    ]
    title = (
        f"Retention cohort {cell.cohort_date:%Y-%m-%d} {charts.PERIOD_LABEL[spec.period.value]} {cell.offset}"
    )
    return rows, title, ["last_seen"]


def result_table(project, body, presenter) -> Table:
    from retention import charts  # noqa: PLC0415
    from retention.queries import RetentionQueryRunner  # noqa: PLC0415
    from retention.spec import RetentionSpec  # noqa: PLC0415

    spec = RetentionSpec.from_json(body, project)
    payload = RetentionQueryRunner(project, spec).run().to_json(presenter)
    width = max((len(r["values"]) for r in payload["results"]), default=0)
    label = charts.PERIOD_LABEL[spec.period.value]
    rows = [
        [
            "" if r.get("breakdown_value") is None else r["breakdown_value"],
            r["cohort_start"],
            r["values"][0] if r["values"] else 0,
            *r["values"],
            *([""] * (width - len(r["values"]))),
        ]
        for r in payload["results"]
    ]
    return Table(["breakdown_value", "cohort_start", "size", *(f"{label} {k}" for k in range(width))], rows)


def register() -> None:
    people.register("retention", people=people_rows, table=result_table)
