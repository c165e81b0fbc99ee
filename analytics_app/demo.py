"""Demo data: realistic product-analytics journeys for one project.

    from analytics_app.demo import generate
    summary = generate(project_id, persons=5000, days=60, seed=1)

Every visitor lands on the marketing site (shop.example.com) from google, twitter,
a newsletter or directly, browses a few pages, and either leaves anonymous or signs
up. Signing up identifies the visitor (`$identify` with `$anon_distinct_id`), so the
anonymous device id and the user id both map to one person. Signed-up users walk an
onboarding funnel (`signed_up` -> `onboarding_step` 1..3 -> `activated`), some buy
(`purchase` with `revenue`/`currency`), and activated users come back to use the
product (`feature_used`, `search`, the odd `$exception`) at a rate that decays over
the weeks (a retention curve). Visits follow the local daytime of each visitor's
country and are heavier on weekdays.

Layout:
- `DemoSpec` fixes what to generate. `generate_chunk(spec, i)` is pure: it returns
  the rows of persons [i * PERSONS_PER_CHUNK, ...) built with vectorized
  numpy/pyarrow ops (no per-event Python) from a RNG seeded with (seed, i). Same seed
  and window -> the same rows, whatever the project id. A chunk's events are columns
  plus property "parts" (indexes into small vocabularies of property fragments),
  encoded on demand: `events.columns()` as JSON text, `events.native(rows)` as a
  Native block with the JSON column in its flattened serialization (typed columns per
  JSON path).
- `write(spec)` streams chunks into `events`, `persons` and `person_distinct_ids`
  through the ClickHouse layer. The main thread generates; batches of ~BATCH_EVENTS
  go to two insert threads. On the embedded engine (chdb) a batch is sorted by the
  events sorting key, cut at month boundaries (the partition key) and each month is
  written as one Native block to a temporary file and inserted with
  `INSERT ... SELECT ... FROM file(...)`; on a ClickHouse server the columns go
  through ch.insert with the properties as JSON text.

The window is the `days` UTC days ending with `end` (default: today); events later
than the wall clock are dropped, so a default run never writes the future. A run
with a past `end` is fully reproducible. People also arrive during a warm-up of up
to WARMUP_DAYS before the window (their earlier events are not written), so the
window opens with returning users instead of a ramp from zero; `persons` counts
everyone simulated, the summary's `visitors` those with events in the window.

Cost (bench/bench_demo_insert.py, docs/clickhouse.md "Demo data"): 7-9 CPU-µs per
event on the embedded path (generation ~1, sorting and encoding ~2, temporary files
~1, the engine 2-6), against ~34 when the engine parses the properties as JSON text.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import struct
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from analytics_app import clickhouse as ch

HOST = "https://shop.example.com"
PERSONS_PER_CHUNK = 8192
INSERT_THREADS = 2
BATCH_EVENTS = 400_000  # events per INSERT batch: fewer, larger parts to merge later
WARMUP_DAYS = 28  # at most; never longer than the window itself
US = 1_000_000
DAY_US = 86_400 * US

# ---------------------------------------------------------------- vocabularies
# Event codes (index into EVENTS).
EVENTS = (
    "$pageview",
    "$pageleave",
    "$autocapture",
    "$identify",
    "signed_up",
    "onboarding_step",
    "activated",
    "purchase",
    "feature_used",
    "search",
    "$exception",
)
(
    PAGEVIEW,
    PAGELEAVE,
    AUTOCAPTURE,
    IDENTIFY,
    SIGNED_UP,
    ONBOARDING,
    ACTIVATED,
    PURCHASE,
    FEATURE,
    SEARCH,
    EXCEPTION,
) = range(len(EVENTS))
# Gap before each event type (lognormal: median seconds, sigma).
_GAP_MEDIAN_S = np.array([30, 25, 6, 0.4, 0.3, 40, 3, 60, 20, 12, 1.5])
_GAP_SIGMA = np.array([0.9, 0.8, 0.7, 0.3, 0.3, 0.6, 0.5, 0.5, 0.8, 0.7, 0.5])

BLOG_SLUGS = (
    "how-we-cut-churn-in-half",
    "product-analytics-101",
    "funnels-that-convert",
    "retention-curves-explained",
    "pricing-page-teardown",
    "launch-week-recap",
    "choosing-a-north-star-metric",
    "ab-testing-mistakes",
    "session-replay-for-support",
    "self-hosting-analytics",
    "gdpr-friendly-tracking",
    "growth-loops",
    "cohort-analysis-guide",
    "onboarding-checklists",
    "event-naming-conventions",
    "dashboards-people-read",
)
PRODUCT_IDS = tuple(range(1001, 1041))
PAGES = (
    "/",
    "/pricing",
    "/features",
    "/signup",
    "/checkout",
    "/account",
    "/onboarding/1",
    "/onboarding/2",
    "/onboarding/3",
    *(f"/blog/{slug}" for slug in BLOG_SLUGS),
    *(f"/product/{pid}" for pid in PRODUCT_IDS),
)
_P = {path: i for i, path in enumerate(PAGES)}
_BLOG0, _PRODUCT0 = _P[f"/blog/{BLOG_SLUGS[0]}"], _P[f"/product/{PRODUCT_IDS[0]}"]
# Page groups: home, pricing, features, blog, product, account.
_GROUP_FIRST = np.array([_P["/"], _P["/pricing"], _P["/features"], _BLOG0, _PRODUCT0, _P["/account"]])


def _zipf_cdf(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return np.cumsum(w / w.sum())


_BLOG_CDF, _PRODUCT_CDF = _zipf_cdf(len(BLOG_SLUGS)), _zipf_cdf(len(PRODUCT_IDS), 0.9)

# Acquisition channels: name, $referrer, $referring_domain, landing page-group weights.
CHANNELS = (
    ("google", "https://www.google.com/", "www.google.com", 0.34, (0.35, 0.15, 0.15, 0.30, 0.05, 0)),
    ("direct", "$direct", "$direct", 0.30, (0.80, 0.12, 0.05, 0.00, 0.03, 0)),
    ("twitter", "https://twitter.com/", "twitter.com", 0.12, (0.20, 0.00, 0.05, 0.75, 0.00, 0)),
    (
        "newsletter",
        "https://newsletter.example.com/",
        "newsletter.example.com",
        0.12,
        (0.05, 0.20, 0.20, 0.55, 0.00, 0),
    ),
    ("google_ads", "https://www.google.com/", "www.google.com", 0.12, (0.40, 0.40, 0.15, 0.00, 0.05, 0)),
)
# Campaigns: (channel index, probability the landing carries utm_*, [(source, medium, campaign), ...]).
CAMPAIGNS = (
    (2, 0.5, (("twitter", "social", "launch_week"), ("twitter", "social", "founder_thread"))),
    (3, 1.0, (("newsletter", "email", "weekly_digest"), ("newsletter", "email", "feature_announcement"))),
    (
        4,
        1.0,
        (
            ("google", "cpc", "brand_search"),
            ("google", "cpc", "competitor_search"),
            ("google", "cpc", "retargeting"),
        ),
    ),
)
_SIGNUP_RATE = np.array([0.24, 0.30, 0.14, 0.36, 0.26])
# Page-group weights while browsing the marketing site / using the product.
_BROWSE_GROUPS = np.cumsum([0.18, 0.28, 0.20, 0.20, 0.14, 0.0])
_APP_GROUPS = np.cumsum([0.08, 0.04, 0.08, 0.0, 0.45, 0.35])
_ANON_GROUPS = np.cumsum([0.25, 0.25, 0.15, 0.30, 0.05, 0.0])

# Countries: code, share, UTC offset (hours, no DST), currency.
COUNTRIES = (
    ("US", 0.33, -5, "USD"),
    ("GB", 0.09, 0, "GBP"),
    ("DE", 0.09, 1, "EUR"),
    ("IN", 0.08, 5.5, "USD"),
    ("FR", 0.06, 1, "EUR"),
    ("BR", 0.06, -3, "USD"),
    ("CA", 0.05, -5, "USD"),
    ("AU", 0.04, 10, "USD"),
    ("NL", 0.04, 1, "EUR"),
    ("ES", 0.04, 1, "EUR"),
    ("PL", 0.03, 1, "EUR"),
    ("JP", 0.03, 9, "USD"),
    ("MX", 0.03, -6, "USD"),
    ("SE", 0.03, 1, "EUR"),
)
_COUNTRY_TZ_S = np.array([int(c[2] * 3600) for c in COUNTRIES])

DEVICES = ("Desktop", "Mobile", "Tablet")
_DEVICE_P = (0.56, 0.40, 0.04)
OSES = ("Windows", "Mac OS X", "Linux", "Chrome OS", "iOS", "Android")
_OS_BY_DEVICE = np.array(
    [
        [0.62, 0.30, 0.05, 0.03, 0.00, 0.00],
        [0.00, 0.00, 0.00, 0.00, 0.55, 0.45],
        [0.00, 0.00, 0.00, 0.00, 0.65, 0.35],
    ]
)
BROWSERS = ("Chrome", "Safari", "Firefox", "Edge")
_BROWSER_BY_OS = np.array(
    [
        [0.72, 0.00, 0.08, 0.20],
        [0.55, 0.38, 0.05, 0.02],
        [0.70, 0.00, 0.30, 0.00],
        [1.00, 0.00, 0.00, 0.00],
        [0.20, 0.80, 0.00, 0.00],
        [0.93, 0.00, 0.04, 0.03],
    ]
)
_SCREENS = (
    (1280, 1366, 1440, 1536, 1920, 2560),
    (360, 375, 390, 393, 412, 414, 430),
    (768, 810, 820, 834, 1024),
)

PLANS = ("free", "starter", "pro", "enterprise")
_SIGNUP_PLAN_P = (0.55, 0.25, 0.17, 0.03)
_PURCHASE_PLAN_P = (0.0, 0.50, 0.42, 0.08)
_PRICE = {"starter": 29.0, "pro": 99.0, "enterprise": 499.0}
FEATURES = (
    "dashboards",
    "reports",
    "export_csv",
    "alerts",
    "filters",
    "sharing",
    "team_invite",
    "integrations",
    "api_keys",
    "billing",
    "annotations",
    "saved_views",
)
QUERIES = (
    "invoice",
    "export",
    "pricing",
    "api key",
    "how to invite team",
    "refund",
    "dashboard template",
    "csv",
    "integrations slack",
    "delete account",
    "change plan",
    "filters",
    "shipping",
    "order status",
    "webhooks",
    "password reset",
)
EXCEPTIONS = (
    ("TypeError", "Cannot read properties of undefined (reading 'length')"),
    ("TypeError", "undefined is not a function"),
    ("Error", "Network request failed"),
    ("ChunkLoadError", "Loading chunk 412 failed."),
    ("RangeError", "Maximum call stack size exceeded"),
    ("Error", "Request failed with status code 500"),
)
CLICKS = (
    "Get started",
    "See pricing",
    "Read more",
    "Watch demo",
    "Save",
    "Export",
    "Filter",
    "Invite teammate",
    "Next",
)
FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kenji", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wei", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Müller", "Garcia", "Kowalski", "Dubois", "Rossi", "Silva", "Tanaka", "Patel", "Jansen",
    "Andersson", "Brown", "Novak", "Kim", "Lopez", "Schmidt", "Nguyen", "Martin", "Costa", "Walker",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# Local hour of day weights (marketing visits, product usage) and weekday weights Mon..Sun.
_HOURS_VISIT = np.array(
    [2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 12, 13, 13, 12, 11, 10, 10, 10, 9, 6, 4], float
)
_HOURS_APP = np.array(
    [1, 0.5, 0.5, 0.5, 0.5, 1, 3, 8, 13, 15, 15, 13, 10, 13, 14, 14, 13, 10, 6, 4, 4, 3, 2, 1], float
)
_WEEKDAY_VISIT = np.array([1.0, 1.0, 0.98, 0.95, 0.88, 0.6, 0.55])
_WEEKDAY_APP = np.array([1.0, 1.0, 1.0, 0.97, 0.85, 0.42, 0.38])


def _js(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _kv(key: str, value) -> str:
    return f"{_js(key)}:{_js(value)}"


# ---------------------------------------------------------------- property fragments
# A fragment is a few (key, value) properties that rows pick by index. A vocabulary of
# fragments gives, on demand, its JSON text (`"k":v,...`, joined with "," and wrapped in
# {} per row) or its columns per JSON path (type, encoded value per fragment) for
# Native's flattened JSON serialization, which the engine reads ~5x cheaper than it
# parses JSON text (docs/clickhouse.md, "Demo data").


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(text: str) -> bytes:
    """A ClickHouse binary String: varint length, then the UTF-8 bytes."""
    raw = text.encode()
    return _varint(len(raw)) + raw


def _native_value(value) -> tuple[str, bytes]:
    """(ClickHouse type, Native encoding) of one JSON value: the column data of a
    JSON path in Native's flattened serialization is exactly these bytes, row after row."""
    if isinstance(value, str):
        return "String", _str(value)
    if isinstance(value, bool):
        return "Bool", bytes([value])
    if isinstance(value, int):
        return "Int64", struct.pack("<q", value)
    return "Float64", struct.pack("<d", value)


