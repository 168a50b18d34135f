"""scart settings: one file, driven by the environment.

Every setting an operator may change is read from an environment variable here; nothing else
in the code reads ``os.environ``. Secrets can also be read from a file named by ``NAME_FILE``
(``SECRET_KEY_FILE=/run/secrets/scart_key``), which is how container platforms hand them out.
The README has the table of variables.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab

from scart.sealing_keys import key_from_secret, keys_parse

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """The variable ``name``, or the contents of the file named by ``name_FILE``, or ``default``."""
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return default


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name, "")
    if value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env_str(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("SCART_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# The test suite runs with DEBUG off, as production does, but needs no secret key.
TESTING = env_bool("SCART_TESTING", "pytest" in sys.modules)
# `SCART_DEMO=1 make run`: the whole flow on the demo's local peers, nothing leaves the machine
# (what it changes is marked "demo" below).
SCART_DEMO = env_bool("SCART_DEMO", False)


def workstation_secret_key(path: Path) -> str:
    """The signing key `make run` writes once for a workstation (``var/secret_key``), "" if there is
    none. It lets every ``manage.py`` command run without ``DEBUG`` on the machine that ran
    `make run`; a deployment never has the file, so it still fails without a ``SECRET_KEY``."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return ""
    if mode & 0o077:
        raise RuntimeError(f"{path} may be read by other users: `chmod 600 {path}`, or set SECRET_KEY.")
    return path.read_text().strip()


_WORKSTATION_KEY = "" if env_str("SECRET_KEY") else workstation_secret_key(VAR_DIR / "secret_key")
SECRET_KEY = env_str("SECRET_KEY") or _WORKSTATION_KEY
# Demo mode only writes notices to files (and records them as sent), resolves on local peers and
# checks a local web host: in a deployment it would silently stop every takedown. It runs where
# `make run` runs it, a workstation (DEBUG on, or the key `make run` wrote), never elsewhere.
if SCART_DEMO and not (DEBUG or TESTING or _WORKSTATION_KEY):
    raise RuntimeError(
        "SCART_DEMO is for a workstation (`SCART_DEMO=1 make run`): with DEBUG off and a SECRET_KEY of its "
        "own this looks like a deployment, where demo mode would keep every notice in var/mail/."
    )
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise RuntimeError(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off "
            "(on a workstation, `make run` writes one to var/secret_key)."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production-0123456789abcdef"  # noqa: S105

# Keys that seal recoverable secrets at rest (scart.sealing): the first seals, each one unseals.
# A workstation gets ``var/field_key`` from `make run`, or a key derived from its signing key; a
# deployment must set SCART_FIELD_KEY (or SCART_FIELD_KEY_FILE). docs/data-protection.md: rotation.
SCART_FIELD_KEYS = keys_parse(env_str("SCART_FIELD_KEY") or workstation_secret_key(VAR_DIR / "field_key"))
if not SCART_FIELD_KEYS:
    if not (DEBUG or TESTING or _WORKSTATION_KEY):
        raise RuntimeError(
            "SCART_FIELD_KEY (or SCART_FIELD_KEY_FILE) must be set when DEBUG is off: it seals second-factor "
            "keys and other secrets at rest (`manage.py seal_rotate --new-key` prints one)."
        )
    SCART_FIELD_KEYS = [key_from_secret(SECRET_KEY)]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SCART_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "scart.admin.ScartAdminConfig",  # the admin, for administrators only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "accounts",
    "reports",
    "routing",
    "privacy",  # retention rules and reporters' data: reads every stage's tables, so above them
    "stats",
    "workspace",  # the pages that combine the stages: above every stage
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A view that fails because the database, broker or cache is down answers 503 (scart.errors).
    "scart.errors.ServiceUnavailableMiddleware",
    "scart.middleware.ContentSecurityPolicyMiddleware",
    "scart.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (Accept-Language, or the cookie the language switch sets) ...
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "scart.middleware.NoReferrerCsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.context.CurrentRequestMiddleware",
    "accounts.middleware.StaffAccessMiddleware",
    # ... unless the signed-in staff member chose one in their settings.
    "accounts.middleware.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during login into its response.
    "axes.middleware.AxesMiddleware",
]
# Django's deploy check for CSRF (security.W003) looks for its own class by name and cannot see
# the subclass above; scart.checks (scart.E001) checks for any subclass of it instead.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

