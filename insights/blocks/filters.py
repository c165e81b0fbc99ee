"""Property filters on event properties, person properties and cohort membership.

A filter is `{"key", "operator", "value", "type": "event"|"person"|"cohort"}`.

Semantics (the Python reference in tests/insights/reference.py implements the same):
- A property's text is its string value, or the JSON text of a number/boolean
  (`42`, `1.5`, `true`); a missing property (or JSON null) has text "" and is "not set".
- `exact` / `is_not`: value may be one scalar or a list (any of). Numbers compare as
  numbers (42 matches 42, 42.0 and "42"); other values compare as text.
- `icontains` / `not_icontains`: case-insensitive substring of the text.
- `regex` / `not_regex`: RE2 match anywhere in the text.
- `gt`, `gte`, `lt`, `lte`: numeric; a property whose text is not a number never matches.
- `is_set` / `is_not_set`: present and not null.
Negative operators (`is_not`, `not_icontains`, `not_regex`) match events that lack
the property, as PostHog does.

PII (docs/access.md, "Search and filters"): for a user who sees PII masked, a filter
on a PII key (or `$set` / `$set_once`) or with an e-mail address in its value is
refused (403), and every other filter is evaluated on the text as that user sees it
(`masked=True`, `masked_text_sql`: the SQL twin of governance.masking.mask_string — URL
query values and fragments, e-mail addresses, IBANs with their mod-97 check, card numbers
with their Luhn check, phone numbers — with the same masks, so a value the user saw matches
with `exact`), so a filter can never confirm a value the user cannot read. Phone numbers are
masked as a superset there (RE2 has no lookbehind: `PHONE_RUN_RE`), and an event property
holding an array compares as "" (as objects, and person properties' arrays, do).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from dataclasses import dataclass

from analytics_app.clickhouse import params
from analytics_app.errors import BadRequest
from cohorts.membership import cohort_condition
from governance import masking, presenter

from .builder import SQLBuilder

OPERATORS = [
    "exact",
    "is_not",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
]
FILTER_TYPES = ["event", "person", "cohort"]
COHORT_OPERATORS = ["in", "not_in", "exact", "is_not"]
MAX_KEY_LENGTH = 400
MAX_FILTERS = 50


@dataclass(frozen=True)
class PropertyFilter:
    key: str
    operator: str = "exact"
    value: object = None
    type: str = "event"
    # Evaluated on the masked text (set at parse time for a viewer without view-PII; not in to_json).
    masked: bool = dataclasses.field(default=False, compare=False)

    @property
    def values(self) -> list:
        if self.value is None:
            return []
        return list(self.value) if isinstance(self.value, list | tuple) else [self.value]

    def to_json(self) -> dict:
        out = {"key": self.key, "operator": self.operator, "value": self.value, "type": self.type}
        if self.masked:  # kept when saved or shared, so the filter stays one on the masked text
            out["masked"] = True
        return out


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def as_number(value) -> float | None:
    """A filter value as a number, if it is one (or a numeric string)."""
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_filter(raw, where: str) -> PropertyFilter:
    f = _parse_filter(raw, where)
    if f.type != "cohort" and raw.get("masked") is True:  # saved by a user who sees PII masked
        f = dataclasses.replace(f, masked=True)
    viewer = presenter.current()
    if viewer is None or viewer.can_view_pii or f.type == "cohort":
        return f
    if f.operator not in ("is_set", "is_not_set"):
        viewer.guard_key(f.key)
        viewer.guard_value(f.value)
    return dataclasses.replace(f, masked=True)


def _parse_filter(raw, where: str) -> PropertyFilter:
    if not isinstance(raw, dict):
        raise BadRequest(
            "Invalid property filter.",
            {where: "each filter must be an object with key, operator, value, type"},
        )
    ftype = raw.get("type", "event")
    operator = raw.get("operator", "exact")
    key = raw.get("key")
    value = raw.get("value")
    if ftype not in FILTER_TYPES:
        raise BadRequest("Invalid property filter.", {where: f"type must be one of {FILTER_TYPES}"})
    if ftype == "cohort":
        if isinstance(value, str) and value.strip().isdigit():  # a builder form's field
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest("Invalid property filter.", {where: "a cohort filter's value is the cohort id"})
        if operator not in COHORT_OPERATORS:
            raise BadRequest("Invalid property filter.", {where: "cohort filters take operator in or not_in"})
        # The key means nothing to a cohort filter (a builder row submits the cohort's name there).
        return PropertyFilter(key="id", operator=operator, value=value, type=ftype)
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            "Invalid property filter.",
            {where: f"key must be a non-empty string of at most {MAX_KEY_LENGTH} characters"},
        )
    if operator not in OPERATORS:
        raise BadRequest("Invalid property filter.", {where: f"operator must be one of {OPERATORS}"})
    if operator in ("is_set", "is_not_set"):
        return PropertyFilter(key, operator, None, ftype)
    values = value if isinstance(value, list) else [value]
    if not values or any(v is None or isinstance(v, dict | list) for v in values):
        raise BadRequest(
            "Invalid property filter.",
            {where: f"{operator} needs a value (a string, number, boolean, or a list of them)"},
        )
    if operator in ("gt", "gte", "lt", "lte"):
        if isinstance(value, list) or as_number(value) is None:
            raise BadRequest("Invalid property filter.", {where: f"{operator} needs one number"})
    elif operator in ("icontains", "not_icontains", "regex", "not_regex"):
        if isinstance(value, list) or isinstance(value, bool):
            raise BadRequest("Invalid property filter.", {where: f"{operator} needs one string"})
        value = str(value)
        if operator in ("regex", "not_regex"):
            try:
                re.compile(value)
            except re.error as exc:
                raise BadRequest(
                    "Invalid property filter.", {where: f"not a valid regular expression: {exc}"}
                ) from None
    return PropertyFilter(key, operator, value, ftype)


def parse_filters(raw, where: str = "properties") -> tuple[PropertyFilter, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise BadRequest("Invalid property filters.", {where: "must be a list of filters"})
    if len(raw) > MAX_FILTERS:
        raise BadRequest("Invalid property filters.", {where: f"at most {MAX_FILTERS} filters"})
    return tuple(parse_filter(item, f"{where}[{i}]") for i, item in enumerate(raw))


# ------------------------------------------------------------------ SQL
# Hot event properties with a materialized String column on `events` (migration 0001):
# reading it is ~4-15x faster than getSubcolumn(properties, <bound path>) on 10M rows
# (bench/bench_trends.py). Same text semantics: the value as text, "" when missing/null.
MATERIALIZED_EVENT_COLUMNS = {
    "$current_url": "mat_current_url",
    "$pathname": "mat_pathname",
    "$browser": "mat_browser",
    "$os": "mat_os",
    "$device_type": "mat_device_type",
}


def event_value_sql(b: SQLBuilder, key: str, props_sql: str = "properties") -> str:
    """An event property's value (Dynamic, NULL when missing): the JSON column's sub-column,
    named by the key bound as an `Identifier` parameter. ClickHouse substitutes the parameter
    when it parses the query, as one identifier part whatever its characters, so only that
    sub-column is read: `getSubcolumn(properties, <bound String>)` gives the same values but
    reads the whole JSON column, 3.4 s CPU against 0.58 s to read one key over 7.5M events
    (docs/clickhouse.md). ClickHouse does not unescape an Identifier's text as it does a
    String's (analytics_app/clickhouse/params.py), so a key holding a character that binding
    escapes, and the empty key (no identifier), are read with getSubcolumn."""
    if not key or any(c in params.ESCAPED for c in key):
        return f"getSubcolumn({props_sql}, {b.bind(key, 'String')})"
    return f"{props_sql}.{b.bind(key, 'Identifier')}"


def event_text_sql(b: SQLBuilder, key: str, props_sql: str = "properties") -> tuple[str, str]:
    """(text expression, is-set expression) of an event property (native JSON column)."""
    return _event_text(event_value_sql(b, key, props_sql), key, props_sql)


def _event_text(raw: str, key: str, props_sql: str = "properties") -> tuple[str, str]:
    """event_text_sql's expressions over `raw`, the property's event_value_sql."""
    if props_sql == "properties" and key in MATERIALIZED_EVENT_COLUMNS:
        return MATERIALIZED_EVENT_COLUMNS[key], f"({raw} IS NOT NULL)"
    return f"toString({raw})", f"({raw} IS NOT NULL)"


def person_text_sql(b: SQLBuilder, key: str, props_sql: str = "person_properties") -> tuple[str, str]:
    """(text expression, is-set expression) of a person property (JSON string column)."""
    k = b.bind(key, "String")
    text = (
        f"multiIf(JSONType({props_sql}, {k}) = 'String', JSONExtractString({props_sql}, {k}), "
        f"JSONType({props_sql}, {k}) IN ('Null', 'Object', 'Array'), '', JSONExtractRaw({props_sql}, {k}))"
    )
    is_set = f"(JSONHas({props_sql}, {k}) AND JSONType({props_sql}, {k}) != 'Null')"
    return text, is_set


# The SQL twin of governance.masking.mask_string, for the filters of viewers without view-PII
# (`masked_text_sql`). Each stage cuts the text into tokens with extractAllGroupsVertical
# ((prefix, boundary, match, context) per match: RE2 has no lookbehind or lookahead, so the
# character before a match and the one after it are captured as groups and checked) and
# renders every match as Python does. Patterns and constants are bound as parameters.
_MASK = masking.MASK_CHAR
_names = itertools.count()  # unique lambda variable names
# Python's `\s` (str.isspace) and `\w` (str.isalnum or `_`), which RE2 reads as ASCII only.
_WS = r"\s\x{0B}\x{1C}-\x{1F}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
_W = r"\pL\pN_"
# masking._URL_RE: a scheme URL, or a path after the start, a space, a quote, `(` or `=`.
_URL_TOKEN = (
    rf"(?:(^|[{_WS}\"'(=])(/[^{_WS}\"'<>]*[?#][^{_WS}\"'<>]*)"
    rf"|()([A-Za-z][A-Za-z0-9+.\-]*://[^{_WS}\"'<>]*[?#][^{_WS}\"'<>]*))"
)
# masking.EMAIL_RE
_EMAIL_FORBIDDEN = rf"{_WS}@<>\"'(),;:/?&=#\[\]{{}}"
_EMAIL_TOKEN = (
    rf"()([^{_EMAIL_FORBIDDEN}]+@[^{_EMAIL_FORBIDDEN}]+\.[^{_EMAIL_FORBIDDEN}]*[^{_EMAIL_FORBIDDEN}.])"
)
# masking._IBAN_RE: a run of words (alphanumerics, single spaces) starting with a country code
# and two digits; Python's match is a prefix of the run ending at a word's end (its lookahead).
_IBAN_TOKEN = r"(^|[^A-Za-z0-9])([A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9])*)"
_IBAN_START = r"^[A-Za-z]{2}[0-9]{2}"
# masking._CARD_RE: a run of digits grouped by single spaces or dashes starting with 2-6, and
# what follows it when that fails the lookahead (a word character, or `.`, `-`, `/` and a digit).
_CARD_TOKEN = rf"(^|[^{_W}.\-+/])([2-6](?:[ \-]?[0-9])*)((?:[{_W}]|[.\-/][0-9])?)"
_CARD_START = r"^[2-6]"
# masking._PHONE_RE has lookarounds and backtracking that RE2 cannot follow, so phones are
# masked as a superset: a whole run of phone characters (digits, spaces, `+().-/`), after a
# character that is not a word character nor `+.-/`, holding 8+ digits and a match of one of
# the phone shapes, is masked whole (`PHONE_RUN_RE` / `PHONE_SHAPE_RE` in Python, for the tests).
PHONE_RUN_RE = r"[+(0-9](?:[0-9 .\-()/+]*[0-9)])?"
PHONE_SHAPE_RE = (
    r"\+[0-9]{1,3}(?:[ .\-]?\([0-9]{1,4}\)|[ .\-]?[0-9]{1,5}){2,6}"
    r"|\([0-9]{2,5}\)[ \-]?[0-9]{3,4}[ .\-]?[0-9]{3,4}"
    r"|[0-9]{3}\.[0-9]{3}\.[0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4}|[0-9]{3} [0-9]{3} [0-9]{4}"
    r"|0[0-9](?: [0-9][0-9]){4}"
    r"|0[0-9]{2,4} [0-9]{3,4} [0-9]{3,4}"
    r"|0[0-9]{2,4}[ /\-][0-9]{6,8}"
)
_PHONE_TOKEN = rf"(^|[^{_W}+.\-/])({PHONE_RUN_RE})"
# Cheap gates (masking's own): a stage runs only on a text that may hold what it masks.
_URL_GATE = r"[?#]"
_DIGIT_GATE = r"[0-9][0-9 \-.()/]{6,}[0-9]"
_IBAN_GATE = r"[A-Za-z]{2}[0-9][0-9] ?[A-Za-z0-9]{4}"
_IBAN_CODES = sorted(masking.IBAN_LENGTHS)


def _let(value: str, body) -> str:
    """`body(name)` with `value` computed once (a one-element arrayMap)."""
    name = f"v{next(_names)}"
    return f"arrayMap({name} -> {body(name)}, [{value}])[1]"


def _hide(b: SQLBuilder, text: str) -> str:
    """masking.mask_text: `•` × the length, at most 12."""
    return f"repeat({b.bind(_MASK, 'String')}, least(lengthUTF8({text}), 12))"


def _hide_same_length(b: SQLBuilder, text: str) -> str:
    return f"repeat({b.bind(_MASK, 'String')}, lengthUTF8({text}))"


def _tokens_sql(b: SQLBuilder, text: str, token: str, render) -> str:
    """`text` with every match of `token` (groups after the prefix: a list `g`, 2-based)
    replaced by `render(g)`; the text after the last match kept."""
    pattern = b.bind("(?s)(.*?)" + token, "String")

    def body(t):
        g = f"g{next(_names)}"
        x = f"x{next(_names)}"

        def over(groups):
            pieces = f"arrayMap({g} -> concat({g}[1], {render(g)}), {groups})"
            used = f"arraySum(arrayMap({g} -> arraySum(arrayMap({x} -> length({x}), {g})), {groups}))"
            return f"concat(arrayStringConcat({pieces}), substring({t}, {used} + 1))"

        return _let(f"extractAllGroupsVertical({t}, {pattern})", over)

    return _let(text, body)


def _gated(b: SQLBuilder, text: str, gate: str, stage) -> str:
    return _let(text, lambda t: f"if(match({t}, {b.bind(gate, 'String')}), {stage(t)}, {t})")


def _mask_url_sql(b: SQLBuilder, url: str) -> str:
    """masking.mask_url of a URL holding `?` or `#` (query values, a key without `=`, and the
    fragment masked, same length); "" stays ""."""

    def body(u):
        hash_at = f"position({u}, '#')"
        rest = f"if({hash_at} > 0, substring({u}, 1, {hash_at} - 1), {u})"
        fragment = f"if({hash_at} > 0, substring({u}, {hash_at} + 1), '')"

        def rest_body(r):
            q_at = f"position({r}, '?')"
            base = f"if({q_at} > 0, substring({r}, 1, {q_at} - 1), {r})"
            query = f"if({q_at} > 0, substring({r}, {q_at} + 1), '')"
            pair = f"p{next(_names)}"
            eq = f"position({pair}, '=')"
            masked_pair = (
                f"if({eq} > 0, concat(substring({pair}, 1, {eq}), {_hide_same_length(b, f'substring({pair}, {eq} + 1)')}), "
                f"{_hide_same_length(b, pair)})"
            )
            masked_query = (
                f"arrayStringConcat(arrayMap({pair} -> {masked_pair}, splitByChar('&', {query})), '&')"
            )
            return f"concat({base}, if({q_at} > 0, '?', ''), {masked_query})"

        return (
            f"if({u} = '', '', concat({_let(rest, rest_body)}, if({hash_at} > 0, '#', ''), "
            f"{_hide_same_length(b, fragment)}))"
        )

    return _let(url, body)


def _luhn_sql(digits: str) -> str:
    rev = f"reverse({digits})"
    i = f"i{next(_names)}"
    return (
        f"(arraySum(arrayMap({i} -> multiIf({i} % 2 = 1, ascii(substring({rev}, {i}, 1)) - 48, "
        f"ascii(substring({rev}, {i}, 1)) > 52, (ascii(substring({rev}, {i}, 1)) - 48) * 2 - 9, "
        f"(ascii(substring({rev}, {i}, 1)) - 48) * 2), range(1, length({rev}) + 1))) % 10 = 0)"
    )


def _card_ok_sql(m: str) -> str:
    """masking._card of a match: one kind of separator, groups of 3-6 digits, Luhn."""
    digits = f"replaceRegexpAll({m}, '[ \\\\-]', '')"
    x = f"x{next(_names)}"
    groups = f"splitByRegexp('[ \\\\-]', {m})"
    return (
        f"(NOT (position({m}, ' ') > 0 AND position({m}, '-') > 0) "
        f"AND (length({groups}) = 1 OR arrayAll({x} -> length({x}) BETWEEN 3 AND 6, {groups})) "
        f"AND {_luhn_sql(digits)})"
    )


def _iban_ok_sql(b: SQLBuilder, m: str) -> str:
    """masking.iban_valid: the country's length, and mod 97 of the rearranged number is 1."""

    acc, i = f"a{next(_names)}", f"i{next(_names)}"

    def body(c):
        length = (
            f"arrayElement({b.bind(list(masking.IBAN_LENGTHS[k] for k in _IBAN_CODES), 'Array(UInt8)')}, "
            f"indexOf({b.bind(_IBAN_CODES, 'Array(String)')}, substring({c}, 1, 2)))"
        )
        r = f"concat(substring({c}, 5), substring({c}, 1, 4))"
        mod = (
            f"arrayFold(({acc}, {i}) -> toUInt64(if(ascii(substring({r}, {i}, 1)) < 58, "
            f"({acc} * 10 + (ascii(substring({r}, {i}, 1)) - 48)) % 97, "
            f"({acc} * 100 + (ascii(substring({r}, {i}, 1)) - 55)) % 97)), "
            f"range(1, length({r}) + 1), toUInt64(0))"
        )
        return f"({length} = length({c}) AND {mod} = 1)"

    return _let(f"upper(replaceAll({m}, ' ', ''))", body)


