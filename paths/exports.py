"""What the insights layer needs of paths to act on its numbers (insights.people):
the people behind a drill-down, all of them, and the result table for the CSV / JSON export.
Registered from the app's AppConfig.ready."""

from __future__ import annotations

from insights import people
from insights.export import Table


def people_rows(request, query, limit):
    from insights import views_common  # noqa: PLC0415
    from paths.queries import PathsActorsRunner  # noqa: PLC0415
    from paths.spec import PathsSpec  # noqa: PLC0415
    from paths.views import _pretty, _resolve_nodes  # noqa: PLC0415

    project = request.project
    spec = views_common.spec_from_q(query, PathsSpec, project)
    node = query.get("node", "")
    target = query.get("target") or None
    ended = query.get("ended") in ("1", "true", "on")
    raw_node, raw_target = _resolve_nodes(request, spec, node, target)
    drill = PathsActorsRunner(project, spec, raw_node, raw_target, ended=ended, limit=limit).run()
    # one row per person: their sessions through the node and the latest time there
    per: dict[str, dict] = {}
    order: list[str] = []
    for a in drill.actors:
        if a.person_id not in per:
            order.append(a.person_id)
            per[a.person_id] = {"sessions": 0, "last_at": a.timestamp.astimezone(project.tz).isoformat()}
        per[a.person_id]["sessions"] += 1
    what = (
        f"{_pretty(node)} → {_pretty(target)}"
        if target
        else (f"{_pretty(node)} (ended here)" if ended else _pretty(node))
    )
    return [(pid, per[pid]) for pid in order], f"Paths {what}", ["sessions", "last_at"]


def result_table(project, body, presenter) -> Table:
    from paths.queries import PathsQueryRunner  # noqa: PLC0415
    from paths.spec import PathsSpec  # noqa: PLC0415

    payload = PathsQueryRunner(project, PathsSpec.from_json(body, project)).run().to_json(presenter)
    rows = [
        ["edge", e["source"], e["target"], e["value"], e["average_conversion_time_seconds"]]
        for e in payload["results"]
    ]
    rows += [
        ["dropoff", d["node"], "", d["dropoff"], ""] for d in payload.get("dropoff", []) if d["dropoff"] > 0
    ]
    return Table(["row", "source", "target", "sessions", "average_conversion_time_seconds"], rows)


def register() -> None:
    people.register("paths", people=people_rows, table=result_table)
