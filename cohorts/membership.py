"""Who is in a cohort: the part of cohorts that the shared property filters (a
`{"type": "cohort"}` filter in any insight) and other apps read.

It imports only the core (and this app's model), so insights.blocks.filters can
import it while the rest of the app builds on insights (docs/architecture.md,
"Dependencies"). Membership is written by cohorts.queries.compute_cohort.
"""

from __future__ import annotations

from analytics_app.errors import BadRequest

from .models import Cohort


def cohort_condition(b, cohort_id: int, person_id_sql: str, negate: bool) -> str:
    """`person_id IN (members of the cohort's committed version)`; `b` is an
    insights.blocks.SQLBuilder (its project_id binds the cohort to the project)."""
    cohort = Cohort.objects.filter(project_id=b.params["project_id"], pk=cohort_id).only("version").first()
    if cohort is None:
        raise BadRequest(
            "Invalid cohort filter.", {"cohort": f"there is no cohort {cohort_id} in this project"}
        )
    members = (
        "SELECT person_id FROM cohort_people WHERE project_id = {project_id:UInt32}"
        f" AND cohort_id = {b.bind(cohort.pk, 'UInt64')} AND version = {b.bind(cohort.version, 'UInt64')}"
    )
    sql = f"{person_id_sql} IN ({members})"
    return f"NOT ({sql})" if negate else sql


def project_cohorts(project):
    """The project's cohorts by name (a cohort picker: retention's breakdown, the recordings list)."""
    return Cohort.objects.filter(project=project).order_by("name", "id")


def cohort_names(project_id: int, ids) -> dict[str, str]:
    """Cohort id (as text) -> name, for the given ids of the project."""
    return {str(c.pk): c.name for c in Cohort.objects.filter(project_id=project_id, pk__in=ids)}
