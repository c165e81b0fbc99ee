"""Filters of a viewer without view-PII against a Python reference of the text they see.

For such a viewer a filter compares the masked text (insights/blocks/filters.py,
`masked_text_sql`, the SQL twin of governance.masking.mask_string). The reference is
`reference_mask`: mask_string's own rules applied stage by stage (URLs, e-mail addresses,
IBANs, card numbers), with the one documented difference that phone numbers are masked as a
superset (a whole run of phone characters holding 8+ digits and a phone shape, see
`filters.PHONE_RUN_RE`): `test_the_reference_hides_all_that_mask_string_hides` checks that the
superset never shows a digit mask_string hides, and is mask_string itself when no phone is near.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from governance import masking
from insights.blocks import EventSource, SQLBuilder, parse_filters
from insights.blocks import filters as fb
from tests.conftest import examples
from tests.insights import reference as ref

# ------------------------------------------------------------------ the reference

_PHONE_RUN = re.compile(rf"(?<![\w+.\-/])(?:{fb.PHONE_RUN_RE})")
_PHONE_SHAPE = re.compile(fb.PHONE_SHAPE_RE)
_DIGIT_GATE = re.compile(r"[0-9][0-9 \-.()/]{6,}[0-9]")


def _stage(text: str, pattern: re.Pattern, check, hide) -> str:
    return masking.mask_spans(text, [m.span() for m in pattern.finditer(text) if check(m)], hide)


def _phone_run(m: re.Match) -> bool:
    run = m.group(0)
    return sum(c.isdigit() for c in run) >= 8 and _PHONE_SHAPE.search(run) is not None


def reference_mask(text: str, hide=masking.mask_text, stages=("url", "pii")) -> str:
    """mask_string, stage by stage, with phone numbers masked as the SQL does (a superset)."""
    if "url" in stages and ("?" in text or "#" in text):
        if text.startswith("?") and " " not in text:
            text = masking.mask_url(text)
        text = masking._URL_RE.sub(lambda m: masking.mask_url(m.group(0)), text)
    if "pii" not in stages:
        return text
    text = _stage(text, masking.EMAIL_RE, lambda m: True, hide)
    text = _stage(text, masking._IBAN_RE, masking._iban, hide)
    if _DIGIT_GATE.search(text):
        text = _stage(text, masking._CARD_RE, masking._card, hide)
        text = _stage(text, _PHONE_RUN, _phone_run, hide)
    return text


# ------------------------------------------------------------------ generated texts
# Texts with planted card numbers, IBANs, phone numbers, e-mail addresses and URLs, near misses
# (Luhn- or mod-97-invalid numbers, dates, versions, IP addresses, ids, timestamps) and words.


def luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if masking.luhn_valid(body + d))


def iban_for(country: str, bban: str) -> str:
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


def grouped(number: str, sep: str, size: int = 4) -> str:
    return sep.join(number[i : i + size] for i in range(0, len(number), size))


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def card(rng: random.Random, valid: bool = True) -> str:
    number = luhn_complete(rng.choice("23456") + digits(rng, rng.choice([12, 14, 15])))
    if not valid:
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    return grouped(number, rng.choice(["", " ", "-"]))


def iban(rng: random.Random, valid: bool = True) -> str:
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("NO", 15)])
    bban = digits(rng, length - 4)
    if country in ("GB", "NL"):
        bban = rng.choice(["WEST", "ABNA"]) + bban[4:]
    number = iban_for(country, bban)
    if not valid:
        number = number[:2] + f"{(int(number[2:4]) + 1) % 100:02d}" + number[4:]
    return grouped(number, rng.choice(["", " "]))


def phone(rng: random.Random) -> str:
    d = lambda n: digits(rng, n)  # noqa: E731
    return rng.choice(
        [
            lambda: f"+44 20 {d(4)} {d(4)}",
            lambda: f"+1 ({d(3)}) {d(3)}-{d(4)}",
            lambda: f"+49{d(10)}",
            lambda: f"({d(3)}) {d(3)}-{d(4)}",
            lambda: f"{d(3)}-{d(3)}-{d(4)}",
            lambda: f"{d(3)}.{d(3)}.{d(4)}",
            lambda: f"0{d(2)} {d(4)} {d(4)}",
            lambda: f"0{d(1)} {d(2)} {d(2)} {d(2)} {d(2)}",
            lambda: f"0{d(3)} {d(7)}",
        ]
    )()


def near_miss(rng: random.Random) -> str:
    d = lambda n: digits(rng, n)  # noqa: E731
    return rng.choice(
        [
            lambda: f"2024-{d(2)}-{d(2)} 10:{d(2)}",
            lambda: f"10.0.{d(5)}",
            lambda: f"192.168.{d(1)}.{d(2)}",
            lambda: f"17{d(11)}",
            lambda: f"#{d(6)}",
            lambda: f"order-{d(8)}",
            lambda: f"v{d(1)}.{d(1)}.{d(2)}",
            lambda: f"1{d(15)}",
            lambda: d(4),
            lambda: d(rng.randint(5, 12)),
        ]
    )()


def email(rng: random.Random) -> str:
    return f"{rng.choice(['jane.doe', 'bo', 'x_7'])}@{rng.choice(['ex', 'mail'])}.com"


def url(rng: random.Random) -> str:
    query = rng.choice(["", "?token=4111", "?email=jane@x.io&page=2", "?q", f"?card={card(rng)}"])
    return (
        "https://shop.io" + rng.choice(["/", "/cart", "/p/7946"]) + query + rng.choice(["", "#top", "#7946"])
    )


WORDS = ["Card", "call", "IBAN", "thanks", "pay", "(home)", "ref:", "7946", "x", "é", "EUR"]
PARTS = [card, lambda r: card(r, False), iban, lambda r: iban(r, False), phone, near_miss, email, url]


def random_text(rng: random.Random) -> str:
    parts = [
        rng.choice(PARTS)(rng) if rng.random() < 0.7 else rng.choice(WORDS) for _ in range(rng.randint(1, 4))
    ]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice([" ", ", ", "; ", " | ", "\n", " / ", ": ", " and "]) + p
    return out


texts = st.builds(random_text, st.randoms(use_true_random=False))


def mask_in_sql(values: list[str]) -> list[str]:
    b = SQLBuilder(1)
    sql = f"SELECT arrayMap(t -> {fb.masked_text_sql(b, 't')}, {b.bind(values, 'Array(String)')})"
    return ch.query(sql, b.params, global_=True).scalar()


# ------------------------------------------------------------------ the masked text


@settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(texts, min_size=1, max_size=25))
def test_the_masked_text_in_sql_is_the_reference(clickhouse_schema, values):
    assert mask_in_sql(values) == [reference_mask(v) for v in values]


@settings(max_examples=examples(300), deadline=None)
@given(value=texts)
def test_the_reference_hides_all_that_mask_string_hides(value):
    """Every character mask_string hides, the reference hides (compared with masks of the
    same length, so positions line up), and where no phone run is masked they are one."""
    same_length = lambda s: masking.MASK_CHAR * len(s)  # noqa: E731
    url_masked = reference_mask(value, stages=("url",))
    shown = reference_mask(value, hide=same_length)
    assert len(shown) == len(url_masked)
    for start, end, kind in masking.pii_spans(url_masked):
        assert set(shown[start:end]) == {masking.MASK_CHAR}, (value, kind, shown)
    if not any(_phone_run(m) for m in _PHONE_RUN.finditer(url_masked)):
        assert reference_mask(value) == masking.mask_string(value)


def test_examples_of_the_masked_text(clickhouse_schema):
    values = [
        "card 4111 1111 1111 1111 ok",
        "4111-1111-1111-1111",
        "pay 4111111111111112 (not Luhn)",
        "GB82WEST12345698765432",
        "IBAN DE89 3704 0044 0532 0130 00",
        "call +44 20 7946 0958 now",
        "(415) 555-2671",
        "jane.doe@example.com wrote",
        "https://x.io/a?email=jane@x.io&p=2#top",
        "?q=secret&x",
        "2024-01-15 10:30, v10.0.19045, 192.168.1.1, 1700000000000",
        "4111111111111111 5555555555554444",
        "IBAN DE89 3704 0044 0532 0130 00 thanks",
        "de89 3704 0044 0532 0130 00 7946 EUR",
    ]
    assert mask_in_sql(values) == [
        "card •••••••••••• ok",
        "••••••••••••",
        "pay 4111111111111112 (not Luhn)",
        "••••••••••••",
        "IBAN ••••••••••••",
        "call •••••••••••• now",
        "••••••••••••",
        "•••••••••••• wrote",
        "https://x.io/a?email=•••••••••&p=•#•••",
        "?q=••••••&•",
        "2024-01-15 10:30, v10.0.19045, 192.168.1.1, 1700000000000",
        "•••••••••••• ••••••••••••",
        "IBAN •••••••••••• thanks",
        "•••••••••••• 7946 EUR",
    ]
    assert [masking.mask_string(v) for v in values] == mask_in_sql(values)


# ------------------------------------------------------------------ every operator


@pytest.fixture(scope="module")
def dataset(ch_project):
    """240 events and 60 persons whose properties hold generated texts (and arrays of them)."""
    rng = random.Random(20261203)
    project = ch_project()
    base = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    rows, persons = [], {}
    for i in range(240):
        distinct_id = f"d{i % 60}"
        person = uuid.uuid5(uuid.NAMESPACE_URL, f"{project.id}/{distinct_id}")
        persons.setdefault(person, {"bio": random_text(rng), "list": [random_text(rng)]})
        props = {"note": random_text(rng), "tags": [random_text(rng), "Jane Doe"]}
        if rng.random() < 0.1:
            del props["note"]
        if rng.random() < 0.1:
            props["note"] = int(luhn_complete("4" + digits(rng, 14)))  # a card number stored as a number
        rows.append({"uuid": uuid.uuid4(), "distinct_id": distinct_id, "person_id": person, "props": props})
    ch.insert(
        "events",
        {
            "uuid": [str(r["uuid"]) for r in rows],
            "project_id": [project.id] * len(rows),
            "event": ["e"] * len(rows),
            "distinct_id": [r["distinct_id"] for r in rows],
            "person_id": [str(r["person_id"]) for r in rows],
            "timestamp": [base + dt.timedelta(minutes=i) for i in range(len(rows))],
            "properties": [json.dumps(r["props"]) for r in rows],
        },
    )
    ch.insert(
        "person_distinct_ids",
        {
            "project_id": [project.id] * 60,
            "distinct_id": [f"d{i}" for i in range(60)],
            "person_id": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project.id}/d{i}")) for i in range(60)],
            "version": [1] * 60,
        },
    )
    ch.insert(
        "persons",
        {
            "project_id": [project.id] * len(persons),
            "id": [str(p) for p in persons],
            "created_at": [base] * len(persons),
            "properties": [json.dumps(p) for p in persons.values()],
            "version": [1] * len(persons),
        },
    )
    return project, rows, persons


def run(project, filters: list[dict]) -> set[uuid.UUID]:
    b = SQLBuilder(project.id)
    src = EventSource(project, b, None, None, filters=parse_filters(filters))
    return set(ch.query(f"SELECT uuid FROM ({src.sql()})", b.params).column("uuid"))


def masked_matches(props: dict, f: dict) -> bool:
    """The reference for a masked viewer: mask the property's text, then apply the operator."""
    return ref.matches({"k": reference_mask(ref.prop_text(props, f["key"]))}, {**f, "key": "k"})


