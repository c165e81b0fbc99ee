"""The journeys: `generate_chunk(spec, i)` simulates persons [i * PERSONS_PER_CHUNK, ...)
with vectorized numpy/pyarrow ops from a RNG seeded with (seed, i). Pure: the same
seed and window give the same rows, whatever the project id."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics_app.clickhouse import native

from .events import Events, random_uuids, uuid_text
from .fragments import (
    ANON_FRAGS,
    BROWSER_FRAGS,
    CLICK0,
    COUNTRY_FRAGS,
    DEVICE_FRAGS,
    EXTRAS,
    LIB_FRAGS,
    OS_FRAGS,
    PAGE_FRAGS,
    REF_FRAGS,
    SCREEN_FRAGS,
    UTM_FRAGS,
    UTM_LIST,
    Frags,
    Part,
    flat,
    js,
    kv,
    native_columns,
    page_pairs,
)
from .vocabulary import (
    ACTIVATED,
    ANON_GROUPS,
    APP_GROUPS,
    AUTOCAPTURE,
    BLOG_CDF,
    BROWSE_GROUPS,
    BROWSER_BY_OS,
    BROWSERS,
    CAMPAIGNS,
    CHANNELS,
    CLICKS,
    COUNTRIES,
    COUNTRY_TZ_S,
    DAY_US,
    DEVICE_P,
    DEVICES,
    EMAIL_DOMAINS,
    EXCEPTION,
    EXCEPTIONS,
    FEATURE,
    FEATURE_CDF,
    FIRST_NAMES,
    GAP_MEDIAN_S,
    GAP_SIGMA,
    GROUP_FIRST,
    HOURS_APP,
    HOURS_VISIT,
    IDENTIFY,
    LAST_NAMES,
    ONBOARDING,
    OS_BY_DEVICE,
    OSES,
    PAGE_NO,
    PAGELEAVE,
    PAGES,
    PAGEVIEW,
    PLANS,
    PRICE,
    PRODUCT_CDF,
    PURCHASE,
    PURCHASE_PLAN_P,
    QUERY_CDF,
    SCREEN_COUNT,
    SCREEN_FIRST,
    SEARCH,
    SIGNED_UP,
    SIGNUP_PLAN_P,
    SIGNUP_RATE,
    US,
    WEEKDAY_APP,
    WEEKDAY_VISIT,
)

PERSONS_PER_CHUNK = 8192
WARMUP_DAYS = 28  # at most; never longer than the window itself


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
    events: Events
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
    item[blog] = _pick(rng, BLOG_CDF, int(blog.sum()))
    item[product] = _pick(rng, PRODUCT_CDF, int(product.sum()))
    return GROUP_FIRST[groups] + item


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


def person_frags(browser, os_, device, screen, country) -> list[tuple[Frags, np.ndarray]]:
    return [
        (BROWSER_FRAGS, browser),
        (OS_FRAGS, os_),
        (DEVICE_FRAGS, device),
        (SCREEN_FRAGS, screen),
        (COUNTRY_FRAGS, country),
    ]


def generate_chunk(spec: DemoSpec, index: int, now_us: int | None = None) -> Chunk:
    """The rows of persons [index * PERSONS_PER_CHUNK, ...): pure, deterministic for (seed, index)."""
    rng = np.random.default_rng([spec.seed, index])
    first = index * PERSONS_PER_CHUNK
    n = min(PERSONS_PER_CHUNK, spec.persons - first)
    start_us, end_us = spec.window
    cut_us = end_us if now_us is None else min(end_us, now_us)

    # -- persons: who they are and how far they get
    country = _pick(rng, np.cumsum([c[1] for c in COUNTRIES]), n)
    tz_s = COUNTRY_TZ_S[country]
    device = _pick(rng, np.cumsum(DEVICE_P), n)
    os_ = _pick_rows(rng, OS_BY_DEVICE, device)
    browser = _pick_rows(rng, BROWSER_BY_OS, os_)
    screen = SCREEN_FIRST[device] + rng.integers(0, 1 << 30, n) % SCREEN_COUNT[device]
    channel = _pick(rng, np.cumsum([c[3] for c in CHANNELS]), n)
    utm = np.full(n, -1)
    for ci, p_utm, utms in CAMPAIGNS:
        first_utm = next(i for i, (c, _) in enumerate(UTM_LIST) if c == ci)
        mask = (channel == ci) & (rng.random(n) < p_utm)
        utm[mask] = first_utm + rng.integers(0, len(utms), int(mask.sum()))
    signup_p = SIGNUP_RATE[channel] * np.where(device == 1, 0.7, 1.0)
    # level: -1 anonymous, 0 signed up, 1..3 onboarding steps done, 4 activated
    level = np.full(n, -1)
    level[rng.random(n) < signup_p] = 0
    for step, p in ((1, 0.9), (2, 0.8), (3, 0.85), (4, 0.8)):
        level[(level == step - 1) & (rng.random(n) < p)] = step
    purchaser = (level == 4) & (rng.random(n) < 0.4)
    signup_plan = _pick(rng, np.cumsum(SIGNUP_PLAN_P), n)
    bought_plan = _pick(rng, np.cumsum(PURCHASE_PLAN_P), n)
    annual = rng.random(n) < 0.25
    core = rng.random(n) < 0.3

    # -- landing: a local day (weekday-weighted, growing), a local daytime hour. People also
    # arrive during a warm-up before the window, so it opens with returning users already.
    warmup = min(WARMUP_DAYS, spec.days)
    warm_us = start_us - warmup * DAY_US
    span = warmup + spec.days
    weekday = (warm_us // DAY_US + np.arange(span) + 3) % 7
    day_w = WEEKDAY_VISIT[weekday] * (1 + 0.3 * np.arange(span) / span)
    land_day = _pick(rng, np.cumsum(day_w), n)
    land_us = warm_us + (land_day * 86_400 + _local_second(rng, HOURS_VISIT, n) - tz_s) * US
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
    o_us = (o_day * 86_400 + _local_second(rng, HOURS_APP, len(o_person)) - tz_s[o_person]) * US
    o_us += rng.integers(0, US, len(o_person))
    keep = (o_us < cut_us) & (rng.random(len(o_person)) < WEEKDAY_APP[(o_day + 3) % 7])
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
    groups = np.where(b_pos == 0, groups, _pick(rng, BROWSE_GROUPS, len(b_sess)))
    rows.add(b_sess, 10 * b_pos, PAGEVIEW, page=_pages(rng, groups))
    click = rng.random(len(b_sess)) < 0.45
    rows.add(
        b_sess[click],
        10 * b_pos[click] + 1,
        AUTOCAPTURE,
        extra=CLICK0 + rng.integers(0, 4, int(click.sum())),
    )
    err = rng.random(len(b_sess)) < 0.01
    rows.add(
        b_sess[err],
        10 * b_pos[err] + 2,
        EXCEPTION,
        extra=EXTRAS.index[("exception", 0)] + rng.integers(0, len(EXCEPTIONS), int(err.sum())),
    )
    # ... then the sign-up and onboarding funnel, as far as each person's level goes
    extras = EXTRAS.copy()
    signup_template = (
        # (level needed, event, page, extra)
        (0, PAGEVIEW, PAGE_NO["/signup"], -1),
        (0, AUTOCAPTURE, -1, EXTRAS.index[("click", "Create account")]),
        (0, IDENTIFY, -1, -2),
        (0, SIGNED_UP, -1, -3),
        (1, PAGEVIEW, PAGE_NO["/onboarding/1"], -1),
        (1, ONBOARDING, -1, EXTRAS.index[("step", 1)]),
        (2, PAGEVIEW, PAGE_NO["/onboarding/2"], -1),
        (2, ONBOARDING, -1, EXTRAS.index[("step", 2)]),
        (3, PAGEVIEW, PAGE_NO["/onboarding/3"], -1),
        (3, ONBOARDING, -1, EXTRAS.index[("step", 3)]),
        (4, ACTIVATED, -1, -1),
        (4, PAGEVIEW, PAGE_NO["/account"], -1),
    )
    need = np.array([t[0] for t in signup_template])
    person_i, step_i = np.nonzero(level[:, None] >= need[None, :])
    tmpl_event = np.array([t[1] for t in signup_template])[step_i]
    tmpl_extra = np.array([t[3] for t in signup_template])[step_i]
    # $identify carries this person's $anon_distinct_id and $set; signed_up its plan.
    signed = np.flatnonzero(level >= 0)
    anon_ids = uuid_text(random_uuids(rng, ms=land_us // 1000))
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
            ",".join((kv("$anon_distinct_id", anon), '"$set":' + js({"email": email, "name": name})))
            for anon, email, name in zip(
                anon_ids.take(signed_a).to_pylist(),
                signed_emails.to_pylist(),
                signed_names.to_pylist(),
                strict=True,
            )
        ],
        {
            "$anon_distinct_id": ("String", native.strings(anon_ids.take(signed_a))),
            "$set.email": ("String", native.strings(signed_emails)),
            "$set.name": ("String", native.strings(signed_names)),
        },
    ) + np.arange(len(signed))
    tmpl_extra = np.where(tmpl_extra == -2, identify_extra[person_i], tmpl_extra)
    tmpl_extra = np.where(tmpl_extra == -3, EXTRAS.index[("plan", 0)] + signup_plan[person_i], tmpl_extra)
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
    revenue = np.array([PRICE.get(p, 0.0) for p in PLANS])[bought_plan[pp]] * np.where(annual[pp], 10, 1)
    currency = np.array([c[3] for c in COUNTRIES], dtype=object)[country[pp]]
    billing = np.where(annual[pp], "annual", "monthly").astype(object)
    purchase_extra = extras.add_block(
        len(pp),
        lambda: [
            ",".join((kv("revenue", float(r)), kv("currency", c), kv("plan", p), kv("billing", b)))
            for r, c, p, b in zip(revenue, currency, plan_name, billing, strict=True)
        ],
        {
            "revenue": ("Float64", native.fixed_binary(revenue.astype("<f8").view(np.uint8).reshape(-1, 8))),
            "currency": ("String", native.strings(pa.array(currency, pa.string()))),
            "plan": ("String", native.strings(pa.array(plan_name, pa.string()))),
            "billing": ("String", native.strings(pa.array(billing, pa.string()))),
        },
    ) + np.arange(len(pp))
    purchase_steps = (
        (PAGEVIEW, PAGE_NO["/pricing"], -1),
        (AUTOCAPTURE, -1, EXTRAS.index[("click", "Choose plan")]),
        (PAGEVIEW, PAGE_NO["/checkout"], -1),
        (AUTOCAPTURE, -1, EXTRAS.index[("click", "Pay now")]),
        (PURCHASE, -1, None),
        (PAGEVIEW, PAGE_NO["/account"], -1),
    )
    for j, (event, page, extra) in enumerate(purchase_steps):
        rows.add(
            purchase_s, j, event, page=page, extra=purchase_extra if extra is None else extra, as_user=True
        )

    # returning users: a product page, then actions; anonymous returners browse a little
    user_s = np.flatnonzero(s_kind == 2)
    rows.add(user_s, 0, PAGEVIEW, page=_pages(rng, _pick(rng, APP_GROUPS, len(user_s))), as_user=True)
    m = 1 + rng.poisson(4, len(user_s))
    a_sess = np.repeat(user_s, m)
    a_pos = np.arange(len(a_sess)) - np.repeat(np.cumsum(m) - m, m)
    action = _pick(rng, np.cumsum([0.42, 0.20, 0.20, 0.14, 0.04]), len(a_sess))
    a_event = np.array([FEATURE, PAGEVIEW, AUTOCAPTURE, SEARCH, EXCEPTION])[action]
    a_extra = np.select(
        [action == 0, action == 2, action == 3, action == 4],
        [
            EXTRAS.index[("feature", 0)] + _pick(rng, FEATURE_CDF, len(a_sess)),
            CLICK0 + rng.integers(4, len(CLICKS), len(a_sess)),
            EXTRAS.index[("query", 0)] + _pick(rng, QUERY_CDF, len(a_sess)),
            EXTRAS.index[("exception", 0)] + rng.integers(0, len(EXCEPTIONS), len(a_sess)),
        ],
        -1,
    )
    a_page = np.where(a_event == PAGEVIEW, _pages(rng, _pick(rng, APP_GROUPS, len(a_sess))), -1)
    rows.add(a_sess, 1 + a_pos, a_event, page=a_page, extra=a_extra, as_user=True)
    anon_s = np.flatnonzero(s_kind == 3)
    m = np.minimum(rng.geometric(0.6, len(anon_s)), 4)
    v_sess = np.repeat(anon_s, m)
    v_pos = np.arange(len(v_sess)) - np.repeat(np.cumsum(m) - m, m)
    rows.add(v_sess, 10 * v_pos, PAGEVIEW, page=_pages(rng, _pick(rng, ANON_GROUPS, len(v_sess))))
    click = rng.random(len(v_sess)) < 0.3
    rows.add(
        v_sess[click],
        10 * v_pos[click] + 1,
        AUTOCAPTURE,
        extra=CLICK0 + rng.integers(0, 4, int(click.sum())),
    )
    # every visit ends with a $pageleave (identified in a landing visit that signed up)
    rows.add(np.arange(ns), 1_000_000, PAGELEAVE, as_user=np.concatenate([level >= 0, s_kind[n:] != 3]))

    sess, _order, event, page, extra, as_user = rows.build()
    total = len(sess)
    # timestamps: the visit's start plus lognormal gaps between consecutive events
    gap = np.exp(np.log(GAP_MEDIAN_S[event]) + GAP_SIGMA[event] * rng.standard_normal(total))
    new_session = np.ones(total, bool)
    new_session[1:] = sess[1:] != sess[:-1]
    gap_us = np.where(new_session, 0, (gap * US).astype(np.int64))
    cum = np.cumsum(gap_us)
    session_base = np.maximum.accumulate(np.where(new_session, np.arange(total), 0))
    ts = s_start[sess] + cum - cum[session_base]
    # a campaign landing's URL carries its utm_* query (and the page's later events with it)
    utm_row = new_session & (sess < n) & (utm[np.minimum(sess, n - 1)] >= 0)
    pages = PAGE_FRAGS.copy()
    landing_url: dict[tuple[int, int], int] = {}
    for i in np.flatnonzero(utm_row):
        key = (int(page[i]), int(utm[sess[i]]))
        if key not in landing_url:
            path, (source, medium, campaign) = PAGES[key[0]], UTM_LIST[key[1]][1]
            query = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
            landing_url[key] = pages.add(page_pairs(path, query))
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

    # -- columns (encoded on demand, as JSON text or Native: whichever the backend takes)
    person_raw = random_uuids(rng, n=n)
    person_ids = uuid_text(person_raw)
    user_ids = pa.array([f"user_{g}" for g in global_no])
    session_ids = uuid_text(random_uuids(rng, ms=s_start // 1000))
    window_ids = uuid_text(random_uuids(rng, ms=s_start // 1000 + 1))

    # what every event of a visit carries: the person's device and location, the visit's
    # referrer and ids (one fragment per visit)

    def visit_json():
        return pc.binary_join_element_wise(
            *(
                pa.array(f.json).take(pa.array(i[s_person]))
                for f, i in person_frags(browser, os_, device, screen, country)
            ),
            LIB_FRAGS.json[0],
            pa.array(REF_FRAGS.json).take(pa.array(s_ref)),
            pc.binary_join_element_wise(
                '"$session_id":"', session_ids, '","$window_id":"', window_ids, '"', ""
            ),
            ",",
        )

    def visit_native():
        columns = {}
        for frags, values in (
            *person_frags(browser, os_, device, screen, country),
            (LIB_FRAGS, np.zeros(n, int)),
        ):
            for key, (kind, vocab) in native_columns([flat(p) for p in frags.pairs]).items():
                columns[key] = (kind, vocab.take(pa.array(values[s_person])))
        for key, (kind, vocab) in native_columns([flat(p) for p in REF_FRAGS.pairs]).items():
            columns[key] = (kind, vocab.take(pa.array(s_ref)))
        columns["$session_id"] = ("String", native.strings(session_ids))
        columns["$window_id"] = ("String", native.strings(window_ids))
        return columns

    parts = [
        pages.part(page),
        extras.part(extra),
        UTM_FRAGS.part(np.where(utm_row, utm[np.minimum(sess, n - 1)], -1)),
        ANON_FRAGS.part(np.where(as_user, -1, 0)),
        Part(visit_json, visit_native, ns, sess),
    ]
    events = Events(
        project_id=spec.project_id,
        uuid_raw=random_uuids(rng, ms=ts // 1000),
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
            js(
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
                    **({"$initial_utm_source": UTM_LIST[utm[i]][1][0]} if utm[i] >= 0 else {}),
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