def _native_columns(entries: list[list[tuple[str, object]]]) -> dict[str, tuple[str, pa.Array]]:
    """Per JSON path of a vocabulary: its type and each entry's encoded value (null: absent)."""
    columns: dict[str, tuple[str, list]] = {}
    for i, flat in enumerate(entries):
        for key, value in flat:
            kind, raw = _native_value(value)
            known = columns.setdefault(key, (kind, [None] * len(entries)))
            if known[0] != kind:
                raise ValueError(f"property {key} is both {known[0]} and {kind}")
            known[1][i] = raw
    return {key: (kind, pa.array(values, pa.binary())) for key, (kind, values) in columns.items()}


def _flat(pairs) -> list[tuple[str, object]]:
    """Nested objects become dotted paths, as the JSON type stores them."""
    out = []
    for key, value in pairs:
        if isinstance(value, dict):
            out.extend((f"{key}.{k}", v) for k, v in value.items())
        else:
            out.append((key, value))
    return out


class _Frags:
    """A vocabulary of property fragments, turned into JSON text or Native columns when
    asked for. Entries are (key, value) pairs added one by one, or blocks of many entries
    given as columns (per-person values: no Python per entry on the Native path)."""

    def __init__(self, items=()):
        self.segments: list = []  # list of pairs | (size, json_fn, native columns)
        self.size = 0
        self.index: dict[tuple, int] = {}
        for pairs in items:
            self.add(pairs)

    def add(self, pairs, key: tuple | None = None) -> int:
        if not self.segments or not isinstance(self.segments[-1], list):
            self.segments.append([])
        self.segments[-1].append(pairs)
        if key is not None:
            self.index[key] = self.size
        self.size += 1
        return self.size - 1

    def add_block(self, size: int, json_fn: Callable[[], list[str]], native: dict) -> int:
        """Add `size` entries at once: `json_fn()` gives their JSON text, `native` maps each
        path to (type, encoded value per entry); returns the index of the first."""
        self.segments.append((size, json_fn, native))
        self.size += size
        return self.size - size

    @property
    def pairs(self) -> list[tuple]:
        """The entries added one by one (the static vocabularies have only these)."""
        return [pairs for segment in self.segments if isinstance(segment, list) for pairs in segment]

    @property
    def json(self) -> list[str]:
        out: list[str] = []
        for segment in self.segments:
            if isinstance(segment, list):
                out += [",".join(_kv(k, v) for k, v in pairs) for pairs in segment]
            else:
                out += segment[1]()
        return out

    def native(self) -> dict[str, tuple[str, pa.Array]]:
        columns, sizes = [], []
        for segment in self.segments:
            if isinstance(segment, list):
                columns.append(_native_columns([_flat(pairs) for pairs in segment]))
                sizes.append(len(segment))
            else:
                columns.append(segment[2])
                sizes.append(segment[0])
        return _concat_native(columns, sizes)

    def copy(self) -> _Frags:
        other = _Frags()
        other.segments = [list(seg) if isinstance(seg, list) else seg for seg in self.segments]
        other.size, other.index = self.size, self.index
        return other

    def part(self, index: np.ndarray) -> _Part:
        return _Part(lambda: pa.array(self.json, pa.string()), self.native, self.size, index)


