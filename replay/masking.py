"""Server-side masking of rrweb recordings for viewers without the view-PII permission.

The capture side already asks posthog-js to mask inputs (and all text when the
project says so), but a site can override that, and older recordings predate
the setting. So what a viewer without ``Permission.VIEW_PII`` receives is masked
here, whatever was captured:

- text: every text node's ``textContent`` (full snapshots, including nested
  children, shadow roots and iframe documents, and nodes that mutations add
  later), every ``texts[]`` change of a mutation, comments;
- inputs: the ``value`` attribute of inputs, textareas and selects (in full
  snapshots and in attribute mutations) and every Input event's ``text``;
- text-bearing attributes: ``placeholder``, ``title``, ``alt``, ``aria-label``,
  ``aria-description``, ``label``, ``content`` (of <meta>);
- console logs (rrweb/console@1): the logged values; URLs in stack traces;
- URLs' query values and fragments: the Meta event's ``href``, ``href``/``src``/
  ``action``/``srcset`` attributes, URLs in custom events (``$url_changed``...),
  network plugin request names.

A mask has the same length as what it hides: every non-whitespace character
becomes ``*`` (so layout and line breaks replay faithfully); in a URL only the
query values and the fragment are masked (parameter names stay: ``?email=*****``).
CSS is never masked (text inside <style>, ``isStyle`` nodes, ``_cssText``,
stylesheet rule events) nor are script placeholders, so the replay still looks
like the page. Masking is deterministic and idempotent, and never raises on
malformed events (what it does not understand passes through unless it is text).
"""

from __future__ import annotations

import re
from typing import Any

from governance import masking

from .format import FULL_SNAPSHOT, INCREMENTAL_SNAPSHOT, META, PLUGIN, SOURCE_MUTATION

CUSTOM = 5
SOURCE_INPUT = 5

MASK = "*"
_NON_SPACE = re.compile(r"\S")
_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)[^\s\"'<>()]+", re.IGNORECASE)

# rrweb-snapshot NodeType
_DOCUMENT, _DOCTYPE, _ELEMENT, _TEXT, _CDATA, _COMMENT = 0, 1, 2, 3, 4, 5

TEXT_ATTRIBUTES = frozenset(
    {"value", "placeholder", "title", "alt", "aria-label", "aria-description", "aria-valuetext", "label"}
)
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "poster", "cite", "data", "ping", "background"}
)
# Elements whose text is code or CSS, not content: masking it would break the replay.
_VERBATIM_PARENTS = frozenset({"style", "script", "noscript"})


# ASCII text (most of it) is masked by str.translate, ~25x faster than the regex.
_ASCII_MASK = str.maketrans({chr(i): MASK for i in range(128) if not chr(i).isspace()})


def mask_text(value: Any) -> Any:
    """Same-length mask keeping whitespace; non-strings pass through."""
    if not isinstance(value, str) or not value:
        return value
    if value.isascii():
        return value.translate(_ASCII_MASK)
    return _NON_SPACE.sub(MASK, value)


def mask_url(value: Any) -> Any:
    """A URL with its query values and its fragment masked (`?a=1&b=xy` -> `?a=*&b=**`),
    same length: the shared URL rule with this module's mask."""
    return masking.mask_url(value, mask_text)


def mask_urls_in_text(value: Any) -> Any:
    """Every URL inside free text (a stack trace line) with its query masked."""
    if not isinstance(value, str) or ("?" not in value and "#" not in value):
        return value
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), value)


def _srcset(value: str) -> str:
    return ", ".join(
        " ".join([mask_url(part.split()[0]), *part.split()[1:]]) if part.split() else part
        for part in value.split(",")
    )


