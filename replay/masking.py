"""Server-side masking of rrweb recordings for viewers without the view-PII permission.

The capture side already asks posthog-js to mask inputs (and all text when the
project says so), but a site can override that, and older recordings predate
the setting. So what a viewer without ``Permission.VIEW_PII`` receives is masked
here, whatever was captured, in one of two modes (``Project.replay_text_masking``):

"policy" (the default) masks by the PII policy, so support can read headings,
buttons and error messages while the customer's personal data stays hidden:

- inputs: always (``value`` attributes, Input events' ``text``);
- text nodes, ``texts[]`` changes, comments and text-bearing attributes: where a PII
  detector matches (``governance.masking.pii_spans``: e-mail, phone, card number,
  IBAN) or the recorded person's PII values occur (``person_values``: their e-mail,
  name and every person property that is PII by default or by the tracking plan),
  just the match; URLs' query values and fragments inside them;
- everything inside an element matched by the project's selectors
  (``Project.replay_mask_selectors``, ``governance.masking.parse_selectors``), including children that
  mutations add to it later (node ids are remembered per page);
- console payloads: by the detectors and the person's values;
- URLs (Meta ``href``, URL attributes, custom events, network names): query values
  and fragments, as below.

"all" masks every text, as follows:

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
from urllib.parse import quote

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


POLICY, ALL = "policy", "all"
# <input type=...> whose value is a button's label, not something typed.
_BUTTON_INPUTS = frozenset({"submit", "button", "reset"})
# Attributes never searched for PII under the policy: markup, CSS and rrweb's inlined data.
_MARKUP_ATTRIBUTES = frozenset({"class", "style", "id", "type", "rel", "lang", "dir", "role", "name", "for"})
MIN_PERSON_VALUE = 3  # shorter person values ("Al", "42") would mask every word holding them


def person_pattern(values) -> re.Pattern | None:
    """One case-insensitive pattern finding any of a person's PII values (and their
    URL-encoded forms) as whole words, longest first."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            continue
        text = str(value).strip()
        if len(text) >= MIN_PERSON_VALUE:
            found.add(text)
            found.add(quote(text, safe=""))
    if not found:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(found, key=len, reverse=True))
    # Whole words: a person called "Ann" does not mask "Annual".
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