@dataclass
class _Part:
    """Rows' picks from one vocabulary (index -1: the row has none of these properties)."""

    json_fn: Callable[[], pa.Array]  # the vocabulary as JSON text, built on demand
    native_fn: Callable[[], dict[str, tuple[str, pa.Array]]]  # path -> (type, value per entry)
    size: int  # entries in the vocabulary
    index: np.ndarray

    @property
    def json(self) -> pa.Array:
        return self.json_fn()

    @property
    def native(self) -> dict[str, tuple[str, pa.Array]]:
        cached = self.__dict__.get("_native")
        if cached is None:
            cached = self.__dict__["_native"] = self.native_fn()
        return cached

    def take(self, values: pa.Array) -> pa.Array:
        return values.take(pa.array(self.index, mask=self.index < 0))


def _page_pairs(path: str, query: str = "") -> tuple:
    return (("$current_url", HOST + path + query), ("$pathname", path))


_PAGE_FRAGS = _Frags(_page_pairs(path) for path in PAGES)
_REF_FRAGS = _Frags((("$referrer", c[1]), ("$referring_domain", c[2])) for c in CHANNELS)
_UTM_LIST = tuple((ci, utm) for ci, _, utms in CAMPAIGNS for utm in utms)
_UTM_FRAGS = _Frags(
    tuple(zip(("utm_source", "utm_medium", "utm_campaign"), utm, strict=True)) for _, utm in _UTM_LIST
)
_ANON_FRAGS = _Frags([(("$process_person_profile", False),)])
_BROWSER_FRAGS = _Frags((("$browser", b),) for b in BROWSERS)
_OS_FRAGS = _Frags((("$os", o),) for o in OSES)
_DEVICE_FRAGS = _Frags((("$device_type", d),) for d in DEVICES)
_SCREEN_FRAGS = _Frags((("$screen_width", w),) for widths in _SCREENS for w in widths)
_SCREEN_COUNT = np.array([len(widths) for widths in _SCREENS])
_SCREEN_FIRST = np.cumsum(_SCREEN_COUNT) - _SCREEN_COUNT
_COUNTRY_FRAGS = _Frags((("$geoip_country_code", c[0]),) for c in COUNTRIES)
_LIB_FRAGS = _Frags([(("$lib", "web"),)])

_EXTRAS = _Frags()
for _i, _plan in enumerate(PLANS):
    _EXTRAS.add((("plan", _plan),), key=("plan", _i))
for _step, _name in enumerate(("create_workspace", "install_snippet", "invite_team"), start=1):
    _EXTRAS.add((("step", _step), ("step_name", _name)), key=("step", _step))
for _i, _f in enumerate(FEATURES):
    _EXTRAS.add((("feature", _f),), key=("feature", _i))
for _i, _q in enumerate(QUERIES):
    _EXTRAS.add((("query", _q),), key=("query", _i))
for _i, (_t, _m) in enumerate(EXCEPTIONS):
    _EXTRAS.add((("$exception_type", _t), ("$exception_message", _m)), key=("exception", _i))
for _text in (*CLICKS, "Create account", "Choose plan", "Pay now"):
    _EXTRAS.add((("$event_type", "click"), ("$el_text", _text)), key=("click", _text))
_CLICK0 = _EXTRAS.index[("click", CLICKS[0])]
_FEATURE_CDF, _QUERY_CDF = _zipf_cdf(len(FEATURES), 0.8), _zipf_cdf(len(QUERIES), 1.0)


# ---------------------------------------------------------------- spec and chunks
@dataclass(frozen=True)
class DemoSpec:
    project_id: int
    persons: int
    days: int
    seed: int
    end: dt.date

    @property
    def window(self) -> tuple[int, int]:
        """[start, end) of the window in µs since the epoch (UTC midnights)."""
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.UTC)
        end_us = int(end.timestamp()) * US
        return end_us - self.days * DAY_US, end_us

    @property
    def chunks(self) -> int:
        return -(-self.persons // PERSONS_PER_CHUNK)


@dataclass
class Chunk:
    events: _Events
    persons: dict
    person_distinct_ids: dict
    visitors: int

    @property
    def n_events(self) -> int:
        return self.events.n


def _pick(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """n draws from a categorical distribution given by its cdf."""
    return np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(n), side="right"), len(cdf) - 1)


def _pick_rows(rng: np.random.Generator, probs: np.ndarray, cond: np.ndarray) -> np.ndarray:
    """One draw per row from the row of `probs` that `cond` selects."""
    cdf = np.cumsum(probs, axis=1)
    cdf = cdf / cdf[:, -1:]
    u = rng.random(len(cond))[:, None]
    return np.minimum((u >= cdf[cond]).sum(axis=1), probs.shape[1] - 1)


def _pages(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """A page per row from its page group (blog posts and products Zipf-distributed)."""
    item = np.zeros(len(groups), np.int64)
    blog, product = groups == 3, groups == 4
    item[blog] = _pick(rng, _BLOG_CDF, int(blog.sum()))
    item[product] = _pick(rng, _PRODUCT_CDF, int(product.sum()))
    return _GROUP_FIRST[groups] + item


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _uuid_text(raw: np.ndarray) -> pa.StringArray:
    """Canonical text of n 16-byte UUIDs, as one Arrow string array, without a Python loop."""
    n = len(raw)
    hexed = np.empty((n, 32), np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 15]
    out = np.full((n, 36), ord("-"), np.uint8)
    for dst, src in ((0, 0), (9, 8), (14, 12), (19, 16), (24, 20)):
        width = {0: 8, 20: 12}.get(src, 4)
        out[:, dst : dst + width] = hexed[:, src : src + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def _uuids(rng: np.random.Generator, ms: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
    """UUIDv7 for the given unix milliseconds (as posthog-js makes them), else UUIDv4."""
    n = len(ms) if ms is not None else n
    raw = np.frombuffer(rng.bytes(16 * n), np.uint8).reshape(n, 16).copy()
    if ms is not None:
        raw[:, :6] = ms.astype(">u8").view(np.uint8).reshape(n, 8)[:, 2:]
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    else:
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def _local_second(rng: np.random.Generator, hours: np.ndarray, n: int) -> np.ndarray:
    return _pick(rng, np.cumsum(hours), n) * 3600 + rng.integers(0, 3600, n)


class _Rows:
    """Event rows collected per segment, then put in (session, order) sequence."""

    def __init__(self):
        self.parts: list[tuple] = []

    def add(self, session, order, event, page=None, extra=None, as_user=None) -> None:
        n = len(session)
        self.parts.append(
            (
                np.asarray(session, np.int64),
                np.broadcast_to(np.asarray(order, np.int64), n),
                np.broadcast_to(np.asarray(event, np.int8), n),
                np.broadcast_to(np.asarray(-1 if page is None else page, np.int64), n),
                np.broadcast_to(np.asarray(-1 if extra is None else extra, np.int64), n),
                np.broadcast_to(np.asarray(False if as_user is None else as_user, bool), n),
            )
        )

    def build(self):
        cols = [np.concatenate([p[i] for p in self.parts]) for i in range(6)]
        perm = np.lexsort((cols[1], cols[0]))
        return [c[perm] for c in cols]


def _person_frags(browser, os_, device, screen, country) -> list[tuple[_Frags, np.ndarray]]:
    return [
        (_BROWSER_FRAGS, browser),
        (_OS_FRAGS, os_),
        (_DEVICE_FRAGS, device),
        (_SCREEN_FRAGS, screen),
        (_COUNTRY_FRAGS, country),
    ]


def _fixed_binary(raw: np.ndarray) -> pa.BinaryArray:
    """An (n, w) uint8 array as n binary values of w bytes, without a copy per value."""
    n, width = raw.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.BinaryArray.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw.tobytes())]
    )