def _words_sql(b: SQLBuilder, run: str, tail_ok: str, start: str, count, low, high, ok) -> str:
    """Python's finditer over a run of space-separated words, for a detector whose match ends
    at a word's end (its lookahead): from each word that can start a match, the longest run of
    words whose `count` is in [low, high] (the last word only if `tail_ok`); that match is
    hidden when `ok` of it, and the search goes on after it (else after the starting word).
    `low` and `high` are numbers, or SQL of the starting word (an IBAN's country's length)."""

    acc, k, w, sv, j = (f"{n}{next(_names)}" for n in ("a", "k", "w", "s", "j"))

    def body(words):
        cum = f"arrayCumSum(arrayMap({w} -> toUInt64({count(w)}), {words}))"

        def with_cum(c):
            n = f"length({words})"
            first = f"{words}[{k}]"
            lo = low(first) if callable(low) else low
            hi = high(first) if callable(high) else high
            last = (
                f"if(match({words}[{k}], {b.bind(start, 'String')}), arrayLastIndex(({sv}, {j}) -> {j} >= {k} "
                f"AND {sv} >= {c}[{k}] - {count(first)} + {lo} AND {sv} <= {c}[{k}] - {count(first)} + {hi} "
                f"AND ({j} < {n} OR {tail_ok}), {c}, arrayEnumerate({c})), 0)"
            )

            def step(jj):
                m = f"arrayStringConcat(arraySlice({words}, {k}, {jj} - {k} + 1), ' ')"
                piece = f"if({jj} > 0, if({ok(m)}, {_hide(b, m)}, {m}), {words}[{k}])"
                return (
                    f"if({k} < {acc}.1, {acc}, tuple(toUInt64(if({jj} > 0, {jj} + 1, {k} + 1)), "
                    f"concat({acc}.2, if({k} > 1, ' ', ''), {piece})))"
                )

            fold = f"arrayFold(({acc}, {k}) -> {_let(last, step)}, arrayEnumerate({words}), tuple(toUInt64(1), ''))"
            return f"({fold}).2"

        return _let(cum, with_cum)

    return _let(f"splitByChar(' ', {run})", body)