class RecordingMasker:
    """Masks one session's events in order, remembering which nodes hold CSS or code."""

    def __init__(self) -> None:
        self.verbatim_ids: set[int] = set()

    # ----------------------------------------------------------------- events

    def event(self, event: Any) -> Any:
        try:
            return self._event(event)
        except Exception:  # noqa: BLE001 - unknown shapes must not fail a replay; drop their text
            return _scrub(event)

    def _event(self, event: Any) -> Any:
        if not isinstance(event, dict):
            return event
        etype, data = event.get("type"), event.get("data")
        if not isinstance(data, dict):
            # A still-compressed or malformed payload: nothing readable may leak.
            return {**event, "data": _scrub(data)} if isinstance(data, str | list) else event
        if etype == FULL_SNAPSHOT:
            # Node ids restart with every full snapshot (a new page): forget the old ones,
            # so a text node of the new page can never inherit a stylesheet's exemption.
            self.verbatim_ids.clear()
            node = data.get("node")
            return {**event, "data": {**data, "node": self.node(node, None)}}
        if etype == INCREMENTAL_SNAPSHOT:
            return {**event, "data": self.incremental(data)}
        if etype == META:
            return {**event, "data": {**data, "href": mask_url(data.get("href"))}}
        if etype == CUSTOM:
            return {**event, "data": {**data, "payload": _urls_deep(data.get("payload"))}}
        if etype == PLUGIN:
            return {**event, "data": self.plugin(data)}
        return event

    def incremental(self, data: dict) -> dict:
        source = data.get("source")
        if source == SOURCE_MUTATION:
            out = dict(data)
            if isinstance(data.get("adds"), list):
                out["adds"] = [self.add(a) for a in data["adds"]]
            if isinstance(data.get("texts"), list):
                out["texts"] = [self.text_change(t) for t in data["texts"]]
            if isinstance(data.get("attributes"), list):
                out["attributes"] = [self.attribute_change(a) for a in data["attributes"]]
            for key in ("texts", "attributes", "adds"):
                if isinstance(out.get(key), str):  # compressed and undecodable
                    out[key] = []
            return out
        if source == SOURCE_INPUT:
            return {**data, "text": mask_text(data.get("text"))}
        return data

    def plugin(self, data: dict) -> dict:
        name = data.get("plugin")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            return {**data, "payload": _scrub(payload)}
        if name == "rrweb/console@1":
            out = dict(payload)
            if isinstance(payload.get("payload"), list):
                out["payload"] = [_console_value(p) for p in payload["payload"]]
            if isinstance(payload.get("trace"), list):
                out["trace"] = [mask_urls_in_text(t) for t in payload["trace"]]
            return {**data, "payload": out}
        if name == "rrweb/network@1":
            out = dict(payload)
            if isinstance(payload.get("requests"), list):
                out["requests"] = [_network_request(r) for r in payload["requests"]]
            return {**data, "payload": out}
        return {**data, "payload": _scrub(payload)}

    # ------------------------------------------------------------------ nodes

    def node(self, node: Any, parent_tag: str | None) -> Any:
        if not isinstance(node, dict):
            return node
        ntype = node.get("type")
        out = dict(node)
        if ntype in (_TEXT, _CDATA, _COMMENT):
            if node.get("isStyle") or parent_tag in _VERBATIM_PARENTS:
                if isinstance(node.get("id"), int):  # later texts[] changes of it are CSS too
                    self.verbatim_ids.add(node["id"])
            else:
                out["textContent"] = mask_text(node.get("textContent"))
            return out
        tag = None
        if ntype == _ELEMENT:
            tag = str(node.get("tagName") or "").lower()
            if tag in _VERBATIM_PARENTS and isinstance(node.get("id"), int):
                self.verbatim_ids.add(node["id"])
            if isinstance(node.get("attributes"), dict):
                out["attributes"] = self.attributes(node["attributes"], tag)
        children = node.get("childNodes")
        if isinstance(children, list):
            out["childNodes"] = [self.node(child, tag) for child in children]
        return out

    def attributes(self, attrs: dict, tag: str | None) -> dict:
        out = {}
        for name, value in attrs.items():
            key = name.lower() if isinstance(name, str) else name
            if not isinstance(value, str):
                out[name] = value
            elif key in TEXT_ATTRIBUTES or (key == "content" and tag == "meta"):
                out[name] = mask_text(value)
            elif key in URL_ATTRIBUTES:
                out[name] = mask_url(value)
            elif key == "srcset":
                out[name] = _srcset(value)
            else:
                out[name] = value
        return out

    def add(self, add: Any) -> Any:
        if not isinstance(add, dict):
            return add
        parent = "style" if add.get("parentId") in self.verbatim_ids else None
        return {**add, "node": self.node(add.get("node"), parent)}

    def text_change(self, change: Any) -> Any:
        if not isinstance(change, dict) or change.get("id") in self.verbatim_ids:
            return change
        return {**change, "value": mask_text(change.get("value"))}

    def attribute_change(self, change: Any) -> Any:
        if not isinstance(change, dict) or not isinstance(change.get("attributes"), dict):
            return change
        return {**change, "attributes": self.attributes(change["attributes"], None)}


def _console_value(value: Any) -> Any:
    """A logged value (JSON text): masked, keeping the quotes of a logged string."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return '"' + mask_text(value[1:-1]) + '"'
    return mask_text(value) if isinstance(value, str) else _scrub(value)


def _network_request(request: Any) -> Any:
    if not isinstance(request, dict):
        return _scrub(request)
    out = dict(request)
    out["name"] = mask_url(request.get("name"))
    for key in ("requestBody", "responseBody"):
        if key in out:
            out[key] = _scrub(out[key])
    for key in ("requestHeaders", "responseHeaders"):
        if isinstance(out.get(key), dict):
            out[key] = {k: mask_text(v) for k, v in out[key].items()}
    return out


def _urls_deep(value: Any) -> Any:
    """Custom-event payloads: every string that is a URL gets its query masked."""
    if isinstance(value, str):
        return mask_url(value) if value.startswith(("http://", "https://", "/")) else value
    if isinstance(value, dict):
        return {k: _urls_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_urls_deep(v) for v in value]
    return value


def _scrub(value: Any) -> Any:
    """Mask every string inside an unknown value, keeping its shape."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def mask_events(events: list) -> list:
    """One session's rrweb events (decompressed, in time order) masked for a viewer without PII."""
    masker = RecordingMasker()
    return [masker.event(e) for e in events]


def for_presenter(presenter, events: list) -> list:
    """The events as this viewer may see them."""
    return events if presenter.can_view_pii else mask_events(events)
