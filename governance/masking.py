"""The text rules of PII masking: what the PII detectors find in text (e-mail addresses,
phone numbers, card numbers, IBANs) and how it, a URL's query and fragment, or a whole value
look to a user without `view_pii` (docs/access.md, "Masking rules"); and the simple element
selectors replay masking matches (at the end).

Pure functions of text, with no knowledge of projects, users or Django: the Presenter
(`governance.presenter`) applies them to every output, and the domain maskers build on
them (path nodes in `paths/masking.py`, rrweb recordings in `replay/masking.py`). A new
rule about text goes here; a rule about which keys or outputs are masked goes in the
Presenter. This module imports nothing of Sextant's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MASK_CHAR = "•"
# local@domain.tld, not taking the full stop that ends a sentence ("... alice@example.com.").
EMAIL_RE = re.compile(
    r"[^\s@<>\"'(),;:/?&=#\[\]{}]+@[^\s@<>\"'(),;:/?&=#\[\]{}]+\.[^\s@<>\"'(),;:/?&=#\[\]{}]*"
    r"[^\s@<>\"'(),;:/?&=#\[\]{}.]"
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
    """A string as a user without view-PII sees it: URL query values / fragments, and what
    the PII detectors find (e-mail addresses, phone numbers, card numbers, IBANs), masked
    wherever they occur in it."""
    if not text:
        return text
    if "?" in text or "#" in text:
        if text.startswith("?") and " " not in text:  # a bare query string (`$search`, `location.search`)
            text = mask_url(text)
        text = _URL_RE.sub(lambda m: mask_url(m.group(0)), text)
    return mask_pii(text)


# ------------------------------------------------------------------ PII detectors
# Each finds one kind of personal data inside free text. A match is masked where it stands
# (`mask_pii`), the text around it stays readable. They aim at what is clearly PII: a
# near miss (a timestamp, a version, an order id, an IP address) is left alone.

# Payment card numbers: 13-19 digits, optionally grouped by single spaces or dashes, starting
# with an issuer digit 2-6 (Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay/
# Maestro 6: an epoch timestamp in ms starts with 1) and passing the Luhn check.
_CARD_RE = re.compile(r"(?<![\w.\-+/])[2-6](?:[ \-]?\d){12,18}(?![\w]|[.\-/]\d)")

# IBANs: country code, 2 check digits, the BBAN (the length the country's format says),
# printed compact or in groups of four; valid when mod-97 of the rearranged number is 1.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def _iban_pattern() -> re.Pattern:
    """A word starting with a country code and 2 check digits, then exactly as many letters and
    digits (single spaces allowed between them) as that country's IBAN holds, ending at a word's
    end: "DE89 3704 0044 0532 0130 00 thanks" is found without the word after it."""
    by_length: dict[int, list[str]] = {}
    for code, length in IBAN_LENGTHS.items():
        by_length.setdefault(length, []).append(code)
    shapes = "|".join(
        rf"(?:{'|'.join(sorted(codes))})\d{{2}}(?: ?[A-Za-z0-9]){{{length - 4}}}"
        for length, codes in sorted(by_length.items())
    )
    return re.compile(rf"(?<![A-Za-z0-9])(?i:{shapes})(?![A-Za-z0-9])")


_IBAN_RE = _iban_pattern()

# Phone numbers: international (`+` and a country code, 8-15 digits, grouped by spaces,
# dashes, dots or parentheses; 10-15 digits when written without separators), or national
# numbers written the way people write them: `(415) 555-2671`, `415-555-2671`,
# `415.555.2671`, `020 7946 0958`, `06 12 34 56 78`, `0170 1234567`. A plain run of digits
# (an id), a date (`2024-01-15`), a time, a version (`10.0.19045`) or an IP address is none.
_PHONE_RE = re.compile(
    r"(?<![\w+.\-/])(?<!\d )(?:"
    r"\+\d{1,3}(?:[ .\-]?\(\d{1,4}\)|[ .\-]?\d{1,5}){2,6}"  # +44 20 7946 0958, +1 (415) 555-2671
    r"|\(\d{2,5}\)[ \-]?\d{3,4}[ .\-]?\d{3,4}"  # (415) 555-2671
    r"|\d{3}([.\- ])\d{3}\1\d{4}"  # 415-555-2671
    r"|0\d(?: \d\d){4}"  # 06 12 34 56 78
    r"|0\d{2,4} \d{3,4} \d{3,4}"  # 020 7946 0958
    r"|0\d{2,4}[ /\-]\d{6,8}"  # 0170 1234567
    r")(?![\w]|[.\-/:]\d| \d)"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """Country code with its IBAN length, and the ISO 7064 mod-97 check."""
    iban = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _card(m: re.Match) -> bool:
    text = m.group(0)
    digits = text.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or (" " in text and "-" in text):
        return False
    groups = re.split(r"[ \-]", text)
    if len(groups) > 1 and not all(3 <= len(g) <= 6 for g in groups):  # 4 4 4 4, 4 6 5, 4 4 4 4 3
        return False
    return luhn_valid(digits)


def _iban(m: re.Match) -> bool:
    return iban_valid(m.group(0))


def _phone(m: re.Match) -> bool:
    text = m.group(0)
    digits = sum(c.isdigit() for c in text)
    if text.startswith("+"):
        separated = any(c in text for c in " .-(")
        return (8 if separated else 10) <= digits <= 15
    return 9 <= digits <= 12


# (name, pattern, check of a match), in the order they claim text: the digits of an IBAN
# are not also read as a card number, nor a card number as a phone number.
DETECTORS: tuple[tuple[str, re.Pattern, Callable[[re.Match], bool]], ...] = (
    ("email", EMAIL_RE, lambda m: True),
    ("iban", _IBAN_RE, _iban),
    ("card", _CARD_RE, _card),
    ("phone", _PHONE_RE, _phone),
)
# What the number detectors need to match somewhere: a run of 8+ digits and separators; the
# IBAN detector: the start of one. Searched when a cheaper gate (`@`, a run of digits) passes.
_NUMBER_CANDIDATE = re.compile(r"\d[\d \-.()/]{6,}\d")
# Every phone, card number and IBAN holds a run of 6+ digits and separators (an IBAN's
# BBAN a numeric bank or account code).
_DIGIT_RUN = re.compile(r"\d[\d \-.()/]{4,}\d")
_IBAN_CANDIDATE = re.compile(r"[A-Za-z]{2}\d\d ?[A-Za-z0-9]{4}")


def pii_spans(text: str) -> list[tuple[int, int, str]]:
    """Where the detectors find PII in the text: sorted, non-overlapping (start, end, kind)."""
    if not isinstance(text, str) or len(text) < 5:
        return []
    email = "@" in text
    if not email and _DIGIT_RUN.search(text) is None:
        return []  # most text: no detector can match
    numeric = _NUMBER_CANDIDATE.search(text) is not None
    iban = len(text) >= 15 and _IBAN_CANDIDATE.search(text) is not None
    if not (email or numeric or iban):
        return []
    wanted = {"email": email, "iban": iban, "card": numeric, "phone": numeric}
    spans: list[tuple[int, int, str]] = []
    scan = text  # each detector reads the text with what the earlier ones found masked, as the
    # filters' SQL twin does stage by stage (insights/blocks/filters.py), so both agree
    for kind, pattern, check in DETECTORS:
        if not wanted[kind]:
            continue
        found = []
        for m in pattern.finditer(scan):
            start, end = m.span()
            if any(s < end and start < e for s, e, _ in spans) or not check(m):
                continue
            found.append((start, end, kind))
        if found:
            spans.extend(found)
            scan = mask_spans(scan, found, lambda part: MASK_CHAR * len(part))
    return sorted(spans)


def mask_spans(text: str, spans, hide: Callable[[str], str]) -> str:
    """The text with each (start, end, ...) span replaced by `hide` of it."""
    if not spans:
        return text
    out, last = [], 0
    for start, end, *_ in spans:
        out.append(text[last:start])
        out.append(hide(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def mask_pii(text: str, hide: Callable[[str], str] = mask_text) -> str:
    """Every e-mail address, phone number, card number and IBAN in the text hidden by `hide`
    (`mask_text` by default: `•` × its length, at most 12)."""
    if not isinstance(text, str):
        return text
    return mask_spans(text, pii_spans(text), hide)


def has_pii(value) -> bool:
    """Whether a detector finds PII in the value."""
    return isinstance(value, str) and bool(pii_spans(value))


def is_email_like(value) -> bool:
    return isinstance(value, str) and EMAIL_RE.search(value) is not None


# ------------------------------------------------------------------ element selectors
# The simple CSS selectors a project masks replay text with (`Project.replay_mask_selectors`,
# applied by replay/masking.py): a comma-separated list of compound selectors, each a tag
# (or `*`) followed by any number of `#id`, `.class`, `[attr]` and `[attr=value]` (value bare
# or quoted), e.g. `[data-sextant-mask], .ph-sensitive, input.card[name=cc]`. Combinators
# (descendant ` `, `>`, `+`, `~`) and pseudo-classes are not: an element inside a matched
# element is masked anyway, so `.account span` is written `.account`.

MAX_MASK_SELECTORS = 20

_SELECTOR_TOKEN = re.compile(
    r"""\#(?P<id>[\w-]+)
    |\.(?P<cls>[\w-]+)
    |\[\s*(?P<attr>[\w:.-]+)\s*(?:=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\]\s"']+))\s*)?\]""",
    re.VERBOSE,
)
_SELECTOR_TAG = re.compile(r"\*|[A-Za-z][A-Za-z0-9-]*")