def _card_sql(b: SQLBuilder, text: str) -> str:
    def render(g):
        masked = _words_sql(
            b,
            f"{g}[3]",
            f"{g}[4] = ''",
            _CARD_START,
            lambda w: f"length(replaceAll({w}, '-', ''))",
            13,
            19,
            _card_ok_sql,
        )
        return f"concat({g}[2], {masked}, {g}[4])"

    return _tokens_sql(b, text, _CARD_TOKEN, render)


def _iban_length_sql(b: SQLBuilder, word: str) -> str:
    """The IBAN length of the country a word starts with (0 for none): masking._IBAN_RE takes
    exactly that many letters and digits."""
    return (
        f"toUInt64(arrayElement({b.bind(list(masking.IBAN_LENGTHS[k] for k in _IBAN_CODES), 'Array(UInt8)')}, "
        f"indexOf({b.bind(_IBAN_CODES, 'Array(String)')}, upper(substring({word}, 1, 2)))))"
    )


def _iban_sql(b: SQLBuilder, text: str) -> str:
    def render(g):
        length = lambda w: _iban_length_sql(b, w)  # noqa: E731
        masked = _words_sql(
            b,
            f"{g}[3]",
            "1",
            _IBAN_START,
            lambda w: f"length({w})",
            length,
            length,
            lambda m: _iban_ok_sql(b, m),
        )
        return f"concat({g}[2], {masked})"

    return _tokens_sql(b, text, _IBAN_TOKEN, render)


