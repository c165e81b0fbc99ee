"""The simple CSS selectors a project masks replay text with (`Project.replay_mask_selectors`).

Supported: a comma-separated list of compound selectors, each a tag (or `*`) followed by any
number of `#id`, `.class`, `[attr]` and `[attr=value]` (value bare or quoted), e.g.
`[data-sextant-mask], .ph-sensitive, input.card[name=cc]`. Combinators (descendant ` `,
`>`, `+`, `~`) and pseudo-classes are not: an element inside a matched element is masked
anyway (replay/masking.py), so `.account span` is written `.account`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SELECTORS = 20

_TOKEN = re.compile(
    r"""\#(?P<id>[\w-]+)
    |\.(?P<cls>[\w-]+)
    |\[\s*(?P<attr>[\w:.-]+)\s*(?:=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\]\s"']+))\s*)?\]""",
    re.VERBOSE,
)
_TAG = re.compile(r"\*|[A-Za-z][A-Za-z0-9-]*")


@dataclass(frozen=True)
class Selector:
    tag: str | None = None
    id: str | None = None
    classes: tuple[str, ...] = ()
    attrs: tuple[tuple[str, str | None], ...] = ()

    def matches(self, tag: str | None, attrs: dict) -> bool:
        if self.tag is not None and self.tag != (tag or ""):
            return False
        if self.id is not None and attrs.get("id") != self.id:
            return False
        if self.classes:
            have = str(attrs.get("class") or "").split()
            if any(c not in have for c in self.classes):
                return False
        for name, value in self.attrs:
            if name not in attrs or (value is not None and str(attrs[name]) != value):
                return False
        return True


def _compound(text: str) -> Selector:
    pos, tag = 0, None
    m = _TAG.match(text)
    if m:
        tag = None if m.group(0) == "*" else m.group(0).lower()
        pos = m.end()
    ident, classes, attrs = None, [], []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            rest = text[pos:]
            if rest[:1].isspace() or rest[:1] in ">+~":
                raise ValueError(f"{text!r}: combinators (descendant, >, +, ~) are not supported.")
            raise ValueError(f"{text!r}: not a simple selector (tag, .class, #id, [attr], [attr=value]).")
        if m.group("id"):
            ident = m.group("id")
        elif m.group("cls"):
            classes.append(m.group("cls"))
        else:
            value = next((v for v in (m.group("dq"), m.group("sq"), m.group("bare")) if v is not None), None)
            attrs.append((m.group("attr").lower(), value))
        pos = m.end()
    if pos == 0 and not text:
        raise ValueError("An empty selector.")
    return Selector(tag, ident, tuple(classes), tuple(attrs))


def parse(text: str) -> tuple[Selector, ...]:
    """The selectors of a comma list; ValueError saying what is wrong."""
    parts = [p.strip() for p in (text or "").split(",")]
    parts = [p for p in parts if p]
    if len(parts) > MAX_SELECTORS:
        raise ValueError(f"At most {MAX_SELECTORS} selectors.")
    return tuple(_compound(p) for p in parts)


def parse_lenient(text: str) -> tuple[Selector, ...]:
    """The selectors of a stored setting: a part that does not parse is skipped."""
    out = []
    for part in (text or "").split(","):
        try:
            out.extend(parse(part))
        except ValueError:
            continue
    return tuple(out)


def matches_any(selectors, tag: str | None, attrs: dict) -> bool:
    return any(s.matches(tag, attrs) for s in selectors)
