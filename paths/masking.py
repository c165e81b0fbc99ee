"""PII masking of path nodes (docs/paths.md, "PII").

A node is a URL path ($current_url), a screen name ($screen_name) or an event name, and
the first two can carry PII (`/users/jane@example.com`, a screen named after a person).
Every node label that leaves the server (page, Sankey, tables, JSON API, drill-down)
goes through a NodeMasker built from the request's Presenter:

- users with VIEW_PII see nodes as they are;
- otherwise a node that came (in this result) from a source property classified PII
  for the project — `$current_url` for page views, `$screen_name` for screens — is
  replaced entirely, and in every other node the values of a query string
  (`?email=jane@x.com`) and what the PII detectors find (e-mail addresses, phone, card
  and IBAN numbers: `/users/jane@x.com`, a screen `Call +44 20 7946 0958`) are masked.

A masked label carries a tag: a keyed hash (HMAC with the server's SECRET_KEY, per
project) of the raw node, e.g. `•••••••• ‹3fa9c1d2›` or `/search?email=••• ‹77b0e1aa›`.
So the same raw node always gets the same label (on every page, in every request), and
two different raw nodes never merge into one label: the counts, edges and drop-off
of a masked result are exactly those of the unmasked one, only the names differ. The
tag cannot be reversed without the key; the drill-down resolves a masked node back to
the raw one on the server by re-running the query (`resolve`).

Which source a node came from is computed by the query (a bit set per node: 1 page view,
2 screen, 4 other event); a name without bits is treated as possibly PII when a masked
source is among the query's event types (masking too much, never too little).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from governance.masking import MASK_CHAR, mask_pii, mask_query_values

from .spec import PAGEVIEW, SCREEN

KIND_PAGEVIEW, KIND_SCREEN, KIND_EVENT = 1, 2, 4
SOURCE_PROPERTY = {KIND_PAGEVIEW: "$current_url", KIND_SCREEN: "$screen_name"}
FULL_MASK = MASK_CHAR * 8


def _tag(project_id: int, raw: str) -> str:
    key = hmac.new(
        settings.SECRET_KEY.encode(), f"paths-node-mask:{project_id}".encode(), hashlib.sha256
    ).digest()
    return hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:8]


class NodeMasker:
    """Maps raw node names (and step-prefixed nodes `2_/x`) to what this user may see."""

    def __init__(
        self, presenter, project_id: int, include_event_types=(), kinds: dict[str, int] | None = None
    ):
        self.project_id = project_id
        self.kinds: dict[str, int] = dict(kinds or {})
        self.active = presenter is not None and not presenter.can_view_pii
        masked_bits = 0
        if self.active:
            for bit, prop in SOURCE_PROPERTY.items():
                if presenter.is_masked(prop):
                    masked_bits |= bit
        self.masked_bits = masked_bits
        # Bits assumed for a name the query did not report (conservative).
        unknown = 0
        types = set(include_event_types)
        if PAGEVIEW in types:
            unknown |= KIND_PAGEVIEW
        if SCREEN in types:
            unknown |= KIND_SCREEN
        self.unknown_bits = unknown

    def add_kinds(self, kinds: dict[str, int]) -> None:
        for name, bits in kinds.items():
            self.kinds[name] = self.kinds.get(name, 0) | bits

    def is_hidden(self, name: str) -> bool:
        """The whole name is masked (it came from a PII source property)."""
        return self.active and bool(self.kinds.get(name, self.unknown_bits) & self.masked_bits)

    def name(self, name: str) -> str:
        if not self.active or name == "":
            return name
        if self.is_hidden(name):
            return f"{FULL_MASK} ‹{_tag(self.project_id, name)}›"
        shown = mask_pii(mask_query_values(name))
        return shown if shown == name else f"{shown} ‹{_tag(self.project_id, name)}›"

    def node(self, node: str) -> str:
        if not self.active or "_" not in node:
            return node
        step, name = node.split("_", 1)
        return f"{step}_{self.name(name)}"

    def changes(self, name: str) -> bool:
        return self.name(name) != name


def node_kinds(rows, column: str = "kinds", key: str = "source") -> dict[str, int]:
    """name -> kind bits from result rows keyed by step-prefixed node."""
    out: dict[str, int] = {}
    for r in rows:
        node = r[key]
        if not node or "_" not in node:
            continue
        name = node.split("_", 1)[1]
        out[name] = out.get(name, 0) | int(r[column])
    return out