def _phone_sql(b: SQLBuilder, text: str) -> str:
    def render(g):
        run = f"{g}[3]"
        phone = (
            f"length(replaceRegexpAll({run}, '[^0-9]', '')) >= 8 "
            f"AND match({run}, {b.bind(PHONE_SHAPE_RE, 'String')})"
        )
        return f"concat({g}[2], if({phone}, {_hide(b, run)}, {run}))"

    return _tokens_sql(b, text, _PHONE_TOKEN, render)


def masked_text_sql(b: SQLBuilder, text: str, *, numbers: bool = True) -> str:
    """`text` as a viewer without view-PII sees it: governance.masking.mask_string in SQL
    (phone numbers masked as a superset, see `PHONE_RUN_RE`).

    `numbers=False` leaves out the card and phone stages: they cost ~10-20x the raw
    comparison on any text with digits (a URL with an id: bench/bench_masked_filters.py),
    and only a comparison that can probe digits needs them (`needs_number_masks`). The IBAN
    stage (letters too) always runs; its gate skips text that does not look like one."""
    bare_query = _let(
        text, lambda t: f"if(startsWith({t}, '?') AND position({t}, ' ') = 0, {_mask_url_sql(b, t)}, {t})"
    )

    def urls(t):
        return _tokens_sql(
            b,
            t,
            _URL_TOKEN,
            lambda g: f"concat({g}[2], {_mask_url_sql(b, f'{g}[3]')}, {g}[4], {_mask_url_sql(b, f'{g}[5]')})",
        )

    text = _gated(b, bare_query, _URL_GATE, urls)
    text = _let(
        text,
        lambda t: (
            f"if(position({t}, '@') > 0, {_tokens_sql(b, t, _EMAIL_TOKEN, lambda g: _hide(b, f'{g}[3]'))}, {t})"
        ),
    )
    text = _gated(b, text, _IBAN_GATE, lambda t: _iban_sql(b, t))
    if not numbers:
        return text
    text = _let(
        text,
        lambda t: f"if(match({t}, {b.bind(_DIGIT_GATE, 'String')}), {_phone_sql(b, _card_sql(b, t))}, {t})",
    )
    return text