AUTHENTICATION_BACKENDS = [
    # Counts failed logins per user name and address and refuses them once locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.backends.AdministratorRoleBackend",
]

ROOT_URLCONF = "scart.urls"
WSGI_APPLICATION = "scart.wsgi.application"

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
                "scart.context_processors.hotline",
                "workspace.navigation.navigation",
            ],
        },
    },
]

# SQLite by default so that `make run` needs no server: one file under var/, in WAL mode so the web
# server, the worker and the scheduler can read while one of them writes, and IMMEDIATE
# transactions so that writers queue for the lock instead of failing half-way. PostgreSQL (via
# DATABASE_URL) is what a hotline runs in production and what CI tests against.
DATABASE_URL = env_str("DATABASE_URL")
DATABASES: dict[str, dict[str, Any]]
if DATABASE_URL:
    DATABASES = {
        "default": dict(
            dj_database_url.parse(
                DATABASE_URL, conn_max_age=env_int("SCART_DB_CONN_MAX_AGE", 60), conn_health_checks=True
            )
        )
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "scart.sqlite3")}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Whichever way SQLite was chosen (by default or with DATABASE_URL=sqlite:///...): without these
    # the processes of the Procfile fail each other with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
    # A file, not memory, so that a Celery worker started by the end-to-end tests sees the same
    # test database.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Caches hold throttling counters, shared by every web process: Redis when there is one,
# otherwise files under var/.
CACHE_URL = env_str("SCART_CACHE_URL") or (
    env_str("CELERY_BROKER_URL") if env_str("CELERY_BROKER_URL").startswith("redis") else ""
)
if TESTING:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env_str("SCART_CACHE_PREFIX", "scart"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Hashing cost is irrelevant to what the tests check and would dominate their run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Amsterdam")
# The admin lists times as the pages write them (2026-11-21 15:53:07), not "Nov. 21, 2026, 3:53 p.m.".
FORMAT_MODULE_PATH = ["scart.formats"]
USE_I18N = True
# The Dutch catalogue (locale/nl/LC_MESSAGES/django.po), compiled by `manage.py compile_catalogue`
# (`make migrate`, and the test run itself); see docs/i18n.md.
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end files the project ships itself (static/vendor/: built files with their version and licence).
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# Staff logins: after SCART_LOGIN_FAILURE_LIMIT wrong passwords for one user name from one address,
# that pair is locked out for SCART_LOGIN_LOCKOUT_MINUTES (django-axes). Codes of the second factor
# are throttled by django-otp (each failure doubles the wait before the next try).
AXES_FAILURE_LIMIT = env_int("SCART_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SCART_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False

# --- Security -------------------------------------------------------------------------------
# The list of reported URLs is itself sensitive. Production (DEBUG off) gets HTTPS-only cookies,
# HSTS and a redirect to HTTPS; `SCART_BEHIND_PROXY=1` trusts X-Forwarded-Proto from the proxy.
HTTPS = env_bool("SCART_HTTPS", not DEBUG and not TESTING)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
if env_bool("SCART_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SCART_SESSION_SECONDS", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Number of reverse proxies in front of scart; decides which X-Forwarded-For entry is the client
# address used for rate limits. 0 means REMOTE_ADDR is the client.
NUM_PROXIES = env_int("SCART_NUM_PROXIES", 0)

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api_auth.StaffTokenAuthentication",
        "reports.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["reports.api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "client": env_str("SCART_API_THROTTLE", "120/min"),
        "report_form": env_str("SCART_REPORT_FORM_THROTTLE", "10/hour"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    # drf-spectacular's, plus the error responses every operation can give.
    "DEFAULT_SCHEMA_CLASS": "reports.api.schema.ApiAutoSchema",
    # JSON only, behind the size, depth and string checks of reports.api.parsers; other content
    # types are answered 415.
    "DEFAULT_PARSER_CLASSES": ["reports.api.parsers.LimitedJSONParser"],
    # 503 with Retry-After when the database, the broker or the cache is down.
    "EXCEPTION_HANDLER": "scart.errors.api_exception_handler",
    # Always a number: DRF reads None as "trust the whole X-Forwarded-For header", which would let
    # any client choose its own address and so escape every per-address rate limit.
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "scart API",
    "DESCRIPTION": "Report URLs to the hotline and follow their cases. URLs and metadata only.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"PartnerStatusEnum": "reports.selectors.PartnerStatus"},
}
# The largest API request body (413 above it): 10,000 URLs of up to 4,096 characters.
SCART_API_MAX_BODY_BYTES = env_int("SCART_API_MAX_BODY_BYTES", 50 * 1024 * 1024)
# The largest form body Django reads (the public report form's 500 addresses, percent-encoded, fit
# with room to spare); above it the form answers 413 without reading or echoing the body. The API
# does not go through Django's form parsing: its limit is the one above.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("SCART_FORM_MAX_BODY_BYTES", 4 * 1024 * 1024)

# --- Celery -----------------------------------------------------------------------------------
# Without CELERY_BROKER_URL the broker is kombu's filesystem transport under var/broker: no server
# to install, and the web server, worker and scheduler started by `make run` share it.
BROKER_DIR = VAR_DIR / ("test-broker" if TESTING else "broker")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every queue a worker started by `make run` (and the end-to-end tests) consumes.
SCART_QUEUES = ["default", "resolve", "notify", "check"]
CELERY_TASK_ROUTES = {
    "routing.tasks.resolve_*": {"queue": "resolve"},
    "routing.tasks.notify_*": {"queue": "notify"},
    "routing.tasks.check_*": {"queue": "check"},
    "reports.tasks.report_acknowledge": {"queue": "notify"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sweep-overdue-work": {
        "task": "reports.tasks.sweep_overdue",
        "schedule": timedelta(minutes=5),
    },
    "sweep-abandoned-claims": {
        "task": "reports.tasks.sweep_abandoned",
        "schedule": timedelta(seconds=env_int("SCART_SWEEP_CLAIMS_SECONDS", 20)),
    },
    "reresolve-open-cases": {
        "task": "routing.tasks.resolve_open_cases",
        "schedule": crontab(minute=17, hour="5,17"),
    },
    "purge-lookup-caches": {
        "task": "routing.tasks.resolve_purge_caches",
        "schedule": crontab(minute=41, hour=3),
    },
    "notify-send-due": {
        "task": "routing.tasks.notify_send_due",
        "schedule": timedelta(minutes=1),
    },
    "notify-plan-due": {
        "task": "routing.tasks.notify_plan_due",
        "schedule": timedelta(minutes=5),
    },
    # The status of reports a provider's API took (routing.notices.channels.polling).
    "notify-poll-deliveries": {
        "task": "routing.tasks.notify_poll_deliveries",
        "schedule": timedelta(minutes=5),
    },
    # Deadlines that passed with the content online: marked once, the seniors told (routing.deadlines).
    "deadlines-sweep": {
        "task": "routing.tasks.deadlines_sweep_task",
        "schedule": timedelta(minutes=1),
    },
    "check-due-cases": {
        "task": "routing.tasks.check_due",
        "schedule": timedelta(minutes=1),
    },
    "poll-intake-mailbox": {
        "task": "reports.tasks.mailbox_poll",
        "schedule": crontab(minute="*/2"),
    },
    # The retention rules (privacy.retention): personal data and free text past their time, daily.
    "retention-daily": {
        "task": "privacy.tasks.retention_daily",
        "schedule": crontab(minute=47, hour=env_int("SCART_RETENTION_HOUR", 4)),
    },
    # Takedown statistics follow the event log every minute and are rebuilt nightly (stats.timings).
    "stats-refresh": {
        "task": "stats.tasks.stats_refresh",
        "schedule": timedelta(minutes=1),
    },
    "stats-rebuild": {
        "task": "stats.tasks.stats_rebuild",
        "schedule": crontab(minute=23, hour=2),
    },
}

# --- Data protection (docs/data-protection.md) --------------------------------------------------
# Rows changed per statement of the retention run: short transactions however much is due.
SCART_RETENTION_BATCH = env_int("SCART_RETENTION_BATCH", 2000)

# --- Email ------------------------------------------------------------------------------------
# Without EMAIL_HOST, mail is written as .eml files under var/mail/ so that nothing leaves a
# development machine by accident.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend",
)
# The demo sends notices to the registries' real abuse addresses: its mail never leaves var/mail/.
if SCART_DEMO:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "scart@hotline.invalid")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- scart ------------------------------------------------------------------------------------
SCART_HOTLINE_NAME = env_str("SCART_HOTLINE_NAME", "scart hotline")
# How long a second-factor enrolment link an administrator issues stays valid (hours).
SCART_ENROLMENT_LINK_HOURS = env_int("SCART_ENROLMENT_LINK_HOURS", 72)
SCART_HOTLINE_COUNTRY = env_str("SCART_HOTLINE_COUNTRY", "NL").upper()
# Where reports to the police go: cases hosted where no partner hotline works (or nowhere known),
# and police-first cases before any notice.
SCART_POLICE_NAME = env_str("SCART_POLICE_NAME", "Police")
# The demo names a reserved example address (its mail stays in var/mail/), as its history does.
SCART_POLICE_EMAIL = env_str("SCART_POLICE_EMAIL") or ("reports@police.example" if SCART_DEMO else "")
SCART_POLICE_LANGUAGE = env_str("SCART_POLICE_LANGUAGE", "en")
# Notices (routing.notices, docs/notices.md). The sender's identity in every notice: the hotline's
# name, website and postal address; replies go to SCART_NOTICE_REPLY_TO (the mailbox that
# `poll_mailbox` reads, so replies and bounces land on the cases' timelines).
SCART_HOTLINE_WEBSITE = env_str("SCART_HOTLINE_WEBSITE")
SCART_HOTLINE_ADDRESS = env_str("SCART_HOTLINE_ADDRESS")
SCART_NOTICE_REPLY_TO = env_str("SCART_NOTICE_REPLY_TO") or DEFAULT_FROM_EMAIL
# First notices wait this long for more cases to the same recipient (a provider may set its own);
# police reports and urgent cases go at once. With working hours set ("09:00-17:00"), batches fall
# due only on working days of SCART_HOTLINE_COUNTRY (weekends and public holidays excluded).
SCART_NOTICE_WINDOW_MINUTES = env_int("SCART_NOTICE_WINDOW_MINUTES", 60)
SCART_NOTICE_WORKING_HOURS = env_str("SCART_NOTICE_WORKING_HOURS")
# Takedown statistics in working hours (stats.workhours): these hours on working days of
# SCART_HOTLINE_COUNTRY, in TIME_ZONE.
SCART_STATS_WORKING_HOURS = env_str("SCART_STATS_WORKING_HOURS", "09:00-17:00")
# The statistics dashboard runs its queries on this many database connections at once
# (PostgreSQL; 1: one after the other). Each query keeps one core busy while it runs.
SCART_STATS_CONNECTIONS = env_int("SCART_STATS_CONNECTIONS", 2)
# The memory each sort of a statistics query may use (PostgreSQL's work_mem, for those queries
# only): percentiles sort each group's durations, and a million cases' sort in 4 MB goes to disk.
SCART_STATS_WORK_MEM = env_str("SCART_STATS_WORK_MEM", "64MB")
SCART_NOTICE_MAX_URLS = env_int("SCART_NOTICE_MAX_URLS", 200)
SCART_NOTICE_MAX_ATTEMPTS = env_int("SCART_NOTICE_MAX_ATTEMPTS", 8)
# A notice still "sending" this long after its attempt began belongs to a sender that died: it
# becomes "unknown" for a person to look at, and is never resent by itself.
# How often the status of a report a provider's API took is asked for.
SCART_DELIVERY_POLL_MINUTES = env_int("SCART_DELIVERY_POLL_MINUTES", 30)
SCART_NOTICE_SENDING_TIMEOUT = timedelta(minutes=env_int("SCART_NOTICE_SENDING_TIMEOUT_MINUTES", 15))
SCART_NOTICE_LINK_DAYS = env_int("SCART_NOTICE_LINK_DAYS", 30)
# Hard bounces (a 5xx refusal or a failed delivery report) in a row after which a provider's
# abuse address is retired: notices go to the next contact and a senior analyst checks it
# (docs/notices.md, "Contact quality"). 1: the first hard bounce, as mail senders commonly do.
SCART_CONTACT_HARD_BOUNCES = max(1, env_int("SCART_CONTACT_HARD_BOUNCES", 1))
# The DSA export (docs/notices.md, "DSA statements of reasons"): whether the hotline is a trusted
# flagger under Art. 22 DSA (source_type SOURCE_TRUSTED_FLAGGER, else SOURCE_ARTICLE_16).
SCART_DSA_TRUSTED_FLAGGER = env_bool("SCART_DSA_TRUSTED_FLAGGER", False)
# Notices signed with the hotline's OpenPGP key (PGP/MIME), and encrypted to a recipient's public key
# where one is on file; `manage.py pgp_key --generate` makes the key (docs/notices.md).
SCART_NOTICE_SIGN = env_bool("SCART_NOTICE_SIGN", False)
# Reminders while the content stays online, then the escalation ladder, step by step.
SCART_REMINDER_HOURS = env_int("SCART_REMINDER_HOURS", 24)
SCART_REMINDER_MAX = env_int("SCART_REMINDER_MAX", 3)
SCART_ESCALATION_LADDER = env_list("SCART_ESCALATION_LADDER", "registrar,police")
# Legal and agreed deadlines (routing.deadlines, docs/deadlines.md): who hears of a passed deadline
# (comma list; empty: the e-mail addresses of the active senior analysts and administrators).
SCART_DEADLINE_ALERT_EMAILS = env_list("SCART_DEADLINE_ALERT_EMAILS")
# The case's life after the verdict (routing.checks.tracking, docs/checks.md): how often open
# cases are checked, when a run of "gone" results means removed, when unreachable means closed,
# and when closed cases are checked again for reappearance (days after closing).
SCART_CHECK_INTERVAL_MINUTES = env_int("SCART_CHECK_INTERVAL_MINUTES", 60)
SCART_CHECK_SLOW_AFTER_DAYS = env_int("SCART_CHECK_SLOW_AFTER_DAYS", 7)
SCART_CHECK_SLOW_INTERVAL_HOURS = env_int("SCART_CHECK_SLOW_INTERVAL_HOURS", 6)
SCART_REMOVAL_CHECKS = env_int("SCART_REMOVAL_CHECKS", 3)
SCART_REMOVAL_SPACING_MINUTES = env_int("SCART_REMOVAL_SPACING_MINUTES", 15)
SCART_UNREACHABLE_CLOSE_HOURS = env_int("SCART_UNREACHABLE_CLOSE_HOURS", 72)
SCART_REAPPEARANCE_CHECK_DAYS = env_list("SCART_REAPPEARANCE_CHECK_DAYS", "1,7,30")
# `SCART_DEMO=1 make run` starts the demo's local peers (devnet: DNS, RDAP and a web host) on
# these ports, so a newcomer without a network sees the whole flow, and nothing leaves the machine:
# resolution asks the DNS and RDAP peers, every availability check connects to the web host (below),
# mail stays in var/mail/ and no mailbox is polled, whatever the environment says otherwise.
_DEMO_DNS = f"127.0.0.1:{env_int('SCART_DEMO_DNS_PORT', 15353)}"
_DEMO_RDAP = f"http://127.0.0.1:{env_int('SCART_DEMO_RDAP_PORT', 18053)}"
_DEMO_WEB = f"127.0.0.1:{env_int('SCART_DEMO_WEB_PORT', 18080)}"
SCART_DNS_NAMESERVERS = [_DEMO_DNS] if SCART_DEMO else env_list("SCART_DNS_NAMESERVERS")
SCART_DNS_TIMEOUT = float(env_str("SCART_DNS_TIMEOUT", "2.0"))
SCART_DNS_LIFETIME = float(env_str("SCART_DNS_LIFETIME", "6.0"))
SCART_RDAP_BASE_URL = _DEMO_RDAP if SCART_DEMO else env_str("SCART_RDAP_BASE_URL")
# Where the RDAP service of each top-level domain is listed (RFC 9224); unused with a base URL.
SCART_RDAP_DNS_BOOTSTRAP_URL = (
    f"{_DEMO_RDAP}/dns.json"
    if SCART_DEMO
    else env_str("SCART_RDAP_DNS_BOOTSTRAP_URL", "https://data.iana.org/rdap/dns.json")
)
SCART_RDAP_TIMEOUT = float(env_str("SCART_RDAP_TIMEOUT", "10"))
# Per registry and worker process: requests at once, and requests per second (0: no limit).
SCART_RDAP_CONCURRENCY = env_int("SCART_RDAP_CONCURRENCY", 4)
SCART_RDAP_RATE = float(env_str("SCART_RDAP_RATE", "10"))
# Lookups (DNS, registries) one resolution task runs at once.
SCART_RESOLVE_CONCURRENCY = env_int("SCART_RESOLVE_CONCURRENCY", 16)
# Cache lifetimes, shared by all workers through the database. Host answers live for their DNS
# TTL clamped to [min, max]; network and ASN answers per CIDR block; failures for less.
SCART_HOST_CACHE_MIN_SECONDS = env_int("SCART_HOST_CACHE_MIN_SECONDS", 300)
SCART_HOST_CACHE_MAX_SECONDS = env_int("SCART_HOST_CACHE_MAX_SECONDS", 6 * 3600)
SCART_HOST_FAILURE_CACHE_SECONDS = env_int("SCART_HOST_FAILURE_CACHE_SECONDS", 300)
SCART_NETWORK_CACHE_SECONDS = env_int("SCART_NETWORK_CACHE_SECONDS", 12 * 3600)
SCART_REGISTRY_FAILURE_CACHE_SECONDS = env_int("SCART_REGISTRY_FAILURE_CACHE_SECONDS", 3600)
SCART_CHECK_ALLOW_NETWORKS = env_list("SCART_CHECK_ALLOW_NETWORKS")
# Availability checks (routing/checks) read a status line and headers, never a body. Timeouts in
# seconds: the whole check (DNS, redirects, every hop) and each connection attempt. At most
# CONCURRENCY checks at once per process, at most PER_HOST of them on one host name over all
# checking processes (see SCART_CHECK_LIMIT_URL below). PROXY (http://[user:pass@]host:port) sends
# every check through a CONNECT tunnel from a dedicated egress. The User-Agent names the hotline and
# its public website, never SITE_URL: the staff's address is nothing a reported site should learn.
SCART_CHECK_USER_AGENT = env_str("SCART_CHECK_USER_AGENT") or (
    f"scart availability check ({'; '.join(filter(None, [SCART_HOTLINE_NAME, SCART_HOTLINE_WEBSITE]))})"
)
SCART_CHECK_TIMEOUT = float(env_str("SCART_CHECK_TIMEOUT", "15"))
SCART_CHECK_CONNECT_TIMEOUT = float(env_str("SCART_CHECK_CONNECT_TIMEOUT", "5"))
SCART_CHECK_CONCURRENCY = env_int("SCART_CHECK_CONCURRENCY", 64)
SCART_CHECK_PER_HOST = env_int("SCART_CHECK_PER_HOST", 4)
SCART_CHECK_PROXY = "" if SCART_DEMO else env_str("SCART_CHECK_PROXY")
# Demo mode only (routing.checks.probe refuses them otherwise, and they come from no variable of
# their own): every check connects to the demo's web host at this loopback address instead of the
# address DNS gave, keeping the URL's host in the Host header and the TLS server name, and trusts
# only the certificate that host keeps in this file.
SCART_CHECK_CONNECT_TO = _DEMO_WEB if SCART_DEMO else ""
SCART_CHECK_CA_FILE = str(VAR_DIR / "demo-web" / "cert.pem") if SCART_DEMO else ""
# Providers' abuse-reports APIs (the provider API channel, docs/notices.md): seconds to wait for a
# connection and for an answer (an answer that does not come leaves the report "unknown" for a
# senior: it may have landed; statuses are read back every SCART_DELIVERY_POLL_MINUTES). A base
# URL on a loopback address (the local peer of devnet/abuseapi) is refused unless allowed: the
# demo allows it, and its peer listens on SCART_DEMO_ABUSEAPI_PORT.
SCART_PROVIDER_API_CONNECT_TIMEOUT = float(env_str("SCART_PROVIDER_API_CONNECT_TIMEOUT", "5"))
SCART_PROVIDER_API_TIMEOUT = float(env_str("SCART_PROVIDER_API_TIMEOUT", "20"))
SCART_PROVIDER_API_ALLOW_LOOPBACK = SCART_DEMO or env_bool("SCART_PROVIDER_API_ALLOW_LOOPBACK", False)
SCART_DEMO_ABUSEAPI_URL = f"http://127.0.0.1:{env_int('SCART_DEMO_ABUSEAPI_PORT', 18090)}/client/v4"
# Where the checking processes share PER_HOST (routing.checks.slots): leases in Redis (the Redis
# broker by default), or without Redis lock files in a directory (file:///path; the processes of
# one machine). Tests keep their slots per process, as they keep their database: test runs side
# by side must not slow down each other's hosts.
_CHECK_SLOTS_DIR = VAR_DIR / ("check-slots" if not TESTING else f"test-check-slots/{os.getpid()}")
SCART_CHECK_LIMIT_URL = env_str("SCART_CHECK_LIMIT_URL") or (
    CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) and not TESTING
    else _CHECK_SLOTS_DIR.absolute().as_uri()
)
SCART_MAX_URLS_PER_REPORT = env_int("SCART_MAX_URLS_PER_REPORT", 10_000)
# Second opinions: this share of all analysts' verdicts (0 to 1) is sampled for a senior analyst's
# review, besides every verdict of an analyst in training and every not-illegal verdict against a
# partner hotline's illegal classification.
SCART_REVIEW_SHARE = float(env_str("SCART_REVIEW_SHARE", "0.05" if not TESTING else "0"))
# Work that should have started this long ago but has not is enqueued again by the sweep.
SCART_SWEEP_GRACE = timedelta(minutes=env_int("SCART_SWEEP_GRACE_MINUTES", 10))
# A worker resolving cases holds them for this long and renews the claim every third of it while
# it works: cases a dead worker held are resolved again about a minute later (the claim runs out,
# and the sweep of abandoned claims runs every SCART_SWEEP_CLAIMS_SECONDS).
SCART_RESOLVE_LEASE_SECONDS = env_int("SCART_RESOLVE_LEASE_SECONDS", 45)
SCART_SWEEP_CLAIMS_SECONDS = env_int("SCART_SWEEP_CLAIMS_SECONDS", 20)
SCART_INTAKE_IMAP_URL = "" if SCART_DEMO else env_str("SCART_INTAKE_IMAP_URL")
SCART_INTAKE_IMAP_FOLDER = env_str("SCART_INTAKE_IMAP_FOLDER", "INBOX")
SCART_INTAKE_IMAP_DONE_FOLDER = env_str("SCART_INTAKE_IMAP_DONE_FOLDER", "scart-processed")
SCART_INTAKE_IMAP_REJECTED_FOLDER = env_str("SCART_INTAKE_IMAP_REJECTED_FOLDER", "scart-rejected")
# TLS to the mailbox: the CA certificate(s) (a PEM file) to trust instead of the system's, for a
# server with a certificate of the hotline's own CA; and when the password may go in clear over
# imap:// to a server that offers no STARTTLS: never, loopback (a server on this machine) or always.
SCART_INTAKE_IMAP_CA_FILE = env_str("SCART_INTAKE_IMAP_CA_FILE")
SCART_INTAKE_IMAP_PLAIN_LOGIN = env_str("SCART_INTAKE_IMAP_PLAIN_LOGIN", "loopback")
# Addresses (`analyst@partner.org`) or whole domains (`@partner.org`) whose mail is accepted.
SCART_INTAKE_ALLOWED_SENDERS = [s.lower() for s in env_list("SCART_INTAKE_ALLOWED_SENDERS")]
# Who sent a message of the intake mailbox (a partner's report, a provider's reply, a bounce) is
# believed only when it is authenticated (docs/mailbox.md#authenticated-senders): the receiving
# mail server's Authentication-Results header with this authserv-id (its topmost
# SCART_MAIL_AUTHSERV_HEADERS of that id) shows DMARC pass or an aligned DKIM pass, or scart
# verifies an aligned DKIM signature itself, looking the key up through SCART_DNS_NAMESERVERS.
SCART_MAIL_AUTHSERV_ID = env_str("SCART_MAIL_AUTHSERV_ID")
SCART_MAIL_AUTHSERV_HEADERS = env_int("SCART_MAIL_AUTHSERV_HEADERS", 1)
SCART_MAIL_DKIM_VERIFY = env_bool("SCART_MAIL_DKIM_VERIFY", True)

# Request paths carry secrets (a provider's link token) and reported hosts (API filters): every
# formatter that can write one redacts them (scart/logs.py; gunicorn's access log likewise).
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "scart.logs.RedactingFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "server": {"()": "scart.logs.RedactingServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "filters": {"permission_denied": {"()": "scart.logs.PermissionDeniedWithoutTraceback"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "server": {"class": "logging.StreamHandler", "formatter": "server"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers on "django" (a console one when DEBUG is on, which does not
        # redact, and mail to ADMINS) go: its records reach the root's console once, redacted.
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"filters": ["permission_denied"]},
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
    },
}
