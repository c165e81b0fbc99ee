"""The one place every output passes through on its way to a user.

Pages, the JSON API, CSV exports, breakdown labels, drill-down lists, person pages,
ingestion warnings and replay all hand what they show to the request's Presenter
before it leaves the server. The Presenter knows the project's PII classification
and whether this user may see PII; for a user without `view_pii` one masking pass
(docs/access.md, "Masking rules") walks every value recursively:

- the value of a PII key (`pii_keys()`: the defaults below plus what registered
  sources add, e.g. the tracking plan) at any depth — top level, under `$set` /
  `$set_once`, inside nested objects and arrays — is masked whole;
- in every other string, URL query values and fragments are masked
  (`https://x.io/a?email=•••` — in `$current_url`, `$referrer`, `$initial_current_url`,
  `$pathname` and any value or text holding a URL), and so is what the PII detectors
  find (`governance.masking.DETECTORS`: e-mail addresses, phone numbers, Luhn-valid card
  numbers, mod-97-valid IBANs), just the match;
- a distinct_id that is an e-mail address is masked.

How masked text looks is `governance.masking` (pure text rules); this module decides
what is PII and which outputs the rules apply to.

Masked breakdown labels carry a keyed tag (`label`) so two different raw values never
merge into one label.

The gate also makes the request's Presenter the *current* one (`current()`) while the
view runs, so the parsers of user-supplied filters and searches can refuse what would
confirm a masked value (`guard_*`, used by insights/blocks/filters.py and the explorer
and replay forms) without every view repeating the check.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from .masking import MASK_CHAR, has_pii, is_email_like, mask_all, mask_string, mask_text
from .roles import Permission

# Person/event properties treated as PII until the tracking plan says otherwise.
DEFAULT_PII_KEYS = frozenset({"email", "$email", "name", "phone", "$ip", "first_name", "last_name"})
# Keys whose value is a bag of (person) properties: a filter on the bag itself would search PII text.
NESTED_PROPERTY_KEYS = frozenset({"$set", "$set_once", "$unset"})

_pii_sources: list = []


def register_pii_source(fn) -> None:
    """Governance plugs in here: fn(project) -> iterable of PII property keys."""
    _pii_sources.append(fn)


def pii_keys(project) -> frozenset[str]:
    keys = set(DEFAULT_PII_KEYS)
    for source in _pii_sources:
        keys.update(source(project))
    return frozenset(keys)


@functools.lru_cache(maxsize=8192)
def _is_pii_key(pii: frozenset[str], key: str) -> bool:
    key = key.lower()
    return key in pii or ("." in key and any(part in pii for part in key.split(".")))


# A drill-down key standing for a breakdown value the user sees masked: `masked:<tag>`;
# the server maps it back to the raw value by re-running the query (funnels actors).
TOKEN_PREFIX = "masked:"


def label_tag(project_id: int, raw: str) -> str:
    return _tag(project_id, raw)


def _tag(project_id: int, raw: str) -> str:
    from django.conf import settings  # noqa: PLC0415

    key = hmac.new(settings.SECRET_KEY.encode(), f"pii-label:{project_id}".encode(), hashlib.sha256).digest()
    return hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:8]


# ------------------------------------------------------------------ the Presenter
@dataclass(frozen=True)
class Presenter:
    can_view_pii: bool
    pii: frozenset[str]
    project_id: int = 0

    @classmethod
    def for_request(cls, project, perms: Iterable[str]) -> Presenter:
        return cls(
            can_view_pii=Permission.VIEW_PII in set(perms),
            pii=frozenset(k.lower() for k in pii_keys(project)),
            project_id=getattr(project, "pk", 0) or 0,
        )

    @classmethod
    def unrestricted(cls) -> Presenter:
        """For system contexts (tasks writing internal state), never for user output."""
        return cls(can_view_pii=True, pii=frozenset())

    # ---- classification
    def is_pii_key(self, key: str) -> bool:
        """A PII key, or a dotted path through one (`$set.email`)."""
        return _is_pii_key(self.pii, str(key))

    def is_masked(self, key: str) -> bool:
        return not self.can_view_pii and self.is_pii_key(key)

    # ---- values
    def text(self, text):
        """Free text (an event name, a warning's details, a label)."""
        if self.can_view_pii or not isinstance(text, str):
            return text
        return mask_string(text)

    def url(self, url: str) -> str:
        return url if self.can_view_pii or not url else mask_string(url)

    def distinct_id(self, distinct_id):
        if self.can_view_pii or not isinstance(distinct_id, str):
            return distinct_id
        return mask_text(distinct_id) if is_email_like(distinct_id) else mask_string(distinct_id)

    def value(self, key: str, value):
        """A property value (breakdown label, column cell), nested values included."""
        if self.can_view_pii:
            return value
        if self.is_pii_key(key) and value not in (None, ""):
            return mask_all(value)
        return self._walk(value)

    def reveals(self, spec) -> bool:
        """Whether a query definition (a saved insight's spec) holds a value this user sees
        masked: the value of a filter on a PII key, or PII a detector finds in any string
        (an e-mail address typed into a filter on another key). Such a user gets the
        insight's result, with its labels masked, but not its builder or export links,
        which carry the definition in their URL (and which they could not run: filtering
        on a PII key needs view-PII)."""
        if self.can_view_pii:
            return False
        if isinstance(spec, Mapping):
            key = spec.get("key")
            if isinstance(key, str) and self.is_pii_key(key) and spec.get("value") not in (None, "", []):
                return True
            return any(self.reveals(v) for v in spec.values())
        if isinstance(spec, list | tuple):
            return any(self.reveals(v) for v in spec)
        return has_pii(spec)

    def properties(self, props: Mapping | None) -> dict:
        """A property dict with PII masked for this user, at every depth."""
        if not props:
            return {}
        if self.can_view_pii:
            return dict(props)
        return self._walk(props)

    def _walk(self, value):
        kind = type(value)  # exact types first: this runs per value of every exported row
        if kind is str:
            return mask_string(value)
        if kind is dict or isinstance(value, Mapping):
            pii = self.pii
            return {
                k: mask_all(v) if _is_pii_key(pii, str(k)) and v not in (None, "") else self._walk(v)
                for k, v in value.items()
            }
        if kind is list or kind is tuple:
            return [self._walk(v) for v in value]
        return value

    def json_text(self, text: str) -> str:
        """A JSON document stored as text (a CSV properties column, a quarantined payload)."""
        if self.can_view_pii or not text:
            return text
        try:
            data = json.loads(text)
        except ValueError:
            return self._raw_text(text)
        return json.dumps(self._walk(data), ensure_ascii=False, default=str)

    def _raw_text(self, text: str) -> str:
        """Text that does not parse (a truncated payload): PII keys' string values masked by
        pattern, then URLs and e-mail addresses."""
        for key in self.pii:
            text = re.sub(
                r'("' + re.escape(key) + r'"\s*:\s*)"(?:[^"\\]|\\.)*"',
                lambda m: m.group(1) + '"' + MASK_CHAR * 3 + '"',
                text,
                flags=re.IGNORECASE,
            )
        return mask_string(text)

    def cell(self, key: str, text):
        """A property value as the store renders it to text (CSV columns): objects and
        arrays arrive as JSON (or ClickHouse array) text and are masked inside."""
        if self.can_view_pii or not isinstance(text, str) or self.is_pii_key(key):
            return self.value(key, text)
        if text[:1] in ("{", "["):
            return self.json_text(text)
        return self.value(key, text)

    def label(self, key: str, value):
        """A breakdown label: masked like `value`, plus a keyed tag when masking changed it,
        so two different raw values never share a label."""
        shown = self.value(key, value)
        if shown != value and isinstance(value, str):
            return f"{shown} ‹{_tag(self.project_id, value)}›"
        return shown

    def token(self, value: str) -> str:
        """The drill-down key of a value whose label is masked (never the raw value)."""
        return TOKEN_PREFIX + _tag(self.project_id, value)

    def present(self, obj):
        """A result object (a dataclass, dict or list of them) with every field masked:
        `properties` and `person_properties` as property dicts, `distinct_id(s)` as distinct ids,
        other strings as text. Returns the object itself for users who may view PII."""
        if self.can_view_pii:
            return obj
        return self._present(obj, "")

    def _present(self, obj, name: str):
        if name in ("properties", "person_properties") and isinstance(obj, Mapping):
            return self.properties(obj)
        if name == "distinct_id":
            return self.distinct_id(obj)
        if name == "distinct_ids" and isinstance(obj, list | tuple):
            return [self.distinct_id(d) for d in obj]
        if isinstance(obj, str):
            return self.value(name, obj) if name else mask_string(obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            changes = {
                f.name: self._present(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj) if f.init
            }
            return dataclasses.replace(obj, **changes)
        if isinstance(obj, Mapping):
            return {k: self._present(v, str(k)) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._present(v, name) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._present(v, name) for v in obj)
        return obj

    # ---- guards for what a user types (search boxes, filters)
    def guard_key(self, key: str, what: str = "Filtering on") -> None:
        if self.can_view_pii:
            return
        root = str(key).split(".", 1)[0]
        if self.is_pii_key(key) or root in NESTED_PROPERTY_KEYS:
            raise PermissionDenied(
                f"{what} {key!r} needs the view-PII permission: it is a PII property (or holds them), "
                "and your role sees it masked."
            )

    def guard_value(self, value, what: str = "A filter") -> None:
        if self.can_view_pii:
            return
        values = value if isinstance(value, list | tuple) else [value]
        if any("@" in str(v) for v in values if v is not None):
            raise PermissionDenied(
                f"{what} on an e-mail address needs the view-PII permission: your role sees e-mail "
                "addresses masked, so it may not search for them."
            )
        if any(has_pii(str(v)) for v in values if v is not None):
            raise PermissionDenied(
                f"{what} on a phone, card or bank account number needs the view-PII permission: your "
                "role sees them masked, so it may not search for them."
            )


# ------------------------------------------------------------------ the current viewer
_current: contextvars.ContextVar[Presenter | None] = contextvars.ContextVar("sextant_presenter", default=None)


def current() -> Presenter | None:
    """The Presenter of the request being served (None outside a gated request: tasks, shell)."""
    return _current.get()


@contextlib.contextmanager
def viewing(presenter: Presenter):
    token = _current.set(presenter)
    try:
        yield presenter
    finally:
        _current.reset(token)


@contextlib.contextmanager
def stored():
    """Parse what was stored (a saved insight, a cohort definition), not what this user typed:
    its filters were checked when they were saved, by the user who saved them."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def masked_viewer() -> bool:
    """Whether the current request's user sees PII masked."""
    presenter = current()
    return presenter is not None and not presenter.can_view_pii