class RecordingMasker:
    """Masks one session's events in order, remembering which nodes hold CSS or code and,
    under the policy, which nodes sit inside a masked element."""

    def __init__(self, mode: str = ALL, selectors=(), person_values=()) -> None:
        self.policy = mode == POLICY
        self.selectors = tuple(selectors)
        self.person = person_pattern(person_values)
        self.verbatim_ids: set[int] = set()
        self.masked_ids: set[int] = set()
        self.tags: dict[int, str] = {}

    # ------------------------------------------------------------ the policy's text rule

    def pii_text(self, value: Any) -> Any:
        """Under the policy: the person's values, what the detectors find and URLs' query
        values masked in place, same length; the rest kept."""
        if not isinstance(value, str) or not value:
            return value
        for _ in range(32):  # again while it changes: a mask can expose a match (`***@x.io`)
            shown = value
            if self.person is not None:
                shown = self.person.sub(lambda m: mask_text(m.group(0)), shown)
            shown = mask_urls_in_text(masking.mask_pii(shown, mask_text))
            if shown == value:
                break
            value = shown
        return value

    def text(self, value: Any, node_id: Any = None, masked: bool = False) -> Any:
        """A text node's content (or a texts[] change) as this viewer sees it."""
        if not self.policy or masked or node_id in self.masked_ids:
            return mask_text(value)
        return self.pii_text(value)

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
            self.masked_ids.clear()
            self.tags.clear()
            node = data.get("node")
            return {**event, "data": {**data, "node": self.node(node, None)}}
        if etype == INCREMENTAL_SNAPSHOT:
            return {**event, "data": self.incremental(data)}
        if etype == META:
            return {**event, "data": {**data, "href": self.url(data.get("href"))}}
        if etype == CUSTOM:
            payload = _strings_deep(_urls_deep(data.get("payload")), self.pii_text)
            return {**event, "data": {**data, "payload": payload}}
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

    def url(self, value: Any) -> Any:
        """A URL: query values and fragment masked; under the policy, the person's values and
        what the detectors find in the rest (an e-mail in a path) too."""
        value = mask_url(value)
        return self.pii_text(value) if self.policy else value

    def plugin(self, data: dict) -> dict:
        name = data.get("plugin")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            return {**data, "payload": _scrub(payload)}
        if name == "rrweb/console@1":
            out = dict(payload)
            if isinstance(payload.get("payload"), list):
                if self.policy:
                    out["payload"] = [_strings_deep(p, self.pii_text) for p in payload["payload"]]
                else:
                    out["payload"] = [_console_value(p) for p in payload["payload"]]
            if isinstance(payload.get("trace"), list):
                trace = [mask_urls_in_text(t) for t in payload["trace"]]
                out["trace"] = [self.pii_text(t) for t in trace] if self.policy else trace
            return {**data, "payload": out}
        if name == "rrweb/network@1":
            out = dict(payload)
            if isinstance(payload.get("requests"), list):
                out["requests"] = [_network_request(r) for r in payload["requests"]]
            return {**data, "payload": out}
        return {**data, "payload": _scrub(payload)}

    # ------------------------------------------------------------------ nodes

    def node(self, node: Any, parent_tag: str | None, masked: bool = False) -> Any:
        """A node and its subtree; `masked`: it sits inside an element the selectors match."""
        if not isinstance(node, dict):
            return node
        ntype = node.get("type")
        node_id = node.get("id")
        out = dict(node)
        if ntype in (_TEXT, _CDATA, _COMMENT):
            if node.get("isStyle") or parent_tag in _VERBATIM_PARENTS:
                if isinstance(node_id, int):  # later texts[] changes of it are CSS too
                    self.verbatim_ids.add(node_id)
            else:
                if masked and isinstance(node_id, int):  # later texts[] changes of it too
                    self.masked_ids.add(node_id)
                out["textContent"] = self.text(node.get("textContent"), masked=masked)
            return out
        tag = None
        if ntype == _ELEMENT:
            tag = str(node.get("tagName") or "").lower()
            attrs = node.get("attributes") if isinstance(node.get("attributes"), dict) else {}
            if isinstance(node_id, int):
                if tag in _VERBATIM_PARENTS:
                    self.verbatim_ids.add(node_id)
                if self.policy:
                    self.tags[node_id] = tag
            if (
                self.policy
                and not masked
                and self.selectors
                and masking.selectors_match(self.selectors, tag, attrs)
            ):
                masked = True
            if masked and isinstance(node_id, int):
                self.masked_ids.add(node_id)
            if isinstance(node.get("attributes"), dict):
                out["attributes"] = self.attributes(node["attributes"], tag, masked)
        children = node.get("childNodes")
        if isinstance(children, list):
            out["childNodes"] = [self.node(child, tag, masked) for child in children]
        return out

    def attributes(self, attrs: dict, tag: str | None, masked: bool = False) -> dict:
        out = {}
        policy = self.policy and not masked
        for name, value in attrs.items():
            key = name.lower() if isinstance(name, str) else name
            if not isinstance(value, str):
                out[name] = value
            elif key in TEXT_ATTRIBUTES or (key == "content" and tag == "meta"):
                if not policy:
                    out[name] = mask_text(value)
                elif key == "value" and not (
                    tag == "input" and str(attrs.get("type", "")).lower() in _BUTTON_INPUTS
                ):
                    out[name] = mask_text(value)  # an input's value: always
                else:
                    out[name] = self.pii_text(value)
            elif key in URL_ATTRIBUTES:
                out[name] = self.url(value)
            elif key == "srcset":
                out[name] = _srcset(value)
            elif (
                key not in _MARKUP_ATTRIBUTES
                and not (isinstance(key, str) and key.startswith("rr_"))
                and not value.startswith("data:")
            ):
                out[name] = self.pii_text(value)  # data-* and other attributes holding text
            else:
                out[name] = value
        return out

    def add(self, add: Any) -> Any:
        if not isinstance(add, dict):
            return add
        parent_id = add.get("parentId")
        parent = "style" if parent_id in self.verbatim_ids else self.tags.get(parent_id)
        return {**add, "node": self.node(add.get("node"), parent, parent_id in self.masked_ids)}

    def text_change(self, change: Any) -> Any:
        if not isinstance(change, dict) or change.get("id") in self.verbatim_ids:
            return change
        return {**change, "value": self.text(change.get("value"), change.get("id"))}

    def attribute_change(self, change: Any) -> Any:
        if not isinstance(change, dict) or not isinstance(change.get("attributes"), dict):
            return change
        node_id, attrs = change.get("id"), change["attributes"]
        tag = self.tags.get(node_id)
        if (
            self.policy
            and self.selectors
            and isinstance(node_id, int)
            and node_id not in self.masked_ids
            and masking.selectors_match(
                self.selectors, tag, {k: v for k, v in attrs.items() if v is not None}
            )
        ):
            # An element that starts matching (a class added): its text from now on. Text it
            # already showed was sent with the events before.
            self.masked_ids.add(node_id)
        return {**change, "attributes": self.attributes(attrs, tag, node_id in self.masked_ids)}


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


