"""Settings for the Prompt site, read from the environment (see .env.example)."""
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is read when present; the real environment always wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core ------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

# Development-only fallbacks: with DEBUG off a missing secret stops start-up instead.
_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"
_DEV_CODE_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZC0zMmI="

SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment (see .env.example) or set DEBUG=true "
        "for local development."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "prompt_site.apps.PromptAdminConfig",  # django.contrib.admin with the role-aware site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "csp",
    "organisations",
    "scim_provisioning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The SCIM API and the health endpoints are served here, before the admin's stack below.
    "prompt_site.middleware.LeanPathMiddleware",
    "prompt_site.middleware.ContentSecurityPolicyMiddleware",
    # Serves the admin's static files under gunicorn (after `collectstatic`).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "prompt_site.urls"
WSGI_APPLICATION = "prompt_site.wsgi.application"

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
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
# SQLite is the embedded default; production sets DATABASE_URL=postgres://...
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Every transaction takes SQLite's write lock when it begins, waiting for it up to the
    # timeout: several app processes then queue their writes instead of failing at once when a
    # read inside a transaction has to become a write (the brake's count, for one).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if DEBUG else 600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# On PostgreSQL the SCIM request log is written in batches by a background thread, through a
# second connection to the same database that does not wait for its commits to reach the disk:
# a crash can lose the last fraction of a second of activity records, never user data (see
# README, Operations).
SCIM_ACTIVITY_DATABASE = "default"
SCIM_ACTIVITY_QUEUED = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _activity_options = dict(DATABASES["default"].get("OPTIONS", {}))
    _activity_options["options"] = f"{_activity_options.get('options', '')} -c synchronous_commit=off".strip()
    DATABASES["activity"] = {**DATABASES["default"], "OPTIONS": _activity_options, "TEST": {"MIRROR": "default"}}
    SCIM_ACTIVITY_DATABASE = "activity"
    SCIM_ACTIVITY_QUEUED = env.bool("SCIM_ACTIVITY_QUEUED", default=True)
# The mass-deactivation brake counts each deactivation in a short transaction of its own through
# this connection: on PostgreSQL the activity one, whose commits do not wait for the disk, so the
# row lock every deactivation of an organisation queues for is held for microseconds.
PROVISIONING_BRAKE_DATABASE = SCIM_ACTIVITY_DATABASE
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication --------------------------------------------------------------------------
AUTH_USER_MODEL = "organisations.User"
LOGIN_URL = "admin:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# --- Security --------------------------------------------------------------------------------
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (see README, Production).
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and Prometheus check these over the internal network's plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Preloading is a decision for the owner of the whole domain (it binds every subdomain), not
# for this site, so `check --deploy` is not asked to recommend it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every page (django-csp): the admin's and sign-in's scripts and
# styles are all files served by this site, so nothing inline runs and nothing loads from
# elsewhere; forms may also go on to AZURE_AUTHORITY (see prompt_site.middleware).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# Error reports (emails, DEBUG pages) hide the bearer code and credential-bearing URLs.
DEFAULT_EXCEPTION_REPORTER_FILTER = "prompt_site.exception_reporting.SecretsExceptionReporterFilter"

# --- Provisioning ----------------------------------------------------------------------------
# Fernet keys for the revealable copy of Provisioning Authentication Codes, newest first.
PROVISIONING_CODE_KEYS = env.list("PROVISIONING_CODE_KEYS", default=[_DEV_CODE_KEY] if DEBUG else [])
if not PROVISIONING_CODE_KEYS:
    raise ImproperlyConfigured(
        "PROVISIONING_CODE_KEYS is not set. Generate a key with "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
        "and set it in the environment (see .env.example)."
    )
# How long a code keeps working after a newer one is issued, unless the newer one is used first.
PROVISIONING_CODE_GRACE_HOURS = env.int("PROVISIONING_CODE_GRACE_HOURS", default=24)
# OAuth client credentials: how long an access token lives (kept within 3600 to 21600 seconds,
# Entra's accepted 60 to 360 minutes) and how long a client secret does.
PROVISIONING_ACCESS_TOKEN_SECONDS = env.int("PROVISIONING_ACCESS_TOKEN_SECONDS", default=3600)
PROVISIONING_CLIENT_SECRET_DAYS = env.int("PROVISIONING_CLIENT_SECRET_DAYS", default=365)
# Days of SCIM request history kept; `prune_provisioning_activity` (daily from cron) deletes older rows.
PROVISIONING_ACTIVITY_RETENTION_DAYS = env.int("PROVISIONING_ACTIVITY_RETENTION_DAYS", default=180)

# Health alerts (`provisioning_alerts`, every 10 minutes from cron): Entra ID calls every 40
# minutes, so this many hours without a request means provisioning has stopped; a code in use
# longer than this many days is due to be rotated.
PROVISIONING_SILENCE_HOURS = env.int("PROVISIONING_SILENCE_HOURS", default=3)
PROVISIONING_CODE_MAX_AGE_DAYS = env.int("PROVISIONING_CODE_MAX_AGE_DAYS", default=365)

# --- Email -----------------------------------------------------------------------------------
# Health alerts go to organisations' Admins and to Prompt Admins. EMAIL_URL such as
# smtp+tls://user:password@smtp.example.com:587; unset, emails are written to the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Prompt <noreply@localhost>")
# The site's address as people reach it, for the links in emails (a command knows no request).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

# --- SCIM API limits -------------------------------------------------------------------------
# Request bodies above this many bytes are refused (413); Entra ID's are a few kilobytes.
SCIM_MAX_BODY_BYTES = env.int("SCIM_MAX_BODY_BYTES", default=1024 * 1024)
# Django's own cap on a body read into memory must not be the smaller one.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, SCIM_MAX_BODY_BYTES)
# Failed bearer authentications allowed per client address and window before answering 429.
SCIM_AUTH_FAILURE_LIMIT = env.int("SCIM_AUTH_FAILURE_LIMIT", default=20)
SCIM_AUTH_FAILURE_WINDOW_SECONDS = env.int("SCIM_AUTH_FAILURE_WINDOW_SECONDS", default=60)
# Reverse proxies in front of the site that append to X-Forwarded-For; 0 uses REMOTE_ADDR.
SCIM_TRUSTED_PROXY_COUNT = env.int("SCIM_TRUSTED_PROXY_COUNT", default=0)

# --- Observability -----------------------------------------------------------------------------
# /metrics (Prometheus) answers only this bearer token, or addresses in these networks (CIDR,
# comma-separated); with neither set it is not served at all.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])

# --- Cache -----------------------------------------------------------------------------------
# Shared by every app process in production (CACHE_URL=redis://127.0.0.1:6379/0), so the
# failed-authentication counts above hold across gunicorn workers and hosts. Codes are never
# cached: every SCIM request reads its code from the database, so revocation is immediate.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Sign in with Microsoft ------------------------------------------------------------------
# One multi-tenant app registration in Entra ID for the whole site (see README); each
# organisation's Tenancy ID selects the tenant. Without a client id and secret, sign-in is refused.
AZURE_CLIENT_ID = env.str("AZURE_CLIENT_ID", default="")
AZURE_CLIENT_SECRET = env.str("AZURE_CLIENT_SECRET", default="")
AZURE_AUTHORITY = env.str("AZURE_AUTHORITY", default="https://login.microsoftonline.com")

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
