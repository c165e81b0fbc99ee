"""Funnel correlation analysis: which events, and which event / person property values,
make conversion more or less likely (docs/funnels.md, "Correlation analysis").

The partition is the funnel's own: the per-actor query of the funnel's order
(`funnel_sql`, the arrays engine the drill-down uses) gives each person who entered the
funnel (level > 0) their counted attempt. A person *converted* when that attempt reached
the target step (default: the last), else *dropped*. Each person's correlation window
starts at the counted attempt's first step (`entry`) and ends, inclusive, at the time the
attempt reached the target step (converted) or at `entry + window` (dropped): what happens
after a conversion cannot have caused it.

For each candidate (an event name, or a property value) the 2x2 table of persons
(converted / dropped x with / without) gives an odds ratio with +1 smoothing of every
cell, and a two-sided Fisher exact p-value (a Pearson chi-squared one when the table is
too large to enumerate). Everything per person happens in ClickHouse, one query per
analysis, bound to the project (queries/correlation.py, FunnelCorrelationRunner); the
statistics over the (small) candidate list here, in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from governance import presenter as presenter_mod
from insights.blocks.body import BodyErrors
from insights.blocks.filters import MAX_KEY_LENGTH

from .spec import KNOWN_FIELDS, FunnelSpec

TYPES = ("events", "properties")
PROPERTY_TYPES = ("person", "event")
STATUSES = ("converted", "dropped")
# Internal events that say nothing about a person's behaviour: never candidates, and
# not read for event-property correlation either.
NOISE_EVENTS = frozenset(
    {
        "$snapshot",
        "$identify",
        "$create_alias",
        "$merge_dangerously",
        "$set",
        "$groupidentify",
        "$feature_flag_called",
        "$web_vitals",
        "$exception_autocapture_settings",
    }
)
SIGNIFICANCE = 0.05  # a candidate is significant when its p-value is below this
DEFAULT_TOP = 10
MAX_TOP = 50
MAX_CANDIDATES = 5_000  # most frequent candidates read back from ClickHouse
FISHER_MAX_SUPPORT = 20_000  # larger tables use the chi-squared test
CORRELATION_FIELDS = KNOWN_FIELDS | {
    "correlation_type",
    "target_step",
    "property",
    "property_type",
    "include_internal",
    "top",
}
PEOPLE_FIELDS = CORRELATION_FIELDS | {"status", "candidate", "limit"}


# ------------------------------------------------------------------ specs
@dataclass(frozen=True)
class FunnelCorrelationSpec:
    """What to correlate with the conversion of `funnel` (steps 0-based: `target_step`
    is the step a converted person reached)."""

    funnel: FunnelSpec
    correlation_type: str = "events"
    target_step: int = -1  # -1: the last step
    property_key: str = ""
    property_type: str = "person"
    include_internal: bool = False
    top: int = DEFAULT_TOP

    @property
    def target(self) -> int:
        return len(self.funnel.steps) - 1 if self.target_step < 0 else self.target_step

    @classmethod
    def from_json(cls, body, project=None, *, fields=CORRELATION_FIELDS, kind="FunnelCorrelationQuery"):
        errors = BodyErrors.check(body, fields, kind=kind)
        funnel_body = {k: v for k, v in body.items() if k in KNOWN_FIELDS and k != "kind"}
        funnel = errors.attempt(FunnelSpec.from_json, funnel_body, project)
        ctype = body.get("correlation_type", "events")
        if ctype not in TYPES:
            errors["correlation_type"] = "must be events or properties"
        n = len(funnel.steps) if funnel else 2
        target = body.get("target_step", n - 1)
        if not _is_int(target) or not 1 <= target < n:
            errors["target_step"] = f"must be a step index from 1 to {n - 1} (0 is the first step)"
        prop = body.get("property", "") or ""
        ptype = body.get("property_type", "person")
        if ctype == "properties":
            if not isinstance(prop, str) or not prop.strip() or len(prop) > MAX_KEY_LENGTH:
                errors["property"] = "pick a property to correlate"
            if ptype not in PROPERTY_TYPES:
                errors["property_type"] = "must be person or event"
        include_internal = body.get("include_internal", False)
        if not isinstance(include_internal, bool):
            errors["include_internal"] = "must be true or false"
        top = body.get("top", DEFAULT_TOP)
        if not _is_int(top) or not 1 <= top <= MAX_TOP:
            errors["top"] = f"must be an integer from 1 to {MAX_TOP}"
        if funnel is not None and funnel.aggregate_by.kind != "person":
            errors["aggregate_by"] = "correlation analysis counts persons: use a funnel counting persons"
        errors.raise_if_any()
        if ctype == "events":
            prop, ptype = "", "person"
        return cls(funnel, ctype, target, prop.strip(), ptype, include_internal, top)

    def to_json(self) -> dict:
        out = {
            **self.funnel.to_json(),
            "kind": "FunnelCorrelationQuery",
            "correlation_type": self.correlation_type,
            "target_step": self.target,
        }
        if self.correlation_type == "properties":
            out["property"] = self.property_key
            out["property_type"] = self.property_type
        if self.include_internal:
            out["include_internal"] = True
        if self.top != DEFAULT_TOP:
            out["top"] = self.top
        return out


@dataclass(frozen=True)
class CorrelationPeopleSpec:
    """The persons behind one candidate's converted or dropped count. `candidate` is the
    event name, or the property value (raw, or the token of a masked label)."""

    correlation: FunnelCorrelationSpec
    status: str
    candidate: str

    @classmethod
    def from_json(cls, body, project=None) -> CorrelationPeopleSpec:
        errors = BodyErrors.check(body, PEOPLE_FIELDS, kind="FunnelCorrelationActorsQuery")
        corr_body = {k: v for k, v in body.items() if k in CORRELATION_FIELDS and k != "kind"}
        corr = errors.attempt(FunnelCorrelationSpec.from_json, corr_body, project)
        status = body.get("status", "converted")
        if status not in STATUSES:
            errors["status"] = "must be converted or dropped"
        candidate = body.get("candidate")
        if not isinstance(candidate, str) or not candidate or len(candidate) > 10_000:
            errors["candidate"] = "must be an event name or a property value"
        errors.raise_if_any()
        _guard_candidate(corr, candidate)
        return cls(corr, status, candidate)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _guard_candidate(corr: FunnelCorrelationSpec, value: str) -> None:
    """A viewer without view-PII may ask for the persons of a value they can read (or the
    token of a masked one); a raw PII value would confirm a guess."""
    viewer = presenter_mod.current()
    if viewer is None or viewer.can_view_pii or value.startswith(presenter_mod.TOKEN_PREFIX):
        return
    if corr.correlation_type == "events":
        if viewer.text(value) != value:  # an event name masking changes (an e-mail in it)
            raise presenter_mod.PermissionDenied(
                "Listing the persons of an event name your role sees masked needs the view-PII permission."
            )
        return
    if viewer.is_pii_key(corr.property_key) or viewer.value(corr.property_key, value) != value:
        raise presenter_mod.PermissionDenied(
            "Listing the persons of a property value your role sees masked needs the view-PII permission."
        )


# ------------------------------------------------------------------ statistics
def odds_ratio(success_with: int, failure_with: int, success_total: int, failure_total: int) -> float:
    """((s_with + 1) / (f_with + 1)) / ((s_without + 1) / (f_without + 1))."""
    s_without = success_total - success_with
    f_without = failure_total - failure_with
    return ((success_with + 1) / (failure_with + 1)) / ((s_without + 1) / (f_without + 1))


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of [[a, b], [c, d]]: the sum of the probabilities
    (hypergeometric, margins fixed) of every table no more likely than the observed one."""
    row1, col1, n = a + b, a + c, a + b + c + d
    lo, hi = max(0, row1 + col1 - n), min(row1, col1)
    if n == 0 or lo == hi:
        return 1.0
    base = _log_choose(n, col1)

    def logp(x: int) -> float:
        return _log_choose(row1, x) + _log_choose(n - row1, col1 - x) - base

    observed = logp(a)
    limit = observed + 1e-7  # relative tolerance for ties in floating point
    total = 0.0
    for x in range(lo, hi + 1):
        lp = logp(x)
        if lp <= limit:
            total += math.exp(lp)
    return min(1.0, total)


