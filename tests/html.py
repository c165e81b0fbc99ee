"""Assert on a page's structure, not its text: parse a response (or a string) with the
stdlib html.parser into a small element tree and look things up by tag, attributes,
text or a simple CSS selector.

    doc = parse(response)
    doc.find("section", id="results")            # first match or None
    doc.one("form#filters")                      # exactly one match, else AssertionError
    doc.find_all("a", href=True)                 # attribute present
    doc.find_all("tr", class_="row")             # one of the element's classes
    doc.texts("#results td.count")               # whitespace-normalized text of each match
    doc.one("select[name=order]").attrs["name"]
    doc.is_fragment                              # no <html>: an htmx partial

Selectors: `tag`, `#id`, `.class`, `[attr]`, `[attr=value]` (value may be quoted),
combined (`a.nav[href]`), with descendant steps separated by spaces. No other
combinators; a test that needs more walks `children`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}  # fmt: skip
# Elements a parser closes implicitly when a sibling starts (enough for our templates).
IMPLIED_END = {"p", "li", "option", "tr", "td", "th", "dt", "dd"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None = None):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element | str] = []

    def __repr__(self) -> str:
        shown = " ".join(f'{k}="{v}"' for k, v in self.attrs.items())
        return f"<{self.tag}{' ' + shown if shown else ''}>"

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def text(self) -> str:
        """All text inside, whitespace collapsed (script and style included as written)."""
        return " ".join("".join(self._strings()).split())

    def _strings(self) -> Iterator[str]:
        for child in self.children:
            if isinstance(child, str):
                yield child
            else:
                yield " " if child.tag in ("br", "td", "th", "li", "p", "div", "option", "tr") else ""
                yield from child._strings()

    def iter(self) -> Iterator[Element]:
        """Every element below this one, in document order."""
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(
        self, tag: str | None = None, *, text: str | re.Pattern | Callable | None = None, **attrs
    ) -> list[Element]:
        """Elements below this one with that tag (any if None), every given attribute
        (`class_` for a class; True = present; a str is exact; a compiled pattern
        searches), and, if `text` is given, text equal to it (a pattern searches)."""
        wanted = {"class" if k == "class_" else k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.iter() if _matches(e, tag, text, wanted)]

    def find(self, tag: str | None = None, **kw) -> Element | None:
        found = self.find_all(tag, **kw)
        return found[0] if found else None

    def select(self, selector: str) -> list[Element]:
        steps = [_parse_step(s) for s in selector.split()]
        current = [self]
        for step in steps:
            seen, nxt = set(), []
            for root in current:
                for e in root.iter():
                    if id(e) not in seen and _matches(e, *step):
                        seen.add(id(e))
                        nxt.append(e)
            current = nxt
        return current

    def one(self, selector: str) -> Element:
        found = self.select(selector)
        assert len(found) == 1, f"{selector!r}: {len(found)} matches, expected 1"
        return found[0]

    def texts(self, selector: str) -> list[str]:
        return [e.text for e in self.select(selector)]

    def has(self, selector: str) -> bool:
        return bool(self.select(selector))


class Document(Element):
    def __init__(self):
        super().__init__("#document", {})

    @property
    def is_fragment(self) -> bool:
        return self.find("html") is None


def _matches(e: Element, tag, text, attrs: dict) -> bool:
    """`attrs` by their HTML names ("class", "hx-get")."""
    if tag is not None and e.tag != tag:
        return False
    for name, want in attrs.items():
        have = e.attrs.get(name)
        if want is True:
            if have is None:
                return False
        elif have is None:
            return False
        elif name == "class" and isinstance(want, str):
            if not set(want.split()) <= set(have.split()):
                return False
        elif isinstance(want, re.Pattern):
            if not want.search(have):
                return False
        elif have != want:
            return False
    if text is not None:
        if isinstance(text, re.Pattern):
            return bool(text.search(e.text))
        if callable(text):
            return bool(text(e.text))
        return e.text == text
    return True


_STEP = re.compile(r"([a-zA-Z][\w-]*)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:=(\"[^\"]*\"|'[^']*'|[^\]]*))?\]")


def _parse_step(step: str):
    tag, attrs, pos = None, {}, 0
    for m in _STEP.finditer(step):
        assert m.start() == pos, f"unsupported selector {step!r}"
        pos = m.end()
        if m.group(1):
            tag = m.group(1)
        elif m.group(2):
            attrs["id"] = m.group(2)
        elif m.group(3):
            attrs["class"] = f"{attrs.get('class', '')} {m.group(3)}".strip()
        else:
            value = m.group(5)
            attrs[m.group(4)] = True if value is None else value.strip("\"'")
    assert pos == len(step), f"unsupported selector {step!r}"
    return tag, None, attrs


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Document()
        self.open = self.root

    def handle_starttag(self, tag, attrs):
        if tag in IMPLIED_END and self.open.tag == tag:
            self.open = self.open.parent
        element = Element(tag, {k: (v if v is not None else "") for k, v in attrs}, self.open)
        self.open.children.append(element)
        if tag not in VOID:
            self.open = element

    def handle_startendtag(self, tag, attrs):
        element = Element(tag, {k: (v if v is not None else "") for k, v in attrs}, self.open)
        self.open.children.append(element)

    def handle_endtag(self, tag):
        node = self.open
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node is not self.root:  # a stray end tag is ignored
            self.open = node.parent

    def handle_data(self, data):
        self.open.children.append(data)


def parse(response_or_html) -> Document:
    """A Document from a Django test response (its decoded content) or an HTML string."""
    html = response_or_html
    if not isinstance(html, str):
        html = response_or_html.content.decode()
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def form_errors(doc: Element) -> dict[str, str]:
    """{field: message} from the error lists of the shared error partial
    (templates/insights/_error.html: items `<code>field</code>: message` in a
    `[role=alert]` box or a `ul.form-errors`)."""
    errors, seen = {}, set()
    for li in doc.select("[role=alert] li") + doc.select("ul.form-errors li"):
        if id(li) in seen:
            continue
        seen.add(id(li))
        code = li.find("code")
        field = code.text if code is not None else ""
        errors[field] = li.text[len(field) :].removeprefix(":").strip()
    return errors