@dataclass(frozen=True)
class Selector:
    """One compound selector: a tag (None: any), an id, classes, attributes (value None: present)."""

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


def _compound_selector(text: str) -> Selector:
    pos, tag = 0, None
    m = _SELECTOR_TAG.match(text)
    if m:
        tag = None if m.group(0) == "*" else m.group(0).lower()
        pos = m.end()
    ident, classes, attrs = None, [], []
    while pos < len(text):
        m = _SELECTOR_TOKEN.match(text, pos)
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


def parse_selectors(text: str) -> tuple[Selector, ...]:
    """The selectors of a comma list; ValueError saying what is wrong."""
    parts = [p.strip() for p in (text or "").split(",")]
    parts = [p for p in parts if p]
    if len(parts) > MAX_MASK_SELECTORS:
        raise ValueError(f"At most {MAX_MASK_SELECTORS} selectors.")
    return tuple(_compound_selector(p) for p in parts)


def parse_selectors_lenient(text: str) -> tuple[Selector, ...]:
    """The selectors of a stored setting: a part that does not parse is skipped."""
    out = []
    for part in (text or "").split(","):
        try:
            out.extend(parse_selectors(part))
        except ValueError:
            continue
    return tuple(out)


def selectors_match(selectors, tag: str | None, attrs: dict) -> bool:
    return any(s.matches(tag, attrs) for s in selectors)
