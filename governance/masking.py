"""The text rules of PII masking: how an e-mail address, a URL's query and fragment, or a
whole value look to a user without `view_pii` (docs/access.md, "Masking rules").

Pure functions of text, with no knowledge of projects, users or Django: the Presenter
(`governance.presenter`) applies them to every output, and the domain maskers build on
them (path nodes in `paths/masking.py`, rrweb recordings in `replay/masking.py`). A new
rule about text goes here; a rule about which keys or outputs are masked goes in the
Presenter. This module imports nothing of Sextant's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

MASK_CHAR = "•"
EMAIL_RE = re.compile(
    r"[^\s@<>\"'(),;:/?&=#\[\]{}]+@[^\s@<>\"'(),;:/?&=#\[\]{}]+\.[^\s@<>\"'(),;:/?&=#\[\]{}]+"
)
# A URL (scheme://...) or a path (/...) holding a query string or a fragment, inside any text.
_URL_RE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*://|(?<![^\s\"'(=])/)[^\s\"'<>]*[?#][^\s\"'<>]*")
_QUERY_VALUE = re.compile(r"=([^&#]*)")


def mask_text(value) -> str:
    """A whole value hidden: `•` × its length, at most 12."""
    text = "" if value is None else str(value)
    return MASK_CHAR * min(len(text), 12) if text else ""


def mask_all(value):
    """Every leaf of a value masked whole (keys kept, so the shape stays readable)."""
    if isinstance(value, Mapping):
        return {k: mask_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_all(v) for v in value]
    return value if value in (None, "") else mask_text(value)


def _mask_pair(pair: str, hide: Callable[[str], str]) -> str:
    key, sep, value = pair.partition("=")
    return f"{key}{sep}{hide(value)}" if sep else hide(key)


def mask_url(url, mask: str | Callable[[str], str] = MASK_CHAR):
    """`/a?email=jane@x.io&p=2#top` -> `/a?email=•••••••••&p=•#•••`: query values (a key
    without `=` entirely) and the fragment masked, same length; path and names kept.
    `mask` is the mask character, or a function that masks one value keeping its length.
    What is not a string, or has no query or fragment, is returned as it is."""
    if not isinstance(url, str) or ("?" not in url and "#" not in url):
        return url
    hide = mask if callable(mask) else (lambda text: mask * len(text))
    rest, hash_, fragment = url.partition("#")
    base, q, query = rest.partition("?")
    masked_query = "&".join(_mask_pair(p, hide) for p in query.split("&")) if query else ""
    return base + q + masked_query + hash_ + hide(fragment)


def mask_query_values(name: str) -> str:
    """`/search?email=jane@x.com&page=2` -> `/search?email=•••&page=•••` (fixed-width masks,
    for labels such as path nodes)."""
    if "?" not in name:
        return name
    head, query = name.split("?", 1)
    return head + "?" + _QUERY_VALUE.sub(lambda m: "=" + (MASK_CHAR * 3 if m.group(1) else ""), query)


def mask_emails(text: str) -> str:
    """Every e-mail address in the text masked whole (`mask_text`)."""
    if "@" not in text:
        return text
    return EMAIL_RE.sub(lambda m: mask_text(m.group(0)), text)


def mask_string(text: str) -> str:
    """A string as a user without view-PII sees it: URL query values / fragments and
    e-mail addresses masked wherever they occur in it."""
    if not text:
        return text
    if "?" in text or "#" in text:
        if text.startswith("?") and " " not in text:  # a bare query string (`$search`, `location.search`)
            text = mask_url(text)
        text = _URL_RE.sub(lambda m: mask_url(m.group(0)), text)
    return mask_emails(text)


def is_email_like(value) -> bool:
    return isinstance(value, str) and EMAIL_RE.search(value) is not None
