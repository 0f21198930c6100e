"""Settings for Jimeng Studio, read from the environment.

Every variable is listed with its default in `.env.example` and the README. The
defaults are the embedded set-up: SQLite, django-q2's ORM broker, media on the local
disk and the built-in API emulator, so `manage.py runserver` works on a laptop with
nothing else installed.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from generations.jimeng.addresses import valid_host_pattern
from jimeng_web.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_optional_decimal,
    env_optional_int,
    env_str,
    redis_database_for_test_worker,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-secret-key-change-me-for-any-real-deployment-0123456789"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY to a long random value when DEBUG is false.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "ninja",  # the API's browsable docs (its static files)
    "django_htmx",
    "generations",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "jimeng_web.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "jimeng_web.urls"
WSGI_APPLICATION = "jimeng_web.wsgi.application"

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
                "django.template.context_processors.i18n",
                "generations.views.context.studio",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"), base_dir=BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

# --- Static files and media ------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
# Media: local disk by default, or any S3-compatible store (presigned links serve it).
MEDIA_STORAGE = env_choice("MEDIA_STORAGE", "local", ("local", "s3"))
MEDIA_URL_TTL_SECONDS = env_int("MEDIA_URL_TTL_SECONDS", 900, minimum=10)


def _media_storage() -> dict[str, object]:
    if MEDIA_STORAGE == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    bucket = env_str("S3_BUCKET", "")
    if not bucket:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs S3_BUCKET")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env_str("S3_ENDPOINT_URL", "") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY", "") or None,
            "region_name": env_str("S3_REGION", "us-east-1"),
            "querystring_auth": True,
            "querystring_expire": MEDIA_URL_TTL_SECONDS,
            "file_overwrite": True,  # names are fixed per job; a retried step replaces its file
            "default_acl": None,
            "addressing_style": "path",
            "signature_version": "s3v4",
        },
    }


STORAGES = {
    "default": _media_storage(),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Uploads above this stay on disk while the form reads them, instead of in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024

# --- Upstream credentials encryption ---------------------------------------------


def _credentials_keys() -> list[str]:
    keys = env_list("CREDENTIALS_KEYS", "")
    if keys:
        return keys
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set CREDENTIALS_KEYS (Fernet keys, newest first) when DEBUG is false."
        )
    # A laptop gets a key of its own, kept beside the database, never the SECRET_KEY.
    key_file = DATA_DIR / "credentials.key"
    if not key_file.exists():
        from cryptography.fernet import Fernet

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(Fernet.generate_key().decode() + "\n")
        key_file.chmod(0o600)
    return [key_file.read_text().strip()]


CREDENTIALS_KEYS = _credentials_keys()

# --- Upstream API ----------------------------------------------------------------
JIMENG_CONNECT_TIMEOUT = env_float("JIMENG_CONNECT_TIMEOUT", 5.0, minimum=0.1)
JIMENG_QUERY_TIMEOUT = env_float("JIMENG_QUERY_TIMEOUT", 15.0, minimum=0.1)
JIMENG_SUBMIT_TIMEOUT = env_float("JIMENG_SUBMIT_TIMEOUT", 60.0, minimum=0.1)
JIMENG_DOWNLOAD_TIMEOUT = env_float("JIMENG_DOWNLOAD_TIMEOUT", 60.0, minimum=0.1)
JIMENG_MAX_VIDEO_BYTES = env_int("JIMENG_MAX_VIDEO_BYTES", 500 * 1024 * 1024, minimum=1)
AIGC_PRODUCER_ID = env_str("AIGC_PRODUCER_ID", "jimeng-studio")
# Requests per second to one upstream account, shared by every worker (a credential
# may set its own).
UPSTREAM_QPS = env_float("UPSTREAM_QPS", 5.0, minimum=0.1)
# API hosts besides the official ones that keys may point at (a gateway, say), e.g.
# "gateway.example.com,*.example.net". Whatever the host, private and loopback
# addresses are refused when connecting (docs/security.md).
UPSTREAM_ALLOWED_HOSTS = [host.lower() for host in env_list("UPSTREAM_ALLOWED_HOSTS", "")]
for _host in UPSTREAM_ALLOWED_HOSTS:
    if not valid_host_pattern(_host):
        raise ImproperlyConfigured(
            f"UPSTREAM_ALLOWED_HOSTS: {_host!r} is not a host name (or *.domain)"
        )

# Where the studio can be reached from the internet, e.g. https://studio.example.com.
# With it, Ark jobs are sent with a callback URL and need no polling (docs/upstream/ark.md).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "").rstrip("/")
# With callbacks on, the first query comes this long after a job's usual time at the
# earliest: it is only the fallback for a callback that never came.
CALLBACK_GRACE_SECONDS = env_float("CALLBACK_GRACE_SECONDS", 60.0, minimum=0)

# --- The API (docs/api.md) ---------------------------------------------------------
# Requests a minute for one personal access token; beyond, 429 with Retry-After.
API_RATE_PER_MINUTE = env_int("API_RATE_PER_MINUTE", 120, minimum=1)
# Webhook URLs may point at any public address; these origins (an operator's own
# systems, e.g. http://10.0.0.5:9000/) are allowed even on private addresses.
WEBHOOK_TRUSTED_URLS = env_list("WEBHOOK_TRUSTED_URLS", "")

# --- The pipeline ------------------------------------------------------------------
# A job still unfinished this long after it was created is abandoned.
JOB_DEADLINE_SECONDS = env_int("JOB_DEADLINE_SECONDS", 3 * 3600, minimum=60)
# Polling: the first query comes near the expected finish (learned per mode from recent
# jobs), then queries come closer together, never closer than the minimum.
POLL_EXPECTED_SECONDS = env_float("POLL_EXPECTED_SECONDS", 60.0, minimum=1)
POLL_MIN_INTERVAL = env_float("POLL_MIN_INTERVAL", 2.0, minimum=0.05)
POLL_MAX_INTERVAL = env_float("POLL_MAX_INTERVAL", 30.0, minimum=0.1)
# Poll every this many seconds instead (0: the adaptive schedule above).
POLL_FIXED_INTERVAL = env_float("POLL_FIXED_INTERVAL", 0.0, minimum=0)
# Dispatchers submit and poll; each runs as a django-q2 task for a slice of time.
DISPATCH_SLOTS = env_int("DISPATCH_SLOTS", 2, minimum=1)
DISPATCH_SLICE_SECONDS = env_float("DISPATCH_SLICE_SECONDS", 50.0, minimum=0)
DOWNLOAD_ATTEMPTS = env_int("DOWNLOAD_ATTEMPTS", 3, minimum=1)
# An Ark create whose answer was lost is looked for with `list` this many times, this
# many seconds apart, before it is taken as never created and sent again.
SUBMIT_CHECKS = env_int("SUBMIT_CHECKS", 3, minimum=1)
SUBMIT_CHECK_SECONDS = env_float("SUBMIT_CHECK_SECONDS", 20.0, minimum=0.05)
# Leases: how long a worker may hold a step before others assume it died.
DISPATCH_LEASE_SECONDS = env_float("DISPATCH_LEASE_SECONDS", 15.0, minimum=1)
POLL_LEASE_SECONDS = env_float("POLL_LEASE_SECONDS", JIMENG_QUERY_TIMEOUT + 15, minimum=1)
# A submit may take the whole submit timeout, up to three times when it never connected.
SUBMIT_LEASE_SECONDS = env_float("SUBMIT_LEASE_SECONDS", JIMENG_SUBMIT_TIMEOUT * 3 + 30, minimum=1)
ARCHIVE_LEASE_SECONDS = env_float("ARCHIVE_LEASE_SECONDS", 180.0, minimum=1)
ARCHIVE_ATTEMPTS = env_int("ARCHIVE_ATTEMPTS", 5, minimum=1)
# Uploaded images must reach storage within this time after the job was created.
UPLOAD_GRACE_SECONDS = env_float("UPLOAD_GRACE_SECONDS", 600.0, minimum=1)
# How long a pipeline step keeps retrying a write the database refuses.
PIPELINE_DB_RETRY_SECONDS = env_float("PIPELINE_DB_RETRY_SECONDS", 120.0, minimum=0)
# --- Broker, cache, limiter: the embedded default, or Redis -----------------------
Q_BROKER = env_choice("Q_BROKER", "orm", ("orm", "redis"))
# Each pytest-xdist worker of the test suite gets Redis databases of its own (xdist
# sets this variable in its workers; it is not a setting).
_TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
REDIS_URL = redis_database_for_test_worker(
    env_str("REDIS_URL", "redis://127.0.0.1:6379/0"), _TEST_WORKER
)
# The shared upstream rate limiter lives in Redis when Redis is the broker (or when
# this is set), else in the database.
LIMITER_REDIS_URL = redis_database_for_test_worker(
    env_str("LIMITER_REDIS_URL", ""), _TEST_WORKER
) or (REDIS_URL if Q_BROKER == "redis" else "")
CACHE_URL = redis_database_for_test_worker(env_str("CACHE_URL", ""), _TEST_WORKER)


# --- The built-in API emulator ---------------------------------------------------
# On by default for development (`make demo`); with DEBUG off it stays off unless
# SANDBOX_ENABLED=true is set, and `check --deploy` then warns.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)
# Where the studio's processes reach the emulator: the one address outside the official
# hosts that keys may use even though it is loopback. Empty: none.
SANDBOX_URL = env_str("SANDBOX_URL", "http://127.0.0.1:8000/sandbox/" if SANDBOX_ENABLED else "")

SANDBOX_DIR = Path(env_str("SANDBOX_DIR", str(DATA_DIR / "sandbox")))
SANDBOX_ACCESS_KEY = env_str("SANDBOX_ACCESS_KEY", "AKLTsandboxAccessKey")
SANDBOX_SECRET_KEY = env_str("SANDBOX_SECRET_KEY", "sandbox-secret-key")
SANDBOX_GATEWAY_KEY = env_str("SANDBOX_GATEWAY_KEY", "sk-sandbox-gateway-key")
SANDBOX_ARK_KEY = env_str("SANDBOX_ARK_KEY", "ark-sandbox-api-key")
SANDBOX_GENERATION_SECONDS = env_float("SANDBOX_GENERATION_SECONDS", 20.0, minimum=0)
# Each task takes a time between these two, fixed by its prompt and seed, so the same
# jobs take the same time in every run (benchmarks compare poll strategies on them).
SANDBOX_GENERATION_SECONDS_MAX = env_float("SANDBOX_GENERATION_SECONDS_MAX", 0.0, minimum=0)
SANDBOX_URL_TTL_SECONDS = env_float("SANDBOX_URL_TTL_SECONDS", 3600.0, minimum=0)
SANDBOX_TASK_TTL_SECONDS = env_float("SANDBOX_TASK_TTL_SECONDS", 12 * 3600.0, minimum=1)
SANDBOX_QPS = env_float("SANDBOX_QPS", 10.0, minimum=0)
SANDBOX_CONCURRENCY = env_int("SANDBOX_CONCURRENCY", 0, minimum=0)
SANDBOX_FAULT_50429 = env_float("SANDBOX_FAULT_50429", 0.0, minimum=0)
SANDBOX_FAULT_50500 = env_float("SANDBOX_FAULT_50500", 0.0, minimum=0)
SANDBOX_FAULT_SLOW = env_float("SANDBOX_FAULT_SLOW", 0.0, minimum=0)
SANDBOX_FAULT_DROP = env_float("SANDBOX_FAULT_DROP", 0.0, minimum=0)
SANDBOX_FAULT_ACTIONS = env_list("SANDBOX_FAULT_ACTIONS", "submit,query")
SANDBOX_SLOW_SECONDS = env_float("SANDBOX_SLOW_SECONDS", 40.0, minimum=0, maximum=120)
# At most this many answers are held back by a "slow" fault at once, across all
# processes; further slow faults answer 50429 at once instead of tying up a worker.
SANDBOX_MAX_SLOW_ANSWERS = env_int("SANDBOX_MAX_SLOW_ANSWERS", 1, minimum=0)
# Renders waiting in one process beyond this are refused with 50430 (concurrency).
SANDBOX_RENDER_QUEUE = env_int("SANDBOX_RENDER_QUEUE", 8, minimum=1)
SANDBOX_TEXT_RISK_MARKER = env_str("SANDBOX_TEXT_RISK_MARKER", "[risk:text]")
SANDBOX_VIDEO_RISK_MARKER = env_str("SANDBOX_VIDEO_RISK_MARKER", "[risk:video]")
SANDBOX_EXPIRED_MARKER = env_str("SANDBOX_EXPIRED_MARKER", "[sandbox:expired]")

# --- Background work (django-q2) -------------------------------------------------
Q_CLUSTER = {
    "name": env_str("Q_NAME", "jimeng"),
    "workers": env_int("Q_WORKERS", 4, minimum=1),
    # A task is killed after `timeout` seconds; an unacknowledged one is handed out
    # again after `retry` seconds, so retry must be longer than any task may run.
    "timeout": env_int("Q_TIMEOUT", 120, minimum=5),
    "retry": env_int("Q_RETRY", 180, minimum=10),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3, minimum=1),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "label": "Task queue",
    **({"redis": REDIS_URL} if Q_BROKER == "redis" else {"orm": "default"}),
    "poll": env_float("Q_POLL", 0.2, minimum=0.05),
    "sync": env_bool("Q_SYNC", False),
}
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:  # type: ignore[operator]
    raise ImproperlyConfigured("Q_TIMEOUT must be smaller than Q_RETRY.")
# A dispatcher takes work until its slice ends; the last submit may then take the whole
# submit timeout. All of it, with room for a slow database, must fit in the task timeout.
DISPATCH_HEADROOM_SECONDS = 10
_DISPATCH_WORST_SECONDS = DISPATCH_SLICE_SECONDS + JIMENG_SUBMIT_TIMEOUT + DISPATCH_HEADROOM_SECONDS
if float(Q_CLUSTER["timeout"]) < _DISPATCH_WORST_SECONDS:  # type: ignore[arg-type]
    raise ImproperlyConfigured(
        f"DISPATCH_SLICE_SECONDS + JIMENG_SUBMIT_TIMEOUT + {DISPATCH_HEADROOM_SECONDS} s "
        f"must not exceed Q_TIMEOUT ({DISPATCH_SLICE_SECONDS:g} + {JIMENG_SUBMIT_TIMEOUT:g} "
        f"+ {DISPATCH_HEADROOM_SECONDS} > {Q_CLUSTER['timeout']})."
    )

# --- Sign-in, sessions and security ----------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script of ours reads it; forms carry the token
SESSION_COOKIE_SAMESITE = "Lax"
# HTTPS: on by default when DEBUG is off. Behind a proxy that terminates TLS, set
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO so Django knows the request was https.
HTTPS = env_bool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
_proxy_header = env_str("SECURE_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
# Health checks answer over plain http inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# With HTTPS on but SECURE_SSL_REDIRECT off, TLS ends at the proxy in front, and the
# proxy sends http to https (make serve runs like that on 127.0.0.1).
SILENCED_SYSTEM_CHECKS = ["security.W008"] if HTTPS and not SECURE_SSL_REDIRECT else []


SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from our own static files: no inline script, no eval. Media may also come
# from the S3 endpoint when media lives there.
MEDIA_ORIGINS = " ".join(env_list("MEDIA_ORIGINS", ""))
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data: blob: {MEDIA_ORIGINS}; media-src 'self' blob: {MEDIA_ORIGINS}; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
).replace("  ", " ")


# Password-reset mail goes to the console unless an SMTP host is configured.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Jimeng Studio <studio@localhost>")

# Failed sign-ins allowed per window for one account from one client address, and for
# any account from one address. Counted in the database, so every process shares them;
# a lockout never reaches the right password typed from another address.
SIGNIN_LIMIT_PER_ACCOUNT = env_int("SIGNIN_LIMIT_PER_ACCOUNT", 5, minimum=1)
SIGNIN_LIMIT_PER_IP = env_int("SIGNIN_LIMIT_PER_IP", 20, minimum=1)
SIGNIN_WINDOW_SECONDS = env_int("SIGNIN_WINDOW_SECONDS", 900, minimum=10)
# Sign-ups and password-reset requests allowed per hour from one address (and resets
# per hour for one email address: beyond it, no more mail is sent).
SIGNUP_LIMIT_PER_IP = env_int("SIGNUP_LIMIT_PER_IP", 10, minimum=1)
PASSWORD_RESET_LIMIT_PER_IP = env_int("PASSWORD_RESET_LIMIT_PER_IP", 10, minimum=1)
PASSWORD_RESET_LIMIT_PER_EMAIL = env_int("PASSWORD_RESET_LIMIT_PER_EMAIL", 3, minimum=1)
# Behind a reverse proxy, the header holding the client address (e.g. HTTP_X_FORWARDED_FOR)
# and how many proxies of yours append to it: the address is read that many hops from
# the right, since anything further left is whatever the client sent.
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER", "")
CLIENT_IP_PROXIES = env_int("CLIENT_IP_PROXIES", 1, minimum=1)

# New teams start with these monthly quotas (empty means unlimited); operators change
# them in the admin.
DEFAULT_TEAM_QUOTA_CNY = env_optional_decimal("DEFAULT_TEAM_QUOTA_CNY", "100")
DEFAULT_TEAM_QUOTA_SECONDS = env_optional_int("DEFAULT_TEAM_QUOTA_SECONDS", "")
INVITATION_DAYS = env_int("INVITATION_DAYS", 7, minimum=1)

# Rate limits and the learned poll schedule live in the cache: Redis makes every
# process share them; the default memory cache is per process.
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
elif CACHE_URL in ("", "locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured("CACHE_URL must be empty or a redis:// URL")


# Logs: text, or one JSON object per line with LOG_FORMAT=json. Pipeline lines carry the
# job id, team and upstream request_id; a filter scrubs anything shaped like a secret.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "jimeng_web.logs.RedactSecrets"}},
    "formatters": {
        "text": {"()": "jimeng_web.logs.TextFormatter"},
        "json": {"()": "jimeng_web.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
