"""The one place every output passes through on its way to a user.

Pages, the JSON API, CSV exports, breakdown labels, person pages and replay all
hand property data to a Presenter before it leaves the server. The Presenter
knows the project's PII classification and whether this user may see PII, and
masks accordingly. Today's classification source is `pii_keys()`: the governance
issue fills it from the tracking plan; until then the built-in defaults apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .models import Permission

MASK_CHAR = "•"
# Person/event properties treated as PII until the tracking plan says otherwise.
DEFAULT_PII_KEYS = frozenset({"email", "$email", "name", "phone", "$ip", "first_name", "last_name"})

_pii_sources: list = []


def register_pii_source(fn) -> None:
    """Governance plugs in here: fn(project) -> iterable of PII property keys."""
    _pii_sources.append(fn)


def pii_keys(project) -> frozenset[str]:
    keys = set(DEFAULT_PII_KEYS)
    for source in _pii_sources:
        keys.update(source(project))
    return frozenset(keys)


def mask_text(value) -> str:
    text = "" if value is None else str(value)
    return MASK_CHAR * min(len(text), 12) if text else ""


@dataclass(frozen=True)
class Presenter:
    can_view_pii: bool
    pii: frozenset[str]

    @classmethod
    def for_request(cls, project, perms: Iterable[str]) -> Presenter:
        return cls(can_view_pii=Permission.VIEW_PII in set(perms), pii=pii_keys(project))

    @classmethod
    def unrestricted(cls) -> Presenter:
        """For system contexts (tasks writing internal state), never for user output."""
        return cls(can_view_pii=True, pii=frozenset())

    def is_masked(self, key: str) -> bool:
        return not self.can_view_pii and key in self.pii

    def value(self, key: str, value):
        """A single property value (breakdown label, column cell)."""
        if self.is_masked(key) and value not in (None, ""):
            return mask_text(value)
        return value

    def properties(self, props: Mapping | None) -> dict:
        """A property dict with PII values masked for this user."""
        if not props:
            return {}
        if self.can_view_pii:
            return dict(props)
        return {k: (mask_text(v) if k in self.pii and v not in (None, "") else v) for k, v in props.items()}
