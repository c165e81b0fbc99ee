"""Reading the governance pages' HTML in tests with the stdlib parser."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Collector(HTMLParser):
    """Text of the elements matching (tag, attr, value), and every form's action and fields."""

    def __init__(self, attr: str | None = None, value: str | None = None):
        super().__init__(convert_charrefs=True)
        self.attr, self.value = attr, value
        self.depth = 0
        self.texts: list[str] = []
        self.current: list[str] = []
        self.forms: list[dict] = []
        self.options: dict[str, list[tuple[str, str, bool]]] = {}
        self._select: str | None = None
        self._option: tuple[str, bool] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in VOID:
            pass
        elif self.depth:
            self.depth += 1
        elif self.attr and self.value in (a.get(self.attr) or "").split() + [a.get(self.attr)]:
            self.depth = 1
            self.current = []
        if tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}})
        if tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))
        if tag == "select":
            self._select = a.get("aria-label") or a.get("name")
            self.options.setdefault(self._select, [])
        if tag == "option" and self._select is not None:
            self._option = (a.get("value", ""), "selected" in a)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if self.depth and tag not in VOID:
            self.depth -= 1
            if not self.depth:
                self.texts.append(" ".join(" ".join(self.current).split()))

    def handle_data(self, data):
        if self.depth:
            self.current.append(data)
        if self._option is not None and self._select is not None:
            value, selected = self._option
            self.options[self._select].append((value, data.strip(), selected))
            self._option = None


def texts(html: str, attr: str, value: str) -> list[str]:
    """The whitespace-normalised text of each element whose `attr` is (or has the class) `value`."""
    c = _Collector(attr, value)
    c.feed(html)
    return c.texts


def text(html: str, attr: str, value: str) -> str:
    found = texts(html, attr, value)
    assert found, f"no element with {attr}={value!r}"
    return found[0]


def forms(html: str) -> list[dict]:
    c = _Collector()
    c.feed(html)
    return c.forms


def select_options(html: str) -> dict[str, list[tuple[str, str, bool]]]:
    """Each select (by aria-label or name): (value, label, selected) of its options."""
    c = _Collector()
    c.feed(html)
    return c.options
