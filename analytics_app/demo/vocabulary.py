"""What the demo's people are and do: events, pages, channels, campaigns, countries,
devices, plans, features, names, and the distributions the journeys draw from."""

from __future__ import annotations

import numpy as np

HOST = "https://shop.example.com"
US = 1_000_000
DAY_US = 86_400 * US

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
GAP_MEDIAN_S = np.array([30, 25, 6, 0.4, 0.3, 40, 3, 60, 20, 12, 1.5])
GAP_SIGMA = np.array([0.9, 0.8, 0.7, 0.3, 0.3, 0.6, 0.5, 0.5, 0.8, 0.7, 0.5])

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
PAGE_NO = {path: i for i, path in enumerate(PAGES)}
_BLOG0, _PRODUCT0 = PAGE_NO[f"/blog/{BLOG_SLUGS[0]}"], PAGE_NO[f"/product/{PRODUCT_IDS[0]}"]
# Page groups: home, pricing, features, blog, product, account.
GROUP_FIRST = np.array(
    [PAGE_NO["/"], PAGE_NO["/pricing"], PAGE_NO["/features"], _BLOG0, _PRODUCT0, PAGE_NO["/account"]]
)


def zipf_cdf(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return np.cumsum(w / w.sum())


BLOG_CDF, PRODUCT_CDF = zipf_cdf(len(BLOG_SLUGS)), zipf_cdf(len(PRODUCT_IDS), 0.9)

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
SIGNUP_RATE = np.array([0.24, 0.30, 0.14, 0.36, 0.26])
# Page-group weights while browsing the marketing site / using the product.
BROWSE_GROUPS = np.cumsum([0.18, 0.28, 0.20, 0.20, 0.14, 0.0])
APP_GROUPS = np.cumsum([0.08, 0.04, 0.08, 0.0, 0.45, 0.35])
ANON_GROUPS = np.cumsum([0.25, 0.25, 0.15, 0.30, 0.05, 0.0])

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
COUNTRY_TZ_S = np.array([int(c[2] * 3600) for c in COUNTRIES])

DEVICES = ("Desktop", "Mobile", "Tablet")
DEVICE_P = (0.56, 0.40, 0.04)
OSES = ("Windows", "Mac OS X", "Linux", "Chrome OS", "iOS", "Android")
OS_BY_DEVICE = np.array(
    [
        [0.62, 0.30, 0.05, 0.03, 0.00, 0.00],
        [0.00, 0.00, 0.00, 0.00, 0.55, 0.45],
        [0.00, 0.00, 0.00, 0.00, 0.65, 0.35],
    ]
)
BROWSERS = ("Chrome", "Safari", "Firefox", "Edge")
BROWSER_BY_OS = np.array(
    [
        [0.72, 0.00, 0.08, 0.20],
        [0.55, 0.38, 0.05, 0.02],
        [0.70, 0.00, 0.30, 0.00],
        [1.00, 0.00, 0.00, 0.00],
        [0.20, 0.80, 0.00, 0.00],
        [0.93, 0.00, 0.04, 0.03],
    ]
)
SCREENS = (
    (1280, 1366, 1440, 1536, 1920, 2560),
    (360, 375, 390, 393, 412, 414, 430),
    (768, 810, 820, 834, 1024),
)

PLANS = ("free", "starter", "pro", "enterprise")
SIGNUP_PLAN_P = (0.55, 0.25, 0.17, 0.03)
PURCHASE_PLAN_P = (0.0, 0.50, 0.42, 0.08)
PRICE = {"starter": 29.0, "pro": 99.0, "enterprise": 499.0}
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
HOURS_VISIT = np.array(
    [2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 12, 13, 13, 12, 11, 10, 10, 10, 9, 6, 4], float
)
HOURS_APP = np.array(
    [1, 0.5, 0.5, 0.5, 0.5, 1, 3, 8, 13, 15, 15, 13, 10, 13, 14, 14, 13, 10, 6, 4, 4, 3, 2, 1], float
)
WEEKDAY_VISIT = np.array([1.0, 1.0, 0.98, 0.95, 0.88, 0.6, 0.55])
WEEKDAY_APP = np.array([1.0, 1.0, 1.0, 0.97, 0.85, 0.42, 0.38])

SCREEN_COUNT = np.array([len(widths) for widths in SCREENS])
SCREEN_FIRST = np.cumsum(SCREEN_COUNT) - SCREEN_COUNT
FEATURE_CDF, QUERY_CDF = zipf_cdf(len(FEATURES), 0.8), zipf_cdf(len(QUERIES), 1.0)