def chi_squared(a: int, b: int, c: int, d: int) -> float:
    """Pearson's chi-squared test (1 degree of freedom) p-value of [[a, b], [c, d]]."""
    n = a + b + c + d
    rows, cols = (a + b, c + d), (a + c, b + d)
    if 0 in rows or 0 in cols:
        return 1.0
    chi2 = n * (a * d - b * c) ** 2 / (rows[0] * rows[1] * cols[0] * cols[1])
    return math.erfc(math.sqrt(chi2 / 2))


def p_value(a: int, b: int, c: int, d: int) -> float:
    """Fisher exact when the table's support (its free cell's range) is at most
    FISHER_MAX_SUPPORT values, else chi-squared (then every margin is large)."""
    support = min(a + b, a + c, b + d, c + d)
    return fisher_exact(a, b, c, d) if support <= FISHER_MAX_SUPPORT else chi_squared(a, b, c, d)


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class Correlation:
    candidate: str  # event name or raw property value
    success_count: int  # converted persons with it
    failure_count: int  # dropped persons with it
    odds_ratio: float
    p_value: float

    @property
    def positive(self) -> bool:
        return self.odds_ratio > 1

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE

    @property
    def strength(self) -> float:
        return abs(math.log(self.odds_ratio))


@dataclass
class CorrelationResult:
    spec: FunnelCorrelationSpec
    success_total: int  # converted persons
    failure_total: int  # dropped persons
    positive: list[Correlation] = field(default_factory=list)
    negative: list[Correlation] = field(default_factory=list)
    candidates: int = 0  # candidates examined

    def label(self, value: str, presenter) -> str:
        """The candidate as this viewer may see it (masked, with a keyed tag, when masking
        changes it: a PII property's value, an e-mail or a URL's query in any text)."""
        if self.spec.correlation_type == "events":
            shown = presenter.text(value)
            return (
                value
                if shown == value
                else f"{shown} ‹{presenter_mod.label_tag(presenter.project_id, value)}›"
            )
        return presenter.label(self.spec.property_key, value)

    def key(self, value: str, presenter) -> str:
        """What a people link carries: the value, or the token of its masked label."""
        return value if self.label(value, presenter) == value else presenter.token(value)

    def to_json(self, presenter) -> dict:
        def row(c: Correlation) -> dict:
            return {
                "candidate": self.label(c.candidate, presenter),
                "candidate_key": self.key(c.candidate, presenter),
                "success_count": c.success_count,
                "failure_count": c.failure_count,
                "odds_ratio": round(c.odds_ratio, 6),
                "p_value": c.p_value,
                "significant": c.significant,
                "correlation": "positive" if c.positive else "negative",
            }

        return {
            "correlation_type": self.spec.correlation_type,
            "property": self.spec.property_key or None,
            "property_type": self.spec.property_type if self.spec.property_key else None,
            "target_step": self.spec.target,
            "success_total": self.success_total,
            "failure_total": self.failure_total,
            "candidates": self.candidates,
            "positive": [row(c) for c in self.positive],
            "negative": [row(c) for c in self.negative],
        }


def rank(counts: dict[str, tuple[int, int]], success_total: int, failure_total: int, top: int):
    """(positive, negative): each candidate's odds ratio and p-value; significant ones
    first, by |log odds ratio| (descending), then p-value, then the candidate; within
    each sign the first `top`."""
    rows = []
    for cand, (s, f) in counts.items():
        ratio = odds_ratio(s, f, success_total, failure_total)
        p = p_value(s, f, success_total - s, failure_total - f)
        rows.append(Correlation(cand, s, f, ratio, p))

    def order(c: Correlation):
        return (not c.significant, -c.strength, c.p_value, c.candidate)

    positive = sorted((c for c in rows if c.odds_ratio > 1), key=order)[:top]
    negative = sorted((c for c in rows if c.odds_ratio < 1), key=order)[:top]
    return positive, negative
