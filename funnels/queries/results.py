"""What the funnel runners return: typed results with their JSON form, and the
microsecond helpers the SQL and the results share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cohorts.membership import cohort_names
from insights.blocks.breakdown import OTHER_VALUE
from insights.blocks.breakdown import label as breakdown_label
from insights.templatetags.pickers import operator_label

from ..spec import FunnelActorsSpec, FunnelSpec

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_micros(moment: dt.datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(value))


# ------------------------------------------------------------------ counts per step
@dataclass(frozen=True)
class StepResult:
    order: int
    event: str
    count: int
    conversion_rate: float
    conversion_rate_from_previous: float
    dropped: int
    average_conversion_time_seconds: float | None
    median_conversion_time_seconds: float | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BreakdownResult:
    value: str | None  # raw value ("" = none, OTHER_VALUE = Other); None without a breakdown
    steps: list[StepResult]
    rank: int = 0
    name: str | None = None  # a cohort breakdown's label (the cohort's name)

    @property
    def label(self) -> str | None:
        if self.name is not None:
            return self.name
        return None if self.value is None else breakdown_label(self.value)


@dataclass(frozen=True)
class FunnelResult:
    spec: FunnelSpec
    start: dt.datetime
    end: dt.datetime
    results: list[BreakdownResult] = field(default_factory=list)
    engine: str = "arrays"

    def shown_value(self, r: BreakdownResult, presenter) -> str | None:
        if r.value is None:
            return None
        if presenter is not None and r.value not in ("", OTHER_VALUE) and r.name is None:
            return presenter.label(self.spec.breakdown.property, r.label)
        return r.label

    def to_json(self, presenter) -> dict:
        out = []
        labels = step_labels(self.spec, presenter)
        for r in self.results:
            item = {
                "breakdown_value": self.shown_value(r, presenter),
                "steps": [{**s.to_json(), "label": labels[s.order]} for s in r.steps],
            }
            if r.value is not None:
                # A value the user sees masked gets a token as its drill-down key, not the raw value.
                masked = presenter is not None and item["breakdown_value"] != r.label and r.name is None
                item["breakdown_key"] = (
                    presenter.token(r.label) if masked and r.value not in ("", OTHER_VALUE) else r.value
                )
            out.append(item)
        return {
            "results": out,
            "aggregate_by": self.spec.aggregate_by.to_json(),
            "date_from": self.start.isoformat(),
            "date_to": self.end.isoformat(),
        }


# ------------------------------------------------------------------ step labels
# A step's label: its event and, when it has any, its filters ("$pageview · $browser =
# Chrome"), so that two steps of the same event can be told apart in the chart and the
# table. Values pass through the viewer's Presenter like any property value.
LABEL_FILTERS = 2  # more are summed up as "+N more"
LABEL_VALUE_CHARS = 40


def step_labels(spec: FunnelSpec, presenter) -> list[str]:
    """Each step's label for this viewer (presenter None: raw, for internal use)."""
    ids = {str(f.value) for s in spec.steps for f in s.properties if f.type == "cohort"}
    cohorts = {}
    if ids and presenter is not None:
        cohorts = cohort_names(presenter.project_id, [int(i) for i in ids if i.isdigit()])
    return [_step_label(step, presenter, cohorts) for step in spec.steps]


def _step_label(step, presenter, cohorts: dict[str, str]) -> str:
    event = presenter.text(step.event) if presenter is not None else step.event
    if not step.properties:
        return event
    parts = [_filter_text(f, presenter, cohorts) for f in step.properties[:LABEL_FILTERS]]
    if len(step.properties) > LABEL_FILTERS:
        parts.append(f"+{len(step.properties) - LABEL_FILTERS} more")
    return " · ".join([event, *parts])


def _operator(op: str) -> str:
    """The builder's wording of an operator, its symbol alone where it has one ("= equals": "=")."""
    shown = operator_label(op)
    return shown.split(" ", 1)[0] if shown[:1] in "=≠<>≤≥" else shown


def _filter_text(f, presenter, cohorts: dict[str, str]) -> str:
    op = _operator(f.operator)
    if f.type == "cohort":
        return f"{op} {cohorts.get(str(f.value), f'#{f.value}')}"
    if f.operator in ("is_set", "is_not_set"):
        return f"{f.key} {op}"
    shown = [presenter.value(f.key, v) if presenter is not None else v for v in f.values]
    text = ", ".join("null" if v is None else str(v) for v in shown)
    if len(text) > LABEL_VALUE_CHARS:
        text = text[: LABEL_VALUE_CHARS - 1] + "…"
    return f"{f.key} {op} {text}"


def _rate(num: int, den: int) -> float:
    return num / den if den else 0.0


def build_steps(spec: FunnelSpec, counts: list[int], avgs: list, medians: list) -> list[StepResult]:
    out = []
    for k, step in enumerate(spec.steps):
        out.append(
            StepResult(
                order=k,
                event=step.event,
                count=counts[k],
                conversion_rate=_rate(counts[k], counts[0]) if k else (1.0 if counts[0] else 0.0),
                conversion_rate_from_previous=_rate(counts[k], counts[k - 1])
                if k
                else (1.0 if counts[0] else 0.0),
                dropped=counts[k - 1] - counts[k] if k else 0,
                average_conversion_time_seconds=avgs[k],
                median_conversion_time_seconds=medians[k],
            )
        )
    return out


# ------------------------------------------------------------------ actors
@dataclass(frozen=True)
class FunnelActor:
    person_id: str
    aggregation_value: str | None
    reached_step: int
    reached_at: dt.datetime
    session_ids: list[str]
    session_id_at_last_step: str | None
    distinct_ids: list[str] = field(default_factory=list)
    properties: dict = field(default_factory=dict)

    def to_json(self, presenter) -> dict:
        out = {
            "person_id": self.person_id,
            "distinct_ids": [presenter.distinct_id(d) for d in self.distinct_ids]
            if presenter is not None
            else self.distinct_ids,
            "properties": presenter.properties(self.properties) if presenter is not None else self.properties,
            "reached_step": self.reached_step,
            "reached_at": self.reached_at.isoformat(),
            "session_ids": self.session_ids,
            "session_id_at_last_step": self.session_id_at_last_step,
        }
        if self.aggregation_value is not None:
            out["aggregation_value"] = self.aggregation_value
        return out

    @property
    def replay_at_ms(self) -> int:
        """The moment to open the recording at, in ms since the epoch (the replay
        player's `?at=`; `?t=` is reserved for ms from the recording's start)."""
        return to_micros(self.reached_at) // 1000


@dataclass(frozen=True)
class FunnelActorsResult:
    spec: FunnelActorsSpec
    actors: list[FunnelActor]
    total: int

    def to_json(self, presenter) -> dict:
        return {"results": [a.to_json(presenter) for a in self.actors], "total": self.total}


# ------------------------------------------------------------------ time to convert, trends
@dataclass(frozen=True)
class TimeToConvertResult:
    bins: list[tuple[float, float, int]]  # (from seconds, to seconds, actors)
    total: int
    average_seconds: float | None
    median_seconds: float | None


@dataclass(frozen=True)
class TrendPoint:
    day: dt.datetime
    entered: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.entered if self.entered else 0.0
