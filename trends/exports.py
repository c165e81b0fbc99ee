"""What the insights layer needs of trends to act on its numbers (insights.people):
the people behind a drill-down, all of them, and the result table for the CSV / JSON export.
Registered from the app's AppConfig.ready."""

from __future__ import annotations

from insights import people
from insights.export import Table


def people_rows(request, query, limit):
    from trends.queries import TrendsPersonsQueryRunner  # noqa: PLC0415
    from trends.views import _drill_params  # noqa: PLC0415

    project = request.project
    spec, series_index, point, breakdown_index, period = _drill_params(query, project)
    drill = TrendsPersonsQueryRunner(
        project, spec, series_index, point, breakdown_index, period, limit=limit
    ).run()
    rows = [
        (
            p.person_id,
            {
                "events": p.events,
                "sessions": p.sessions,
                "value": "" if p.value is None else p.value,
                "last_seen": p.last_seen.astimezone(project.tz).isoformat(),
            },
        )
        for p in drill.persons
    ]
    title = f"Trends {drill.series_label} {drill.start.astimezone(project.tz):%Y-%m-%d %H:%M}"
    return rows, title, ["events", "sessions", "value", "last_seen"]


def result_table(project, body, presenter) -> Table:
    from trends.queries import TrendsQueryRunner  # noqa: PLC0415
    from trends.spec import TrendsSpec  # noqa: PLC0415

    payload = TrendsQueryRunner(project, TrendsSpec.from_json(body, project)).run().to_json(presenter)
    results = payload["results"]
    dates = results[0]["dates"] if results else []
    rows = [
        [
            r["label"] + (" (previous)" if r.get("compare_label") == "previous" else ""),
            *r["data"],
            r["total"],
        ]
        for r in results
    ]
    return Table(["series", *dates, "total"], rows)


def register() -> None:
    people.register("trends", people=people_rows, table=result_table)
