"""Insight results in Django's cache (local memory embedded, Redis in production).

The key is a hash of what determines a result: the project (id and time zone),
the kind, the canonical spec JSON *after* the dashboard's date override, and the
override itself. The value is the kind's raw result (before any presentation, so
PII masking still happens per viewer in render_tile) with the time it was computed.

A refresh bypasses the read and overwrites the entry; pages, the insight page and
the Celery task all go through `compute`, so they share entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from analytics_app.errors import BadRequest
from governance import presenter
from insights.registry import KINDS, InsightKind

from .models import Insight, spec_text

log = logging.getLogger(__name__)

KEY_PREFIX = "sextant:insight-result:v1:"
# Per project: the keys of its cached results (so a person deletion can drop them) and a
# generation number that is part of every key (so an entry the list missed is never read).
INDEX_PREFIX = "sextant:insight-keys:v1:"
GENERATION_PREFIX = "sextant:insight-generation:v1:"


def ttl() -> int:
    return int(getattr(settings, "SEXTANT_INSIGHT_CACHE_TTL", 15 * 60))


@dataclass(frozen=True)
class DateOverride:
    """What a dashboard lays over its tiles: a date range that replaces each tile's (empty
    strings mean 'keep the insight's own') and property filters ANDed to each tile's own
    (`properties`, canonical JSON text of a list of insights.blocks.filters dicts; "" = none)."""

    date_from: str = ""
    date_to: str = ""
    properties: str = ""

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.properties)

    @property
    def has_dates(self) -> bool:
        return bool(self.date_from or self.date_to)

    @property
    def filters(self) -> list[dict]:
        return json.loads(self.properties) if self.properties else []

    def as_params(self) -> dict[str, str]:
        return {"date_from": self.date_from, "date_to": self.date_to}


def filters_text(filters: list[dict] | None) -> str:
    """The canonical text of a dashboard's filter list ("" for none)."""
    return json.dumps(filters, sort_keys=True, separators=(",", ":")) if filters else ""


def with_filters(raw_spec: dict, override: DateOverride) -> dict:
    """The stored spec with the dashboard's property filters ANDed to its own: every kind's
    spec JSON has a top-level `properties` list that applies to the whole query."""
    if not override.properties:
        return raw_spec
    own = raw_spec.get("properties") or []
    if not isinstance(own, list):
        return raw_spec  # the kind's parser reports it
    return {**raw_spec, "properties": [*own, *override.filters]}


NO_OVERRIDE = DateOverride()


@dataclass(frozen=True)
class Computed:
    spec: Any  # the spec that ran (override applied)
    spec_json: str
    result: Any
    computed_at: dt.datetime
    from_cache: bool


def kind_for(name: str) -> InsightKind:
    kind = KINDS.get(name)
    if kind is None:
        raise BadRequest(f"Insights of kind {name!r} are not available in this installation.")
    return kind


def spec_dict(kind: InsightKind, spec) -> dict:
    """The kind's to_json as a dict (kinds may return a dict or JSON text)."""
    out = kind.to_json(spec)
    if isinstance(out, str | bytes):
        out = json.loads(out)
    if not isinstance(out, dict):
        raise BadRequest(f"{kind.kind}.to_json must produce a JSON object.")
    return out


def parse_spec(kind: InsightKind, raw: dict, project):
    """The kind's parse; a kind that raises something other than BadRequest on bad
    input still becomes a BadRequest here (a form error, never a 500)."""
    try:
        return kind.parse(raw, project)
    except BadRequest:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadRequest(f"This is not a valid {kind.label} insight: {exc}") from None


def apply_override(kind: InsightKind, spec, override: DateOverride):
    if not override.has_dates:
        return spec
    return kind.with_date_range(spec, override.date_from or None, override.date_to or None)


def cache_key(project, kind_name: str, spec_json: str, override: DateOverride) -> str:
    generation = cache.get(GENERATION_PREFIX + str(project.pk), 0)
    material = json.dumps(
        [
            project.pk,
            generation,
            project.time_zone,
            kind_name,
            spec_json,
            override.date_from,
            override.date_to,
            override.properties,
        ],
        separators=(",", ":"),
    )
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()


def _remember(project_id: int, key: str) -> None:
    index = INDEX_PREFIX + str(project_id)
    keys = cache.get(index) or []
    if key not in keys:
        cache.set(index, [*keys[-9999:], key], ttl())


def forget_project(project_id: int) -> int:
    """Drop every cached result of the project (after a person's data was deleted). Returns
    how many entries were listed."""
    index = INDEX_PREFIX + str(project_id)
    keys = cache.get(index) or []
    cache.delete_many(keys)
    cache.delete(index)
    try:
        cache.incr(GENERATION_PREFIX + str(project_id))
    except ValueError:
        cache.set(GENERATION_PREFIX + str(project_id), 1, None)
    return len(keys)


def compute(
    project, kind_name: str, raw_spec: dict, override: DateOverride = NO_OVERRIDE, *, refresh: bool = False
) -> Computed:
    """The result of one insight under an optional date override, from the cache
    unless `refresh` (or absent). Raises BadRequest for a spec that no longer parses
    and the ClickHouse layer's errors for a failed query."""
    kind = kind_for(kind_name)
    # The insight's filters were checked against its author's permissions when it was saved,
    # the dashboard's when they were saved or typed (dashboards.forms.DashboardFiltersForm).
    with presenter.stored():
        spec = apply_override(kind, parse_spec(kind, with_filters(raw_spec, override), project), override)
    text = spec_text(spec_dict(kind, spec))
    key = cache_key(project, kind_name, text, override)
    if not refresh:
        hit = cache.get(key)
        if hit is not None:
            return Computed(spec, text, hit["result"], hit["computed_at"], True)
    result = kind.run(project, spec)
    now = dt.datetime.now(dt.UTC)
    try:
        cache.set(key, {"result": result, "computed_at": now}, ttl())
        _remember(project.pk, key)
    except Exception:  # an unpicklable result must not break the page; it just is not cached
        log.exception("could not cache a %s result", kind_name)
    return Computed(spec, text, result, now, False)


def compute_insight(
    insight: Insight, override: DateOverride = NO_OVERRIDE, *, refresh: bool = False
) -> Computed:
    computed = compute(insight.project, insight.kind, insight.spec, override, refresh=refresh)
    if not computed.from_cache:
        Insight.objects.filter(pk=insight.pk).update(last_refresh_at=computed.computed_at)
        insight.last_refresh_at = computed.computed_at
    return computed


def peek_insight(insight: Insight, override: DateOverride = NO_OVERRIDE) -> dt.datetime | None:
    """When the cached result of `insight` under `override` was computed, or None when there
    is none (nothing runs; a spec that no longer parses is None too)."""
    kind = KINDS.get(insight.kind)
    if kind is None:
        return None
    try:
        with presenter.stored():
            spec = apply_override(
                kind, parse_spec(kind, with_filters(insight.spec, override), insight.project), override
            )
        text = spec_text(spec_dict(kind, spec))
    except BadRequest:
        return None
    hit = cache.get(cache_key(insight.project, insight.kind, text, override))
    return hit["computed_at"] if hit else None
