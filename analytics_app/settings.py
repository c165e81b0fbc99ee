"""Sextant settings: everything comes from the environment.

With nothing set, Sextant runs embedded: metadata in SQLite under var/, events in
chdb under var/, Celery inside the one process (memory transport), local-memory
cache. DATABASE_URL, CLICKHOUSE_URL and REDIS_URL switch each part to its
production service. See docs/configuration.md.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SEXTANT_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else generated once into var/secret_key."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
# The public URL SDK snippets point at (defaults to the request's host).
SEXTANT_PUBLIC_URL = os.environ.get("SEXTANT_PUBLIC_URL", "")
# How many reverse proxies in front of Sextant append to X-Forwarded-For; the client's
# address is read that many hops from the right (0: REMOTE_ADDR, proxies ignored).
# Read by the audit log (client IP) and the login lockout.
SEXTANT_PROXY_COUNT = int(os.environ.get("SEXTANT_PROXY_COUNT", "0"))
# Trends and retention matrices read the pre-aggregated trends_rollup table when a query
# allows it (insights/blocks/rollup.py, trends/rollups.py, RetentionQueryRunner.rollup_usable);
# SEXTANT_TRENDS_ROLLUPS=0 forces the raw events path everywhere.
SEXTANT_TRENDS_ROLLUPS = os.environ.get("SEXTANT_TRENDS_ROLLUPS", "1") != "0"
# Funnels whose steps match by event name read `funnel_events` (the events ordered by
# distinct_id, migration 0014) when their range covers most of the months it reads
# (funnels/queries/base.py, FunnelSQL.source_table); SEXTANT_FUNNEL_EVENTS=0 forces `events`.
SEXTANT_FUNNEL_EVENTS = os.environ.get("SEXTANT_FUNNEL_EVENTS", "1") != "0"
# Audit entries older than this many days are purged daily (0: kept forever). docs/audit.md.
AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "365"))
# Share links (docs/dashboards.md, "Sharing"): who may frame /embed/<token>/ pages (CSP
# frame-ancestors sources, space-separated; every other page keeps 'self'), and how many
# requests a minute one client address may make to the public share pages (0: no limit).
SEXTANT_EMBED_FRAME_ANCESTORS = os.environ.get("SEXTANT_EMBED_FRAME_ANCESTORS", "*").split()
SEXTANT_SHARE_RATE_LIMIT = int(os.environ.get("SEXTANT_SHARE_RATE_LIMIT", "120"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # one-use recovery codes (governance/twofactor.py)
    "template_partials",
    "governance",
    "analytics_app",
    "ingestion",
    "insights",
    "trends",
    "explorer",
    "dashboards",
    "funnels",
    "cohorts",
    "retention",
    "paths",
    "replay",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.user.is_verified(); then hold a user who owes a two-factor code at that step.
    "django_otp.middleware.OTPMiddleware",
    "governance.twofactor.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy on every response (django-csp): scripts only from our own files
# (templates hold no inline script or on* handler; behaviours are static/js/ui.js, driven
# by data attributes), no eval (htmx's allowEval is off), nothing framed from elsewhere.
# Inline styles stay allowed: plotly sets style attributes and injects its stylesheet.
# The replay frame sends its own, stricter policy (replay/views_player.py), which the
# middleware leaves alone. docs/access.md, "Content-Security-Policy".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

ROOT_URLCONF = "analytics_app.urls"
WSGI_APPLICATION = "analytics_app.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "analytics_app.context_processors.navigation",
                "alerts.context_processors.bell",
            ],
            "builtins": ["template_partials.templatetags.partials", "analytics_app.templatetags.sextant"],
        },
    },
]

# --- Metadata database: SQLite under var/ unless DATABASE_URL is set. ---
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'sextant.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web threads read while the in-process worker writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Events store: chdb under var/ unless CLICKHOUSE_URL says otherwise. ---
CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", f"chdb://{VAR_DIR / 'chdb'}")
CLICKHOUSE_CLUSTER = os.environ.get("CLICKHOUSE_CLUSTER", "")
# Guard settings applied to every analytics query (seconds / rows).
CLICKHOUSE_MAX_EXECUTION_TIME = int(os.environ.get("CLICKHOUSE_MAX_EXECUTION_TIME", "60"))

# --- Redis: cache, rate limits, Celery broker, ingestion stream. ---
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    SEXTANT_EMBEDDED_WORKER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sextant"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    SEXTANT_EMBEDDED_WORKER = True
CELERY_TASK_DEFAULT_QUEUE = "sextant"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE: dict = {
    # Behavioral cohorts with a rolling "last N days" window are recomputed hourly.
    "refresh-stale-cohorts": {"task": "retention.refresh_stale_cohorts", "schedule": 3600.0},
    # Retention is counted in days, so once a day keeps the log within a day of it.
    "purge-audit-log": {"task": "governance.purge_audit_log", "schedule": 86400.0},
    # Event retention is counted in days too: daily keeps events within a day of it.
    "purge-expired-events": {"task": "governance.purge_expired_events", "schedule": 86400.0},
    # Quarantine releases/discards a killed worker or a lost message left: sent again.
    "resume-stalled-actions": {"task": "governance.resume_stalled_actions", "schedule": 300.0},
    # Alert rules: five minutes after every hour (hourly rules judge the hour just ended,
    # daily rules the day just ended in their project's zone; docs/alerts.md).
    "evaluate-alerts": {"task": "alerts.evaluate_due_rules", "schedule": crontab(minute=5)},
    # Merged identities' stored events get their current person, so queries resolve only
    # the merges of the last hour or so (ingestion/squash.py, docs/clickhouse.md).
    "squash-person-overrides": {"task": "ingestion.squash_person_overrides", "schedule": crontab(minute=35)},
}
# Absolute links in alert notifications (e-mail, webhooks): https://sextant.example.com
SEXTANT_BASE_URL = os.environ.get("SEXTANT_BASE_URL", "")
# Alert webhooks may target private / loopback addresses (on-prem installs; alerts/webhooks.py).
SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE", False)

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+IP before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# Applied by the password forms (change, reset, invite); `manage.py bootstrap` and
# `demo_setup` set passwords directly and check only the length themselves.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Login throttling (django-axes): N failures for one username from one address lock
# that pair out for the cool-off; a success resets the count. Unlock early with
# `manage.py axes_reset_username <username>` (docs/accounts.md). The client address is the
# audit log's (SEXTANT_PROXY_COUNT trusted proxies), so one rule decides both.
AXES_ENABLED = env_bool("SEXTANT_LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = int(os.environ.get("SEXTANT_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SEXTANT_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "governance.accounts.lockout_username"
AXES_CLIENT_IP_CALLABLE = "governance.audit.client_ip"
AXES_LOCKOUT_CALLABLE = "governance.accounts.locked_out"
AXES_VERBOSE = False

# Two-factor (django-otp): the name authenticator apps show next to the code.
OTP_TOTP_ISSUER = os.environ.get("SEXTANT_OTP_ISSUER", "Sextant")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- E-mail (password reset, invites): printed to the log unless SMTP is configured. ---
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Sextant <sextant@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# How long a password-reset link stays valid (seconds; Django's default is 3 days).
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(24 * 3600)))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- HTTPS. SECURE_COOKIES=on says the site is served over HTTPS: cookies are Secure and
# browsers are told to use HTTPS only (HSTS). Behind a proxy that ends TLS, name the header it
# sets (SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto) so Django knows a request came over HTTPS;
# only do so if the proxy overwrites that header (docs/configuration.md).
SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if SECURE_COOKIES else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
if _ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _ssl_header.upper().replace("-", "_"), "https")
X_FRAME_OPTIONS = "SAMEORIGIN"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# --- Members (docs/access.md). Invitation links work for INVITE_TTL_DAYS days. Who may
# create a project: "admin" (members holding manage_members somewhere, staff, superusers;
# anyone while no project exists) or "anyone".
INVITE_TTL_DAYS = int(os.environ.get("INVITE_TTL_DAYS", "7"))
SEXTANT_PROJECT_CREATORS = os.environ.get("SEXTANT_PROJECT_CREATORS", "admin").strip().lower()
