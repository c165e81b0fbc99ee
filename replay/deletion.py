"""Deleting a person's recordings (a GDPR deletion request).

`delete_person_recordings(project, person_id_or_distinct_ids)` removes every
recorded session in which one of the person's distinct_ids appears (all rows of
those sessions, including the anonymous part before they identified), from
session_replay_snapshots and session_replay_summaries. A person id is expanded
to every distinct_id that ever pointed at it (person_distinct_ids keeps every
version), so merged anonymous ids are included.

Lightweight DELETE (`DELETE FROM ... WHERE`): rows disappear from every query at
once and are purged from disk by the next merges. `mutations_sync` makes the call
return only after the deletion is applied. The governance issue's person-deletion
flow calls this alongside deleting events and persons.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from analytics_app import clickhouse as ch

from .queries import (
    DELETE_SNAPSHOTS_SQL,
    DELETE_SUMMARIES_SQL,
    DISTINCT_IDS_EVER_OF_PERSON_SQL,
    SESSIONS_OF_DISTINCT_IDS_SQL,
)


def _distinct_ids(project, person_id_or_distinct_ids) -> list[str]:
    if isinstance(person_id_or_distinct_ids, uuid.UUID):
        result = ch.query(
            DISTINCT_IDS_EVER_OF_PERSON_SQL,
            {"project_id": project.id, "person_id": person_id_or_distinct_ids},
        )
        return [row[0] for row in result.rows]
    if isinstance(person_id_or_distinct_ids, str):
        try:
            return _distinct_ids(project, uuid.UUID(person_id_or_distinct_ids))
        except ValueError:
            return [person_id_or_distinct_ids]
    return [d for d in person_id_or_distinct_ids if isinstance(d, str) and d]


def delete_person_recordings(
    project, person_id_or_distinct_ids: uuid.UUID | str | Iterable[str]
) -> list[str]:
    """Delete the recordings of a person (a UUID or its string) or of distinct_ids. Returns the deleted session ids."""
    distinct_ids = _distinct_ids(project, person_id_or_distinct_ids)
    if not distinct_ids:
        return []
    params = {"project_id": project.id, "dids": distinct_ids}
    sessions = [row[0] for row in ch.query(SESSIONS_OF_DISTINCT_IDS_SQL, params).rows]
    if not sessions:
        return []
    for start in range(0, len(sessions), 5000):
        batch = {"project_id": project.id, "sessions": sessions[start : start + 5000]}
        ch.command(DELETE_SNAPSHOTS_SQL, batch)
        ch.command(DELETE_SUMMARIES_SQL, batch)
    return sessions