def needs_number_masks(operator: str, values) -> bool:
    """Whether a masked comparison must see the card and phone masks (the expensive stages).

    A regex can spell digits without writing one (`\\d`, `[0-9]`, `.`): always. A substring
    needs them when it holds a digit (it could confirm part of a hidden number). Equality
    needs them only for a value the viewer picked masked (it holds the mask character): a
    value that itself contains a card or phone number (refused for such viewers before the
    query by `Presenter.guard_value`, and checked here again) gets them too; any other value
    cannot equal a text the stages would change. A substring without a digit cannot match
    inside a card or phone number's digits."""
    if operator in ("regex", "not_regex"):
        return True
    texts = [str(v) for v in values]
    if any(_MASK in t or masking.mask_string(t) != t for t in texts):
        return True  # a masked pick, or a value holding a number the detectors hide
    return operator in ("icontains", "not_icontains") and any(ch.isdigit() for t in texts for ch in t)


def filter_sql(b: SQLBuilder, f: PropertyFilter, *, person_id_sql: str = "person_id") -> str:
    if f.type == "cohort":
        negate = f.operator in ("not_in", "is_not")
        return cohort_condition(b, f.value, person_id_sql, negate)
    raw = event_value_sql(b, f.key) if f.type == "event" else ""
    text, is_set = _event_text(raw, f.key) if f.type == "event" else person_text_sql(b, f.key)
    if f.masked:
        if f.type == "event" and f.key not in MATERIALIZED_EVENT_COLUMNS:
            # An array's text ("['Jane Doe']") would let a filter read inside it: "" as an object's.
            text = f"if(startsWith(dynamicType({raw}), 'Array'), '', {text})"
        text = masked_text_sql(b, text, numbers=needs_number_masks(f.operator, f.values))
    op = f.operator
    if op == "is_set":
        return is_set
    if op == "is_not_set":
        return f"NOT {is_set}"
    if op in ("exact", "is_not"):
        numbers = [as_number(v) for v in f.values if _is_number(v)]
        texts = [
            ("true" if v else "false") if isinstance(v, bool) else str(v)
            for v in f.values
            if not _is_number(v)
        ]
        parts = []
        if numbers:
            parts.append(f"has({b.bind(numbers, 'Array(Float64)')}, toFloat64OrNull({text}))")
        if texts:
            parts.append(f"has({b.bind(texts, 'Array(String)')}, {text})")
        match = "(" + " OR ".join(parts) + ")"
        # ifNull: a missing number compares as NULL; NOT NULL must still mean "not equal".
        return f"ifNull({match}, 0)" if op == "exact" else f"NOT ifNull({match}, 0)"
    if op in ("icontains", "not_icontains"):
        cmp = "> 0" if op == "icontains" else "= 0"
        return f"positionCaseInsensitiveUTF8({text}, {b.bind(str(f.value), 'String')}) {cmp}"
    if op in ("regex", "not_regex"):
        match = f"match({text}, {b.bind(str(f.value), 'String')})"
        return match if op == "regex" else f"NOT {match}"
    sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    return f"ifNull(toFloat64OrNull({text}) {sym} {b.bind(as_number(f.value), 'Float64')}, 0)"


def filters_sql(b: SQLBuilder, filters, *, person_id_sql: str = "person_id") -> str:
    """AND of the filters ("1" when there are none)."""
    parts = [filter_sql(b, f, person_id_sql=person_id_sql) for f in filters]
    return " AND ".join(f"({p})" for p in parts) if parts else "1"


def needs_person_properties(filters) -> bool:
    return any(f.type == "person" for f in filters)