FRAGMENTS = [
    "4111",
    "7946",
    "0958",
    "89",
    "5",
    "20",
    "@",
    "jane",
    "token",
    "DE",
    "WEST",
    "?q",
    "#",
    "•",
    "••••",
    "é",
]
PATTERNS = [
    "[0-9]{4}",
    "^[0-9]",
    "•{12}",
    "[0-9]{3}-[0-9]{4}",
    "^$",
    "(?i)iban",
    "[0-9]{4} [0-9]{4}",
    "^4",
    "Jane",
    "=[^•&]",
]


@pytest.fixture(scope="module")
def exact_values(dataset):
    """Values a viewer may type or pick: raw texts, and the texts as the viewer sees them."""
    _, rows, persons = dataset
    raw = [ref.prop_text(r["props"], "note") for r in rows[:40]] + [
        p["bio"] for p in list(persons.values())[:10]
    ]
    return raw + [reference_mask(t) for t in raw]


@settings(
    max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from([("note", "event"), ("tags", "event"), ("bio", "person"), ("list", "person")]),
    op=st.sampled_from(["exact", "is_not", "icontains", "not_icontains", "regex", "not_regex"]),
    pick=st.integers(min_value=0, max_value=10_000),
)
@pytest.mark.django_db
def test_masked_filters_match_the_reference(dataset, exact_values, key, op, pick):
    project, rows, persons = dataset
    key, ftype = key
    if op in ("exact", "is_not"):
        value = exact_values[pick % len(exact_values)]
    elif op in ("icontains", "not_icontains"):
        value = FRAGMENTS[pick % len(FRAGMENTS)]
    else:
        value = PATTERNS[pick % len(PATTERNS)]
    f = {"key": key, "operator": op, "value": value, "type": ftype}
    props_of = (lambda r: r["props"]) if ftype == "event" else (lambda r: persons[r["person_id"]])
    expected = {r["uuid"] for r in rows if masked_matches(props_of(r), f)}
    assert run(project, [{**f, "masked": True}]) == expected, f
    if key in ("note", "bio"):  # unmasked: the raw text
        assert run(project, [f]) == {r["uuid"] for r in rows if ref.matches(props_of(r), f)}, f


@pytest.mark.django_db
def test_a_masked_filter_cannot_read_inside_an_array(dataset):
    project, rows, _ = dataset
    f = {"key": "tags", "operator": "icontains", "value": "Jane Doe", "type": "event"}
    assert run(project, [f]) == {r["uuid"] for r in rows}  # unmasked: the array's text
    assert run(project, [{**f, "masked": True}]) == set()
    assert run(project, [{**f, "operator": "exact", "value": "", "masked": True}]) == {
        r["uuid"] for r in rows
    }