def _uuid_order(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort keys (minor, major) that order UUIDs as ClickHouse does: second half first."""
    halves = np.ascontiguousarray(raw).view(">u8")
    return halves[:, 0], halves[:, 1]


def _strings(values: pa.StringArray) -> pa.BinaryArray:
    """ClickHouse binary Strings (varint length + bytes) of values shorter than 128 bytes."""
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False)
    if len(lengths) and lengths.max() >= 128:
        raise ValueError("value too long for a one-byte length")
    return pc.binary_join_element_wise(
        _fixed_binary(lengths.astype(np.uint8).reshape(-1, 1)),
        values.cast(pa.binary()),
        pa.scalar(b"", pa.binary()),
    )


# CityHash64 (v1.0.2, ClickHouse's cityHash64) of equal-length byte strings, vectorized:
# the demo pre-sorts rows by the events sorting key, which hashes distinct_id, so that
# the engine finds each block already sorted and skips permuting the JSON column.
_K0, _K2 = np.uint64(0xC3A5C85C97CB3127), np.uint64(0x9AE16A3B2F90404F)
_KMUL = np.uint64(0x9DDFEA08EB382D69)


def _rot(v: np.ndarray, shift: int) -> np.ndarray:
    return (v >> np.uint64(shift)) | (v << np.uint64(64 - shift))


def _fetch(raw: np.ndarray, offset: int, width: int) -> np.ndarray:
    chunk = np.ascontiguousarray(raw[:, offset : offset + width])
    return chunk.view("<u8" if width == 8 else "<u4")[:, 0].astype(np.uint64)


def _hash16(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    a = (u ^ v) * _KMUL
    a ^= a >> np.uint64(47)
    b = (v ^ a) * _KMUL
    b ^= b >> np.uint64(47)
    return b * _KMUL


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> np.uint64(47))


def _city64_fixed(raw: np.ndarray) -> np.ndarray:
    """CityHash64 of the rows of an (m, length) uint8 array; lengths 4-16 and 33-64."""
    length = raw.shape[1]
    n = np.uint64(length)
    with np.errstate(over="ignore"):
        if 4 <= length <= 8:
            return _hash16(n + (_fetch(raw, 0, 4) << np.uint64(3)), _fetch(raw, length - 4, 4))
        if 8 < length <= 16:
            a, b = _fetch(raw, 0, 8), _fetch(raw, length - 8, 8)
            return _hash16(a, _rot(b + n, length)) ^ b
        if 32 < length <= 64:
            f = lambda offset: _fetch(raw, offset, 8)  # noqa: E731
            z = f(24)
            a = f(0) + (n + f(length - 16)) * _K0
            b, c = _rot(a + z, 52), _rot(a, 37)
            a = a + f(8)
            c = c + _rot(a, 7)
            a = a + f(16)
            vf, vs = a + z, b + _rot(a, 31) + c
            a = f(16) + f(length - 32)
            z = f(length - 8)
            b, c = _rot(a + z, 52), _rot(a, 37)
            a = a + f(length - 24)
            c = c + _rot(a, 7)
            a = a + f(length - 16)
            wf, ws = a + z, b + _rot(a, 31) + c
            r = _shift_mix((vf + ws) * _K2 + (wf + vs) * _K0)
            return _shift_mix(r * _K0 + vs) * _K2
    raise ValueError(f"no vectorized CityHash64 for {length}-byte strings")


def city_hash64(values: pa.StringArray) -> np.ndarray:
    """ClickHouse's cityHash64 of each string (lengths 4-16 and 33-64 bytes)."""
    out = np.zeros(len(values), np.uint64)
    binary = values.cast(pa.binary())
    lengths = pc.binary_length(binary).to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(binary.buffers()[1], np.int32)[binary.offset : binary.offset + len(values) + 1]
    data = np.frombuffer(binary.buffers()[2], np.uint8)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        starts = offsets[rows]
        raw = data[starts[:, None] + np.arange(length)]
        out[rows] = _city64_fixed(raw)
    return out


_EVENT_RANK = np.argsort(np.argsort(np.array([e.encode() for e in EVENTS], dtype=object)))
_EVENT_NAMES = pa.array([_str(e) for e in EVENTS], pa.binary())
_NATIVE_FLATTENED = 3  # serialization version of Dynamic/JSON "flattened" in Native
NATIVE_COLUMNS = (
    ("uuid", "UUID"),
    ("event", "String"),
    ("distinct_id", "String"),
    ("person_id", "UUID"),
    ("timestamp", "Int64"),
    ("properties", "JSON(max_dynamic_paths = 512)"),
    ("session_id", "String"),
    ("window_id", "String"),
)


def _binary_data(values: pa.Array) -> memoryview:
    """The value bytes of a binary array, back to back (no offsets)."""
    if len(values) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(values.buffers()[1], np.int32)
    start, end = offsets[values.offset], offsets[values.offset + len(values)]
    return memoryview(values.buffers()[2])[start:end]


def _uuid_native(raw: np.ndarray) -> np.ndarray:
    """UUIDs as ClickHouse stores them (each 8-byte half little-endian), one row each."""
    return np.ascontiguousarray(np.concatenate([raw[:, 7::-1], raw[:, 15:7:-1]], axis=1))


def _concat_native(columns: list[dict], sizes: list[int]) -> dict[str, tuple[str, pa.Array]]:
    out = {}
    for key in {k for c in columns for k in c}:
        kinds = {c[key][0] for c in columns if key in c}
        if len(kinds) > 1:
            raise ValueError(f"property {key} has types {kinds}")
        out[key] = (
            kinds.pop(),
            pa.concat_arrays(
                [
                    c[key][1] if key in c else pa.nulls(size, pa.binary())
                    for c, size in zip(columns, sizes, strict=True)
                ]
            ),
        )
    return out


@dataclass
class _Events:
    """A chunk's events: plain columns plus property parts, encoded on demand."""

    project_id: int
    uuid_raw: np.ndarray
    event: np.ndarray
    ts: np.ndarray
    person: np.ndarray
    sess: np.ndarray
    as_user: np.ndarray
    parts: list[_Part]
    person_raw: np.ndarray
    person_ids: pa.StringArray
    user_ids: pa.StringArray
    anon_ids: pa.StringArray
    session_ids: pa.StringArray
    window_ids: pa.StringArray

    @property
    def n(self) -> int:
        return len(self.ts)

    def __getitem__(self, name: str):
        return self.columns()[name]

    def columns(self) -> dict:
        """Columns for ch.insert, properties as JSON text (the portable path)."""
        cached = getattr(self, "_columns", None)
        if cached is not None:
            return cached
        person_a, sess_a = pa.array(self.person), pa.array(self.sess)
        inner = pc.binary_join_element_wise(*(p.take(p.json) for p in self.parts), ",", null_handling="skip")
        self._columns = {
            "uuid": _uuid_text(self.uuid_raw),
            "project_id": np.full(self.n, self.project_id, np.uint32),
            "event": pa.array(EVENTS).take(pa.array(self.event)),
            "distinct_id": pc.if_else(
                pa.array(self.as_user), self.user_ids.take(person_a), self.anon_ids.take(person_a)
            ),
            "person_id": self.person_ids.take(person_a),
            "timestamp": self.ts.astype("datetime64[us]"),
            "properties": pc.binary_join_element_wise("{", inner, "}", ""),
            "session_id": self.session_ids.take(sess_a),
            "window_id": self.window_ids.take(sess_a),
        }
        return self._columns

    @classmethod
    def concat(cls, batch: list[_Events]) -> _Events:
        """One set of events from several chunks' (person and session indexes shifted)."""
        if len(batch) == 1:
            return batch[0]
        person_base = np.cumsum([0] + [len(e.person_raw) for e in batch[:-1]])
        sess_base = np.cumsum([0] + [len(e.session_ids) for e in batch[:-1]])
        parts = []
        for j in range(len(batch[0].parts)):
            chunk_parts = [e.parts[j] for e in batch]
            base = np.cumsum([0] + [p.size for p in chunk_parts[:-1]])
            parts.append(
                _Part(
                    lambda chunk_parts=chunk_parts: pa.concat_arrays([p.json for p in chunk_parts]),
                    lambda chunk_parts=chunk_parts: _concat_native(
                        [p.native for p in chunk_parts], [p.size for p in chunk_parts]
                    ),
                    sum(p.size for p in chunk_parts),
                    np.concatenate(
                        [
                            np.where(p.index >= 0, p.index + b, -1)
                            for p, b in zip(chunk_parts, base, strict=True)
                        ]
                    ),
                )
            )
        cat = lambda name: np.concatenate([getattr(e, name) for e in batch])  # noqa: E731
        arrow = lambda name: pa.concat_arrays([getattr(e, name) for e in batch])  # noqa: E731
        return cls(
            project_id=batch[0].project_id,
            uuid_raw=cat("uuid_raw"),
            event=cat("event"),
            ts=cat("ts"),
            person=np.concatenate([e.person + b for e, b in zip(batch, person_base, strict=True)]),
            sess=np.concatenate([e.sess + b for e, b in zip(batch, sess_base, strict=True)]),
            as_user=cat("as_user"),
            parts=parts,
            person_raw=cat("person_raw"),
            person_ids=arrow("person_ids"),
            user_ids=arrow("user_ids"),
            anon_ids=arrow("anon_ids"),
            session_ids=arrow("session_ids"),
            window_ids=arrow("window_ids"),
        )

    def sort_order(self) -> np.ndarray:
        """The permutation that puts the events in the events table's sorting key order:
        (project_id, toDate(timestamp), event, cityHash64(distinct_id), uuid)."""
        distinct_hash = np.where(
            self.as_user, city_hash64(self.user_ids)[self.person], city_hash64(self.anon_ids)[self.person]
        )
        uuid_minor, uuid_major = _uuid_order(self.uuid_raw)
        day_event = (self.ts // DAY_US) * len(EVENTS) + _EVENT_RANK[self.event]
        return np.lexsort((uuid_minor, uuid_major, distinct_hash, day_event))

    def native(self, rows: np.ndarray) -> list:
        """A Native block (buffers to write one after the other) of the events `rows`, in
        that order: the columns of NATIVE_COLUMNS, properties in the JSON type's flattened
        serialization (per path: a type, a UInt8 per row, 0 = has a value, 1 = has none,
        then the values of the rows that have one)."""
        person, sess, as_user = self.person[rows], self.sess[rows], self.as_user[rows]
        person_a, sess_a = pa.array(person), pa.array(sess)
        paths: dict[str, tuple[str, np.ndarray, pa.Array]] = {}
        for part in self.parts:
            index = part.index[rows]
            index_a = pa.array(index, mask=index < 0)
            for key, (kind, vocab) in part.native.items():
                values = vocab.take(index_a)
                if values.null_count == len(values):
                    continue  # no row of this block has the property
                has = values.is_valid().to_numpy(zero_copy_only=False)
                paths[key] = (kind, np.where(has, 0, 1).astype(np.uint8), values.drop_null())
        names = sorted(paths)
        properties = [struct.pack("<Q", _NATIVE_FLATTENED), _varint(len(names)), *(_str(k) for k in names)]
        for key in names:
            properties += [struct.pack("<Q", _NATIVE_FLATTENED), b"\x01", _str(paths[key][0])]
        for key in names:
            properties += [paths[key][1].tobytes(), _binary_data(paths[key][2])]
        distinct = pc.if_else(
            pa.array(as_user),
            _strings(self.user_ids).take(person_a),
            _strings(self.anon_ids).take(person_a),
        )
        data = {
            "uuid": [_uuid_native(self.uuid_raw[rows])],
            "event": [_binary_data(_EVENT_NAMES.take(pa.array(self.event[rows])))],
            "distinct_id": [_binary_data(distinct)],
            "person_id": [_uuid_native(self.person_raw)[person]],
            "timestamp": [self.ts[rows].astype("<i8").tobytes()],
            "properties": properties,
            "session_id": [_binary_data(_strings(self.session_ids).take(sess_a))],
            "window_id": [_binary_data(_strings(self.window_ids).take(sess_a))],
        }
        out = [_varint(len(NATIVE_COLUMNS)), _varint(len(rows))]
        for name, kind in NATIVE_COLUMNS:
            out += [_str(name), _str(kind), *data[name]]
        return out


def generate_chunk(spec: DemoSpec, index: int, now_us: int | None = None) -> Chunk:
    """The rows of persons [index * PERSONS_PER_CHUNK, ...): pure, deterministic for (seed, index)."""
    rng = np.random.default_rng([spec.seed, index])
    first = index * PERSONS_PER_CHUNK
    n = min(PERSONS_PER_CHUNK, spec.persons - first)
    start_us, end_us = spec.window
    cut_us = end_us if now_us is None else min(end_us, now_us)

    # -- persons: who they are and how far they get
    country = _pick(rng, np.cumsum([c[1] for c in COUNTRIES]), n)
    tz_s = _COUNTRY_TZ_S[country]
    device = _pick(rng, np.cumsum(_DEVICE_P), n)
    os_ = _pick_rows(rng, _OS_BY_DEVICE, device)
    browser = _pick_rows(rng, _BROWSER_BY_OS, os_)
    screen = _SCREEN_FIRST[device] + rng.integers(0, 1 << 30, n) % _SCREEN_COUNT[device]
    channel = _pick(rng, np.cumsum([c[3] for c in CHANNELS]), n)
    utm = np.full(n, -1)
    for ci, p_utm, utms in CAMPAIGNS:
        first_utm = next(i for i, (c, _) in enumerate(_UTM_LIST) if c == ci)
        mask = (channel == ci) & (rng.random(n) < p_utm)
        utm[mask] = first_utm + rng.integers(0, len(utms), int(mask.sum()))
    signup_p = _SIGNUP_RATE[channel] * np.where(device == 1, 0.7, 1.0)
    # level: -1 anonymous, 0 signed up, 1..3 onboarding steps done, 4 activated
    level = np.full(n, -1)
    level[rng.random(n) < signup_p] = 0
    for step, p in ((1, 0.9), (2, 0.8), (3, 0.85), (4, 0.8)):
        level[(level == step - 1) & (rng.random(n) < p)] = step
    purchaser = (level == 4) & (rng.random(n) < 0.4)
    signup_plan = _pick(rng, np.cumsum(_SIGNUP_PLAN_P), n)
    bought_plan = _pick(rng, np.cumsum(_PURCHASE_PLAN_P), n)
    annual = rng.random(n) < 0.25
    core = rng.random(n) < 0.3

    # -- landing: a local day (weekday-weighted, growing), a local daytime hour. People also
    # arrive during a warm-up before the window, so it opens with returning users already.
    warmup = min(WARMUP_DAYS, spec.days)
    warm_us = start_us - warmup * DAY_US
    span = warmup + spec.days
    weekday = (warm_us // DAY_US + np.arange(span) + 3) % 7
    day_w = _WEEKDAY_VISIT[weekday] * (1 + 0.3 * np.arange(span) / span)
    land_day = _pick(rng, np.cumsum(day_w), n)
    land_us = warm_us + (land_day * 86_400 + _local_second(rng, _HOURS_VISIT, n) - tz_s) * US
    land_us += rng.integers(0, US, n)
    land_us = np.where(land_us < warm_us, land_us + DAY_US, land_us)
    land_us = np.where(land_us >= end_us, land_us - DAY_US, land_us)
    land_local_day = (land_us // US + tz_s) // 86_400

    # -- return visits: days after landing, exponentially fewer with time (the retention curve)
    lam = np.select([level == 4, level >= 0], [np.where(core, 14.0, 6.0), 1.5], 0.6) + np.where(
        purchaser, 4.0, 0
    )
    tau = np.select([level == 4, level >= 0], [np.where(core, 35.0, 6.0), 4.0], 4.0)
    k = rng.poisson(lam)
    r_person = np.repeat(np.arange(n), k)
    r_offset = 1 + np.floor(rng.exponential(tau[r_person])).astype(np.int64)
    p_person = np.flatnonzero(purchaser)
    p_offset = 1 + np.floor(rng.exponential(3.0, len(p_person))).astype(np.int64)
    o_person = np.concatenate([p_person, r_person])
    o_kind = np.concatenate([np.full(len(p_person), 1), np.where(level[r_person] >= 0, 2, 3)])
    o_day = land_local_day[o_person] + np.concatenate([p_offset, r_offset])
    o_us = (o_day * 86_400 + _local_second(rng, _HOURS_APP, len(o_person)) - tz_s[o_person]) * US
    o_us += rng.integers(0, US, len(o_person))
    keep = (o_us < cut_us) & (rng.random(len(o_person)) < _WEEKDAY_APP[(o_day + 3) % 7])
    _, first_of_day = np.unique(
        o_person[keep] * 100_000 + (o_day[keep] - land_local_day[o_person[keep]]), return_index=True
    )
    sel = np.flatnonzero(keep)[np.sort(first_of_day)]  # one visit per person and day, purchase first
    o_person, o_kind, o_us = o_person[sel], o_kind[sel], o_us[sel]

    s_person = np.concatenate([np.arange(n), o_person])
    s_kind = np.concatenate([np.zeros(n, np.int64), o_kind])
    s_start = np.concatenate([land_us, o_us])
    s_ref = np.concatenate([channel, _pick(rng, np.cumsum([0.2, 0.7, 0.0, 0.1, 0.0]), len(o_person))])
    ns = len(s_person)

    rows = _Rows()
    # landing session: browse 1..6 marketing pages, clicks, rare errors
    landing = np.arange(n)
    n_pv = np.minimum(rng.geometric(0.5, n), 6)
    b_sess = np.repeat(landing, n_pv)
    b_pos = np.arange(len(b_sess)) - np.repeat(np.cumsum(n_pv) - n_pv, n_pv)
    groups = _pick_rows(rng, np.array([c[4] for c in CHANNELS]), channel[b_sess])
    groups = np.where(b_pos == 0, groups, _pick(rng, _BROWSE_GROUPS, len(b_sess)))
    rows.add(b_sess, 10 * b_pos, PAGEVIEW, page=_pages(rng, groups))
    click = rng.random(len(b_sess)) < 0.45
    rows.add(
        b_sess[click],
        10 * b_pos[click] + 1,
        AUTOCAPTURE,
        extra=_CLICK0 + rng.integers(0, 4, int(click.sum())),
    )
    err = rng.random(len(b_sess)) < 0.01
    rows.add(
        b_sess[err],
        10 * b_pos[err] + 2,
        EXCEPTION,
        extra=_EXTRAS.index[("exception", 0)] + rng.integers(0, len(EXCEPTIONS), int(err.sum())),
    )
    # ... then the sign-up and onboarding funnel, as far as each person's level goes
    extras = _EXTRAS.copy()
    signup_template = (
        # (level needed, event, page, extra)
        (0, PAGEVIEW, _P["/signup"], -1),
        (0, AUTOCAPTURE, -1, _EXTRAS.index[("click", "Create account")]),
        (0, IDENTIFY, -1, -2),
        (0, SIGNED_UP, -1, -3),
        (1, PAGEVIEW, _P["/onboarding/1"], -1),
        (1, ONBOARDING, -1, _EXTRAS.index[("step", 1)]),
        (2, PAGEVIEW, _P["/onboarding/2"], -1),
        (2, ONBOARDING, -1, _EXTRAS.index[("step", 2)]),
        (3, PAGEVIEW, _P["/onboarding/3"], -1),
        (3, ONBOARDING, -1, _EXTRAS.index[("step", 3)]),
        (4, ACTIVATED, -1, -1),
        (4, PAGEVIEW, _P["/account"], -1),
    )
    need = np.array([t[0] for t in signup_template])
    person_i, step_i = np.nonzero(level[:, None] >= need[None, :])
    tmpl_event = np.array([t[1] for t in signup_template])[step_i]
    tmpl_extra = np.array([t[3] for t in signup_template])[step_i]
    # $identify carries this person's $anon_distinct_id and $set; signed_up its plan.
    signed = np.flatnonzero(level >= 0)
    anon_ids = _uuid_text(_uuids(rng, ms=land_us // 1000))
    global_no = first + np.arange(n) + 1
    first_name = rng.integers(0, len(FIRST_NAMES), n)
    last_name = rng.integers(0, len(LAST_NAMES), n)
    email_domain = rng.integers(0, len(EMAIL_DOMAINS), n)
    names = {int(i): f"{FIRST_NAMES[first_name[i]]} {LAST_NAMES[last_name[i]]}" for i in signed}
    emails = {
        int(i): f"{FIRST_NAMES[first_name[i]].lower()}.{global_no[i]}@{EMAIL_DOMAINS[email_domain[i]]}"
        for i in signed
    }
    identify_extra = np.full(n, -1)
    signed_a = pa.array(signed)
    signed_names = pa.array([names[int(i)] for i in signed], pa.string())
    signed_emails = pa.array([emails[int(i)] for i in signed], pa.string())
    identify_extra[signed] = extras.add_block(
        len(signed),
        lambda: [
            ",".join((_kv("$anon_distinct_id", anon), '"$set":' + _js({"email": email, "name": name})))
            for anon, email, name in zip(
                anon_ids.take(signed_a).to_pylist(),
                signed_emails.to_pylist(),
                signed_names.to_pylist(),
                strict=True,
            )
        ],
        {
            "$anon_distinct_id": ("String", _strings(anon_ids.take(signed_a))),
            "$set.email": ("String", _strings(signed_emails)),
            "$set.name": ("String", _strings(signed_names)),
        },
    ) + np.arange(len(signed))
    tmpl_extra = np.where(tmpl_extra == -2, identify_extra[person_i], tmpl_extra)
    tmpl_extra = np.where(tmpl_extra == -3, _EXTRAS.index[("plan", 0)] + signup_plan[person_i], tmpl_extra)
    rows.add(
        person_i,
        1000 + step_i,
        tmpl_event,
        page=np.array([t[2] for t in signup_template])[step_i],
        extra=tmpl_extra,
        as_user=step_i >= 2,
    )

    # purchase visits: pricing -> checkout -> purchase (revenue in the visitor's currency)
    purchase_s = np.flatnonzero(s_kind == 1)
    pp = s_person[purchase_s]
    plan_name = np.array(PLANS, dtype=object)[bought_plan[pp]]
    revenue = np.array([_PRICE.get(p, 0.0) for p in PLANS])[bought_plan[pp]] * np.where(annual[pp], 10, 1)
    currency = np.array([c[3] for c in COUNTRIES], dtype=object)[country[pp]]
    billing = np.where(annual[pp], "annual", "monthly").astype(object)
    purchase_extra = extras.add_block(
        len(pp),
        lambda: [
            ",".join((_kv("revenue", float(r)), _kv("currency", c), _kv("plan", p), _kv("billing", b)))
            for r, c, p, b in zip(revenue, currency, plan_name, billing, strict=True)
        ],
        {
            "revenue": ("Float64", _fixed_binary(revenue.astype("<f8").view(np.uint8).reshape(-1, 8))),
            "currency": ("String", _strings(pa.array(currency, pa.string()))),
            "plan": ("String", _strings(pa.array(plan_name, pa.string()))),
            "billing": ("String", _strings(pa.array(billing, pa.string()))),
        },
    ) + np.arange(len(pp))
    purchase_steps = (
        (PAGEVIEW, _P["/pricing"], -1),
        (AUTOCAPTURE, -1, _EXTRAS.index[("click", "Choose plan")]),
        (PAGEVIEW, _P["/checkout"], -1),
        (AUTOCAPTURE, -1, _EXTRAS.index[("click", "Pay now")]),
        (PURCHASE, -1, None),
        (PAGEVIEW, _P["/account"], -1),
    )
    for j, (event, page, extra) in enumerate(purchase_steps):
        rows.add(
            purchase_s, j, event, page=page, extra=purchase_extra if extra is None else extra, as_user=True
        )

    # returning users: a product page, then actions; anonymous returners browse a little
    user_s = np.flatnonzero(s_kind == 2)
    rows.add(user_s, 0, PAGEVIEW, page=_pages(rng, _pick(rng, _APP_GROUPS, len(user_s))), as_user=True)
    m = 1 + rng.poisson(4, len(user_s))
    a_sess = np.repeat(user_s, m)
    a_pos = np.arange(len(a_sess)) - np.repeat(np.cumsum(m) - m, m)
    action = _pick(rng, np.cumsum([0.42, 0.20, 0.20, 0.14, 0.04]), len(a_sess))
    a_event = np.array([FEATURE, PAGEVIEW, AUTOCAPTURE, SEARCH, EXCEPTION])[action]
    a_extra = np.select(
        [action == 0, action == 2, action == 3, action == 4],
        [
            _EXTRAS.index[("feature", 0)] + _pick(rng, _FEATURE_CDF, len(a_sess)),
            _CLICK0 + rng.integers(4, len(CLICKS), len(a_sess)),
            _EXTRAS.index[("query", 0)] + _pick(rng, _QUERY_CDF, len(a_sess)),
            _EXTRAS.index[("exception", 0)] + rng.integers(0, len(EXCEPTIONS), len(a_sess)),
        ],
        -1,
    )
    a_page = np.where(a_event == PAGEVIEW, _pages(rng, _pick(rng, _APP_GROUPS, len(a_sess))), -1)
    rows.add(a_sess, 1 + a_pos, a_event, page=a_page, extra=a_extra, as_user=True)
    anon_s = np.flatnonzero(s_kind == 3)
    m = np.minimum(rng.geometric(0.6, len(anon_s)), 4)
    v_sess = np.repeat(anon_s, m)
    v_pos = np.arange(len(v_sess)) - np.repeat(np.cumsum(m) - m, m)
    rows.add(v_sess, 10 * v_pos, PAGEVIEW, page=_pages(rng, _pick(rng, _ANON_GROUPS, len(v_sess))))
    click = rng.random(len(v_sess)) < 0.3
    rows.add(
        v_sess[click],
        10 * v_pos[click] + 1,
        AUTOCAPTURE,
        extra=_CLICK0 + rng.integers(0, 4, int(click.sum())),
    )
    # every visit ends with a $pageleave (identified in a landing visit that signed up)
    rows.add(np.arange(ns), 1_000_000, PAGELEAVE, as_user=np.concatenate([level >= 0, s_kind[n:] != 3]))

    sess, _order, event, page, extra, as_user = rows.build()
    total = len(sess)
    # timestamps: the visit's start plus lognormal gaps between consecutive events
    gap = np.exp(np.log(_GAP_MEDIAN_S[event]) + _GAP_SIGMA[event] * rng.standard_normal(total))
    new_session = np.ones(total, bool)
    new_session[1:] = sess[1:] != sess[:-1]
    gap_us = np.where(new_session, 0, (gap * US).astype(np.int64))
    cum = np.cumsum(gap_us)
    session_base = np.maximum.accumulate(np.where(new_session, np.arange(total), 0))
    ts = s_start[sess] + cum - cum[session_base]
    # a campaign landing's URL carries its utm_* query (and the page's later events with it)
    utm_row = new_session & (sess < n) & (utm[np.minimum(sess, n - 1)] >= 0)
    pages = _PAGE_FRAGS.copy()
    landing_url: dict[tuple[int, int], int] = {}
    for i in np.flatnonzero(utm_row):
        key = (int(page[i]), int(utm[sess[i]]))
        if key not in landing_url:
            path, (source, medium, campaign) = PAGES[key[0]], _UTM_LIST[key[1]][1]
            query = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
            landing_url[key] = pages.add(_page_pairs(path, query))
        page[i] = landing_url[key]
    # events on a page happen on the page most recently viewed in that visit
    page = page[np.maximum.accumulate(np.where(page >= 0, np.arange(total), 0))]
    person = s_person[sess]

    # identities and purchases count until the cut, even before the window (warm-up)
    before_cut = ts < cut_us
    identify_us = np.full(n, -1, np.int64)
    done = before_cut & (event == IDENTIFY)
    identify_us[person[done]] = ts[done]
    bought = np.zeros(n, bool)
    bought[person[before_cut & (event == PURCHASE)]] = True
    kept = before_cut & (ts >= start_us)
    sess, event, page, extra, as_user, ts, person, utm_row = (
        a[kept] for a in (sess, event, page, extra, as_user, ts, person, utm_row)
    )
    total = len(ts)

    # -- columns (encoded on demand: JSON text for ch.insert, Native for the embedded path)
    person_raw = _uuids(rng, n=n)
    person_ids = _uuid_text(person_raw)
    user_ids = pa.array([f"user_{g}" for g in global_no])
    session_ids = _uuid_text(_uuids(rng, ms=s_start // 1000))
    window_ids = _uuid_text(_uuids(rng, ms=s_start // 1000 + 1))

    # what every event of a visit carries: the person's device and location, the visit's
    # referrer and ids (one fragment per visit)

    def visit_json():
        return pc.binary_join_element_wise(
            *(
                pa.array(f.json).take(pa.array(i[s_person]))
                for f, i in _person_frags(browser, os_, device, screen, country)
            ),
            _LIB_FRAGS.json[0],
            pa.array(_REF_FRAGS.json).take(pa.array(s_ref)),
            pc.binary_join_element_wise(
                '"$session_id":"', session_ids, '","$window_id":"', window_ids, '"', ""
            ),
            ",",
        )

    def visit_native():
        columns = {}
        for frags, values in (
            *_person_frags(browser, os_, device, screen, country),
            (_LIB_FRAGS, np.zeros(n, int)),
        ):
            for key, (kind, vocab) in _native_columns([_flat(p) for p in frags.pairs]).items():
                columns[key] = (kind, vocab.take(pa.array(values[s_person])))
        for key, (kind, vocab) in _native_columns([_flat(p) for p in _REF_FRAGS.pairs]).items():
            columns[key] = (kind, vocab.take(pa.array(s_ref)))
        columns["$session_id"] = ("String", _strings(session_ids))
        columns["$window_id"] = ("String", _strings(window_ids))
        return columns

    parts = [
        pages.part(page),
        extras.part(extra),
        _UTM_FRAGS.part(np.where(utm_row, utm[np.minimum(sess, n - 1)], -1)),
        _ANON_FRAGS.part(np.where(as_user, -1, 0)),
        _Part(visit_json, visit_native, ns, sess),
    ]
    events = _Events(
        project_id=spec.project_id,
        uuid_raw=_uuids(rng, ms=ts // 1000),
        event=event,
        ts=ts,
        person=person,
        sess=sess,
        as_user=as_user,
        parts=parts,
        person_raw=person_raw,
        person_ids=person_ids,
        user_ids=user_ids,
        anon_ids=anon_ids,
        session_ids=session_ids,
        window_ids=window_ids,
    )

    # -- persons (identified only) and the distinct_id -> person mapping, for everyone with
    # events in the window
    seen = np.zeros(n, bool)
    seen[person] = True
    identified = np.flatnonzero(seen & (identify_us >= 0))
    plan_now = np.where(bought, bought_plan, signup_plan)
    persons = {
        "project_id": np.full(len(identified), spec.project_id, np.uint32),
        "id": person_ids.take(pa.array(identified)),
        "created_at": land_us[identified].astype("datetime64[us]"),
        "properties": [
            _js(
                {
                    "email": emails[int(i)],
                    "name": names[int(i)],
                    "plan": PLANS[plan_now[i]],
                    "country": COUNTRIES[country[i]][0],
                    "created_at": dt.datetime.fromtimestamp(land_us[i] / US, dt.UTC).isoformat(
                        timespec="seconds"
                    ),
                    "$initial_referring_domain": CHANNELS[channel[i]][2],
                    "$initial_browser": BROWSERS[browser[i]],
                    "$initial_os": OSES[os_[i]],
                    "$initial_device_type": DEVICES[device[i]],
                    **({"$initial_utm_source": _UTM_LIST[utm[i]][1][0]} if utm[i] >= 0 else {}),
                }
            )
            for i in identified
        ],
        "is_identified": np.ones(len(identified), np.uint8),
        "version": identify_us[identified].astype(np.uint64),
    }
    anon_rows = np.flatnonzero(seen)
    pdi_person = np.concatenate([anon_rows, identified])
    pdi_person_a = pa.array(pdi_person)
    person_distinct_ids = {
        "project_id": np.full(len(pdi_person), spec.project_id, np.uint32),
        "distinct_id": pa.concat_arrays(
            [anon_ids.take(pa.array(anon_rows)), user_ids.take(pa.array(identified))]
        ),
        "person_id": person_ids.take(pdi_person_a),
        "version": np.concatenate(
            [
                np.where(identify_us[anon_rows] >= 0, identify_us[anon_rows], land_us[anon_rows]),
                identify_us[identified],
            ]
        ).astype(np.uint64),
    }
    return Chunk(events, persons, person_distinct_ids, visitors=len(anon_rows))


# ---------------------------------------------------------------- writing
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _insert_pool() -> ThreadPoolExecutor:
    """Long-lived insert threads: the layer keeps a connection per thread, so reuse the threads."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(INSERT_THREADS, thread_name_prefix="demo-insert")
        return _pool


_INSERT_NATIVE = """
INSERT INTO events (uuid, project_id, event, distinct_id, person_id, timestamp, properties, session_id, window_id)
SELECT uuid, {project_id:UInt32}, event, distinct_id, person_id, fromUnixTimestamp64Micro(timestamp, 'UTC'),
    properties, session_id, window_id
FROM file({path:String}, 'Native')
SETTINGS optimize_on_insert = 0
"""


def _concat(columns: list[dict]) -> dict:
    out = {}
    for name, first in columns[0].items():
        values = [c[name] for c in columns]
        if isinstance(first, list):
            out[name] = [v for part in values for v in part]
        elif isinstance(first, pa.Array):
            out[name] = pa.concat_arrays(values)
        else:
            out[name] = np.concatenate(values)
    return out


def _insert_people(chunks: list[Chunk]) -> None:
    ch.insert("persons", _concat([c.persons for c in chunks]))
    ch.insert("person_distinct_ids", _concat([c.person_distinct_ids for c in chunks]))


def _insert_columns(chunks: list[Chunk], directory: str | None, stages: dict) -> int:
    """The portable path (any backend): properties as JSON text, parsed by the engine."""
    _insert_people(chunks)
    return sum(ch.insert("events", c.events.columns()) for c in chunks)


def _insert_native(chunks: list[Chunk], directory: str, stages: dict) -> int:
    """The embedded path: events sorted by the events sorting key, one Native block
    (JSON in its flattened serialization), temporary file and INSERT per month partition.

    Measured on chdb 26.9 (docs/clickhouse.md, "Demo data"): parsing JSON text is
    ~8 µs/row, permuting an unsorted block's JSON column another ~5-19 µs/row and
    `optimize_on_insert` ~4 µs/row; a flattened Native JSON column reads in ~0.2 µs and a
    block already in key order is written without a permutation.
    """
    started = time.thread_time()
    _insert_people(chunks)
    people_done = time.thread_time()
    events = _Events.concat([c.events for c in chunks])
    if not events.n:
        return 0  # e.g. a window that ends before the clock's day: nothing to write
    order = events.sort_order()
    months = (events.ts[order] // DAY_US).astype("datetime64[D]").astype("datetime64[M]")
    bounds = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), len(order)]
    insert_s = 0.0
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        block = events.native(order[first:last])
        inserting = time.thread_time()
        fd, path = tempfile.mkstemp(dir=directory, suffix=".native")
        try:
            with os.fdopen(fd, "wb") as out:
                for buffer in block:
                    out.write(buffer)
            del block
            ch.command(_INSERT_NATIVE, {"project_id": events.project_id, "path": path})
        finally:
            os.remove(path)
        insert_s += time.thread_time() - inserting
    with _pool_lock:
        stages["people_cpu_s"] = stages.get("people_cpu_s", 0.0) + people_done - started
        stages["encode_cpu_s"] = stages.get("encode_cpu_s", 0.0) + time.thread_time() - people_done - insert_s
        stages["insert_thread_cpu_s"] = stages.get("insert_thread_cpu_s", 0.0) + insert_s
    return len(order)


def _scratch_directory() -> str:
    """A private directory for the Native files: in memory (/dev/shm) when there is
    room, so the disk never sees them (each lives for one INSERT, at most ~200 MB)."""
    shm = "/dev/shm"  # noqa: S108 - a private mkdtemp directory inside it
    try:
        stat = os.statvfs(shm)
        roomy = stat.f_bavail * stat.f_frsize > 2 * 1024**3
    except OSError:
        roomy = False
    return tempfile.mkdtemp(prefix="sextant-demo-", dir=shm if roomy else None)


def write(
    spec: DemoSpec, *, progress: bool = False, now_us: int | None = None, stages: dict | None = None
) -> dict:
    """Generate spec's data and insert it; returns the summary.

    The main thread generates chunks; batches of about BATCH_EVENTS events go to
    INSERT_THREADS threads that encode and insert them (chdb releases the GIL), so
    generation, encoding and the engine's work overlap. `stages`, when given, is
    filled with the CPU seconds of each stage (bench/bench_demo_insert.py).
    """
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    stages = {} if stages is None else stages
    started = time.perf_counter()
    pool = _insert_pool()
    embedded = ch.backend().name == "chdb"
    insert = _insert_native if embedded else _insert_columns
    directory = _scratch_directory() if embedded else None
    pending: deque = deque()
    totals = {"events": 0, "persons": 0, "visitors": 0, "distinct_ids": 0}
    bar = tqdm(total=spec.persons, unit="person", disable=not progress, dynamic_ncols=True)
    batch: list[Chunk] = []

    def finish_oldest():
        totals["events"] += pending.popleft().result()
        bar.set_postfix(events_written=totals["events"])

    def submit():
        nonlocal batch
        pending.append(pool.submit(insert, batch, directory, stages))
        batch = []
        while len(pending) > INSERT_THREADS:
            finish_oldest()

    try:
        for index in range(spec.chunks):
            generating = time.thread_time()
            chunk = generate_chunk(spec, index, now_us)
            stages["generate_cpu_s"] = stages.get("generate_cpu_s", 0.0) + time.thread_time() - generating
            totals["persons"] += len(chunk.persons["id"])
            totals["visitors"] += chunk.visitors
            totals["distinct_ids"] += len(chunk.person_distinct_ids["distinct_id"])
            batch.append(chunk)
            # the bar counts persons simulated; at most INSERT_THREADS + 1 batches trail it
            bar.update(min(PERSONS_PER_CHUNK, spec.persons - index * PERSONS_PER_CHUNK))
            if sum(c.n_events for c in batch) >= BATCH_EVENTS:
                submit()
        if batch:
            submit()
        bar.set_description("writing")
        while pending:
            finish_oldest()
    finally:
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                future.exception()  # wait: the temporary directory is removed next
        bar.close()
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
    seconds = time.perf_counter() - started
    start_us, end_us = spec.window
    return {
        "project_id": spec.project_id,
        "seed": spec.seed,
        "start": dt.datetime.fromtimestamp(start_us / US, dt.UTC).isoformat(),
        "end": dt.datetime.fromtimestamp(min(end_us, now_us) / US, dt.UTC).isoformat(),
        **totals,
        "seconds": round(seconds, 3),
        "events_per_second": round(totals["events"] / seconds) if seconds else 0,
    }


def generate(
    project_id: int, persons: int, days: int, seed: int, end: dt.date | None = None, progress: bool = False
) -> dict:
    """Simulate `persons` people and write their journeys in the `days` days ending `end`
    (default today, UTC) into project `project_id`.

    Returns {"project_id", "seed", "start", "end", "events", "persons" (identified
    person rows written), "visitors" (people with events in the window), "distinct_ids"
    (mapping rows written), "seconds", "events_per_second"}.
    """
    if persons < 1 or days < 1:
        raise ValueError("persons and days must be at least 1")
    spec = DemoSpec(project_id, persons, days, seed, end or dt.datetime.now(dt.UTC).date())
    return write(spec, progress=progress)