def _strings_deep(value: Any, fn) -> Any:
    """Every string inside a value through fn, keeping its shape."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _strings_deep(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings_deep(v, fn) for v in value]
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


def mask_events(events: list, mode: str = ALL, selectors=(), person_values=()) -> list:
    """One session's rrweb events (decompressed, in time order) masked for a viewer without PII
    (every text by default; by the PII policy with mode="policy")."""
    masker = RecordingMasker(mode, selectors, person_values)
    return [masker.event(e) for e in events]


def for_presenter(presenter, events: list, mode: str = ALL, selectors=(), person_values=()) -> list:
    """The events as this viewer may see them."""
    return events if presenter.can_view_pii else mask_events(events, mode, selectors, person_values)


def masker_for(project, session_id: str, presenter) -> RecordingMasker | None:
    """The masker of one session for this viewer (None: they may see everything): the
    project's mode and selectors, and the recorded person's PII values (looked up once)."""
    if presenter.can_view_pii:
        return None
    mode = getattr(project, "replay_text_masking", POLICY) or POLICY
    values = person_values(project, session_id, presenter)
    if mode != POLICY:
        return RecordingMasker(ALL, (), values)
    selectors = masking.parse_selectors_lenient(getattr(project, "replay_mask_selectors", "") or "")
    return RecordingMasker(POLICY, selectors, values)


def person_values(project, session_id: str, presenter) -> list[str]:
    """The recorded person's PII values: the value of every person property that is PII for
    this project (built-in defaults and the tracking plan's pii/sensitive classes: e-mail,
    name...), and their distinct ids that are e-mail addresses."""
    from .summary import summary  # noqa: PLC0415

    found = summary(project, session_id)
    if not found:
        return []
    values: list = []
    distinct_ids = [found.get("distinct_id") or ""]
    person_id = found.get("person_id")
    if person_id and str(person_id) != "00000000-0000-0000-0000-000000000000":
        from explorer.queries import PersonQueryRunner  # noqa: PLC0415

        person = PersonQueryRunner(project, person_id).run()
        if person is not None:
            distinct_ids += list(person.distinct_ids)
            for key, value in person.properties.items():
                if presenter.is_pii_key(key):
                    values.extend(_leaves(value))
    values += [d for d in distinct_ids if masking.is_email_like(d)]
    return values


def _leaves(value: Any) -> list:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]
