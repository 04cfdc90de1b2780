"""Django settings for imperal-platform, read from the environment.

With no environment variables at all the platform runs embedded: SQLite under
``var/``, a cross-process file cache, and Celery on kombu's filesystem
transport. ``DATABASE_URL``, ``REDIS_URL`` and ``CELERY_BROKER_URL`` switch each
piece to its production service.
"""

import datetime
import json
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from apps.common.telemetry.logs import logging_config
from apps.runtime import config as runtime_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("IMPERAL_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def _env_json_objects(name):
    """Return the JSON object of objects in environment variable ``name`` ({} unset).

    Raises ImproperlyConfigured naming the variable (and the key) when it is not
    JSON, not an object, or holds a value that is not an object.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object of app id -> object")
    for key, item in value.items():
        if not isinstance(item, dict):
            raise ImproperlyConfigured(
                f"{name}[{key!r}] must be a JSON object, got {type(item).__name__}"
            )
    return value


def _load_secret_key():
    """Return SECRET_KEY from the environment, or from a file generated once."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        # O_EXCL: two processes starting at once must not write two keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


# Processes a test starts get the test run's own socket rule (pytest-socket's
# --allow-hosts, exported by tests/conftest.py): connect only to those hosts.
if os.environ.get("IMPERAL_TEST_ALLOW_HOSTS"):
    from pytest_socket import socket_allow_hosts

    socket_allow_hosts(
        os.environ["IMPERAL_TEST_ALLOW_HOSTS"].split(","), allow_unix_socket=True
    )

SECRET_KEY = _load_secret_key()
DEBUG = _env_bool("DEBUG", False)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_celery_beat",
    "axes",
    "apps.accounts",
    "apps.quotas",
    "apps.extensions",
    "apps.notifications",
    "apps.scheduler",
    "apps.db",
    "apps.cache",
    "apps.egress",
    "apps.store",
    "apps.secrets",
    "apps.files",
    "apps.ai",
    "apps.observability",
    "apps.runtime",
    "apps.gateway",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.api",
    "apps.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.common.http.RefuseNulMiddleware",
    # Before static files and sessions: on IMPERAL_WEBHOOK_HOST nothing else answers.
    "apps.common.webhook_origin.WebhookOriginMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The request's id, its Prometheus series and the error id of a failed view
    # (static files, answered above, are not counted).
    "apps.common.middleware.RequestTelemetry",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in the login throttle refused into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "imperal_platform.urls"
WSGI_APPLICATION = "imperal_platform.wsgi.application"
ASGI_APPLICATION = "imperal_platform.asgi.application"

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

# --- Database -------------------------------------------------------------
DATABASE_URL = (
    os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'platform.sqlite3'}"
)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # The web process and the worker share one file: WAL lets readers run
        # beside a writer, IMMEDIATE avoids lock-upgrade deadlocks between them.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory: worker processes started by tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_platform.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if IS_POSTGRES:
    # A server that accepts connections but never answers (frozen, overloaded)
    # holds a connecting request thread this many seconds, not the kernel's
    # minutes; DATABASE_URL's own ?connect_timeout= wins. The async pools get it
    # from here too.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("IMPERAL_DB_CONNECT_TIMEOUT", "10"))
    )

# --- Caches ---------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHE_KEY_PREFIX = os.environ.get("IMPERAL_CACHE_PREFIX", "imperal")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{CACHE_KEY_PREFIX}:default",
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        },
        "extcache": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{CACHE_KEY_PREFIX}:ext",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # ctx.cache is an optimization: a dead Redis must cost
                # milliseconds, then the read is a miss and the write skipped.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
            },
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache" / "default"),
        },
    }

# ctx.cache: a module exporting CacheBackend (apps/cache/backends/), its
# options, and this deployment's key prefix. Embedded: one SQLite file under
# var/ shared by the web process and the worker.
IMPERAL_CACHE = {
    "BACKEND": "apps.cache.backends.embedded",
    "OPTIONS": {"path": str(VAR_DIR / "cache" / "extcache.sqlite3")},
    "KEY_PREFIX": f"{CACHE_KEY_PREFIX}:ext",
}
if REDIS_URL:
    IMPERAL_CACHE.update(
        BACKEND="apps.cache.backends.redis", OPTIONS={"alias": "extcache"}
    )
# Most live ctx.cache entries one partition (tenant, extension, user) holds; a
# new key beyond it is refused (ValueError), replacing a key still works.
IMPERAL_CACHE_MAX_ENTRIES = int(os.environ.get("IMPERAL_CACHE_MAX_ENTRIES", "500"))

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
# The login throttle (django-axes) checks every password sign-in before the
# model backend does; API tokens and service tokens never pass through here.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# IMPERAL_LOGIN_FAILURE_LIMIT wrong passwords for one username from one client
# address pause that pair's sign-in for IMPERAL_LOGIN_COOLOFF_SECONDS, counted
# from the last counted failure: attempts while paused are refused unchecked and
# do not extend it, so an outsider elsewhere cannot keep an operator out. A
# successful sign-in clears the count. The address is REMOTE_ADDR: behind a
# reverse proxy, have the server take it from the proxy (else every client
# shares the proxy's address and the pause becomes per username).
AXES_ENABLED = _env_bool("IMPERAL_LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = int(os.environ.get("IMPERAL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(
    seconds=int(os.environ.get("IMPERAL_LOGIN_COOLOFF_SECONDS", "900"))
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
# Lockouts are shown tenant by tenant (apps/accounts/admin.py), not by axes'
# own pages; successful sign-ins are not logged (Django keeps last_login).
AXES_ENABLE_ADMIN = False
AXES_DISABLE_ACCESS_LOG = True

# --- HTTPS ----------------------------------------------------------------
# Off by default (the embedded platform serves plain HTTP on loopback). Behind
# TLS set SECURE_SSL_REDIRECT=1 (cookies then default to secure) and
# SECURE_HSTS_SECONDS; `manage.py check --deploy` is then clean. Behind a proxy
# that terminates TLS, SECURE_PROXY_SSL_HEADER names its header
# (e.g. HTTP_X_FORWARDED_PROTO).
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers probe these over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = _env_bool("CSRF_COOKIE_SECURE", SECURE_SSL_REDIRECT)
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")

# --- Internationalisation and static files --------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates with seconds everywhere the admin shows a time (imperal_platform/formats).
FORMAT_MODULE_PATH = ["imperal_platform.formats"]
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Email (channel "email" of ctx.notify) ---------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    # Embedded default: mails land as files under var/mail, never on the network.
    "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "imperal@localhost")

# --- Celery ---------------------------------------------------------------
CELERY_DATA_DIR = Path(os.environ.get("IMPERAL_CELERY_DIR", VAR_DIR / "celery"))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {}
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_DATA_DIR / _folder).mkdir(parents=True, exist_ok=True)
# One broker can serve several deployments (or test runs): each its own queue.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "apps.scheduler.beat:SlotStampingScheduler"
# A fire is acknowledged only once it finished, so a worker that dies mid-fire
# leaves the message to be redelivered (the slot's claim prevents a double run).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Scheduler -------------------------------------------------------------
IMPERAL_SCHEDULE_TIMEOUT = int(os.environ.get("IMPERAL_SCHEDULE_TIMEOUT", "300"))
IMPERAL_SCHEDULE_TIMEOUT_MAX = max(3600, IMPERAL_SCHEDULE_TIMEOUT)
IMPERAL_SCHEDULE_LEASE_GRACE = int(os.environ.get("IMPERAL_SCHEDULE_LEASE_GRACE", "60"))
IMPERAL_SCHEDULE_REAP_AFTER = int(os.environ.get("IMPERAL_SCHEDULE_REAP_AFTER", "300"))
# Finished ScheduleRuns older than this many days are deleted hourly; 0 keeps all.
IMPERAL_SCHEDULE_RUN_RETENTION_DAYS = int(
    os.environ.get("IMPERAL_SCHEDULE_RUN_RETENTION_DAYS", "30")
)
# Seconds between writes of a running fire's fan-out count and progress.
IMPERAL_SCHEDULE_HEARTBEAT = float(os.environ.get("IMPERAL_SCHEDULE_HEARTBEAT", "5"))
# Sharded fires: shards one Celery message carries (run on one event loop), and
# users whose notifications and delivery rows are stored per transaction.
IMPERAL_SCHEDULE_SHARDS_PER_TASK = int(
    os.environ.get("IMPERAL_SCHEDULE_SHARDS_PER_TASK", "1")
)
IMPERAL_SCHEDULE_DELIVERY_BATCH = int(
    os.environ.get("IMPERAL_SCHEDULE_DELIVERY_BATCH", "200")
)
# Missed slots: a beat fire stamped this many seconds after its slot is late;
# a slot with no run at all this many seconds after it is recorded as missed.
IMPERAL_SCHEDULE_LATE_AFTER = int(os.environ.get("IMPERAL_SCHEDULE_LATE_AFTER", "120"))
IMPERAL_SCHEDULE_MISSED_AFTER = int(
    os.environ.get("IMPERAL_SCHEDULE_MISSED_AFTER", "300")
)
if not CELERY_BROKER_URL.startswith("filesystem://"):
    # Redis redelivers an unacknowledged fire this many seconds after it was
    # taken, checking every 10 s (kombu's default sweep is every ~100 s).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(
            os.environ.get(
                "CELERY_VISIBILITY_TIMEOUT",
                IMPERAL_SCHEDULE_TIMEOUT + 2 * IMPERAL_SCHEDULE_LEASE_GRACE,
            )
        ),
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }

# --- REST framework ---------------------------------------------------------
# Deny by default: a view names its authentication and permission, or refuses.
# Every error answers in the one shape (apps.common.http).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["apps.common.http.DenyAll"],
    "DEFAULT_PARSER_CLASSES": ["apps.common.http.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "apps.common.http.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.api.schema.AutoSchema",
    # One timestamp format in every answer (apps.common.timestamps).
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    # Reverse proxies in front of the platform that append to X-Forwarded-For: a
    # client's address (the webhook rate) is read that many hops from the right;
    # 0 takes the connection's own address and ignores the header a client can forge.
    "NUM_PROXIES": int(os.environ.get("IMPERAL_NUM_PROXIES", "0")),
}

# --- REST API (/api/v1/, apps.api) --------------------------------------------
# Requests per token (per user for a session) and window: "N/s", "N/min",
# "N/hour" or "N/day"; counted atomically on the "default" cache
# (apps/api/throttling.py). An empty value means no limit.
# "webhook": requests per client address to /v1/ext/{app}/webhook/{path}, counted
# before the extension is looked up.
IMPERAL_API_RATES = {
    "user": os.environ.get("IMPERAL_API_RATE", "600/min"),
    "webhook": os.environ.get("IMPERAL_WEBHOOK_RATE", "600/min"),
}
# OpenAPI 3 at /api/schema/; Swagger UI and Redoc served from local files.
SPECTACULAR_SETTINGS = {
    "TITLE": "imperal-platform API",
    "DESCRIPTION": "Users and operators: call tools, see and take out your data, "
    'run the platform. Errors: {"error": {"code", "message", "detail"}}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["apps.api.schema.only_api_routes"],
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Gateway (imperal-sdk's HTTP clients) -------------------------------------
# Largest JSON request body of an HTTP face (the cache route has its own 64 KB cap).
IMPERAL_HTTP_MAX_BODY_BYTES = int(
    os.environ.get("IMPERAL_HTTP_MAX_BODY_BYTES", str(4 * 1024 * 1024))
)
DATA_UPLOAD_MAX_MEMORY_SIZE = IMPERAL_HTTP_MAX_BODY_BYTES
# Seconds a rotated-out service token keeps working (manage.py ext token --rotate).
IMPERAL_TOKEN_ROTATION_GRACE = int(
    os.environ.get("IMPERAL_TOKEN_ROTATION_GRACE", "3600")
)
# HMAC secrets imperal-sdk call tokens are verified with, newest first (comma-separated);
# empty: one secret derived from SECRET_KEY (apps/gateway/calltokens.py).
IMPERAL_CALL_TOKEN_SECRETS = _env_list("IMPERAL_CALL_TOKEN_SECRETS", [])
# Longest a call token may live (exp - iat, and exp - now), in seconds: a token
# lives for one invocation, and the longest invocation is a schedule's.
IMPERAL_CALL_TOKEN_MAX_LIFETIME = int(
    os.environ.get("IMPERAL_CALL_TOKEN_MAX_LIFETIME", str(IMPERAL_SCHEDULE_TIMEOUT_MAX))
)

# --- ctx.secrets (apps.secrets) ------------------------------------------------
# AES-256 keys sealing secret values, newest first (comma-separated, each 32 random
# bytes in URL-safe base64; the entry SECRET_KEY names the key derived from
# SECRET_KEY). Empty: one key derived from SECRET_KEY with HKDF. After adding a
# key in front, `manage.py reencrypt_secrets` moves every value to it; then the
# old key may be removed.
IMPERAL_SECRETS_KEYS = _env_list("IMPERAL_SECRETS_KEYS", [])
# Reads of one secret are audited at most once per this many seconds (0: every read).
IMPERAL_SECRETS_READ_AUDIT_INTERVAL = int(
    os.environ.get("IMPERAL_SECRETS_READ_AUDIT_INTERVAL", "60")
)

# --- ctx.storage (apps.files) -----------------------------------------------------
# Extension files live in the "extfiles" storage: a folder under var/ by default;
# IMPERAL_STORAGE_BACKEND names any Django storage class ("s3" is django-storages'
# S3Storage) and IMPERAL_STORAGE_OPTIONS (JSON) its options, e.g.
# {"bucket_name": "imperal-files", "endpoint_url": "https://s3.example.com"}.
IMPERAL_STORAGE_BACKEND = os.environ.get("IMPERAL_STORAGE_BACKEND", "").strip()
try:
    IMPERAL_STORAGE_OPTIONS = json.loads(
        os.environ.get("IMPERAL_STORAGE_OPTIONS") or "{}"
    )
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(
        f"IMPERAL_STORAGE_OPTIONS is not valid JSON: {exc}"
    ) from None
if not isinstance(IMPERAL_STORAGE_OPTIONS, dict):
    raise ImproperlyConfigured("IMPERAL_STORAGE_OPTIONS must be a JSON object")
IMPERAL_STORAGE_DIR = Path(os.environ.get("IMPERAL_STORAGE_DIR", VAR_DIR / "files"))
STORAGE_BACKENDS = {"s3": "storages.backends.s3.S3Storage"}
if IMPERAL_STORAGE_BACKEND == "s3":
    # django-storages spools an object it reads into memory without a bound;
    # past Django's upload threshold (2.5 MB) it goes to a temporary file instead.
    IMPERAL_STORAGE_OPTIONS.setdefault("max_memory_size", 2621440)
STORAGES["extfiles"] = (
    {
        "BACKEND": STORAGE_BACKENDS.get(
            IMPERAL_STORAGE_BACKEND, IMPERAL_STORAGE_BACKEND
        ),
        "OPTIONS": IMPERAL_STORAGE_OPTIONS,
    }
    if IMPERAL_STORAGE_BACKEND
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(IMPERAL_STORAGE_DIR)},
    }
)
# Largest file ctx.storage stores (bytes); larger uploads are refused unread.
IMPERAL_STORAGE_MAX_FILE_BYTES = int(
    os.environ.get("IMPERAL_STORAGE_MAX_FILE_BYTES", str(64 * 1024 * 1024))
)
# Media types ctx.storage accepts (comma-separated, lower case); empty: any
# well-formed one.
IMPERAL_STORAGE_CONTENT_TYPES = [
    t.lower() for t in _env_list("IMPERAL_STORAGE_CONTENT_TYPES", [])
]

# --- ctx.ai (apps.ai) --------------------------------------------------------------
# imperal-sdk's own provider settings. LLM_PROVIDER empty: ctx.ai is not served.
LLM_PROVIDER = os.environ.get("LLM_PROVIDER", "").strip()
LLM_API_KEY = os.environ.get("LLM_API_KEY", "")
LLM_MODEL = os.environ.get("LLM_MODEL", "").strip()
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "").strip()
# Models extensions may ask for besides LLM_MODEL (comma-separated).
IMPERAL_AI_MODELS = _env_list("IMPERAL_AI_MODELS", [])
# Seconds one ctx.ai call may take, its provider's retries included.
IMPERAL_AI_TIMEOUT = float(os.environ.get("IMPERAL_AI_TIMEOUT", "120"))
IMPERAL_AI_MAX_RETRIES = int(os.environ.get("IMPERAL_AI_MAX_RETRIES", "2"))
# Most output tokens one call may ask for (and the default).
IMPERAL_AI_MAX_TOKENS = int(os.environ.get("IMPERAL_AI_MAX_TOKENS", "4096"))
# Largest prompt (characters) ctx.ai sends.
IMPERAL_AI_MAX_PROMPT_CHARS = int(
    os.environ.get("IMPERAL_AI_MAX_PROMPT_CHARS", "200000")
)
# AICall rows older than this many days are deleted hourly; 0 keeps all.
IMPERAL_AI_CALL_RETENTION_DAYS = int(
    os.environ.get("IMPERAL_AI_CALL_RETENTION_DAYS", "30")
)
# The module reading each LLM_PROVIDER's client library (apps/ai/backends/),
# imported on that provider's first call.
IMPERAL_AI = {
    "BACKENDS": {
        "anthropic": "apps.ai.backends.anthropic",
        "openai": "apps.ai.backends.openai",
        "google": "apps.ai.backends.openai",
        "openai_compatible": "apps.ai.backends.openai",
    },
}

# --- Imperal ----------------------------------------------------------------
# Entries: a module path, "module:attr", or a directory holding main.py.
IMPERAL_EXTENSIONS = _env_list(
    "IMPERAL_EXTENSIONS",
    ["extensions/my_app", "extensions.contacts", "extensions/web_tools"],
)
# Per-extension configuration handed to ctx.config, merged over the
# extension's own config_defaults: {"my-app": {"section": {...}}}.
IMPERAL_EXTENSION_CONFIG = _env_json_objects("IMPERAL_EXTENSION_CONFIG")
IMPERAL_DEFAULT_TENANT = os.environ.get("IMPERAL_DEFAULT_TENANT", "default")


def _runtime_setting(check, name, text):
    try:
        return check(name, runtime_config.parse_json_object(name, text))
    except runtime_config.RuntimeSettingError as exc:
        raise ImproperlyConfigured(str(exc)) from None


# Where each extension runs (README "Trust model"): {"app-id": "isolated" |
# "in-process"}. An extension not named runs in-process when it is one of the
# bundled samples under extensions/, else as IMPERAL_EXTENSION_RUNTIME_DEFAULT says.
IMPERAL_EXTENSION_RUNTIME = _runtime_setting(
    runtime_config.check_runtime_map,
    "IMPERAL_EXTENSION_RUNTIME",
    os.environ.get("IMPERAL_EXTENSION_RUNTIME", ""),
)
try:
    IMPERAL_EXTENSION_RUNTIME_DEFAULT = runtime_config.check_runtime_choice(
        "IMPERAL_EXTENSION_RUNTIME_DEFAULT",
        os.environ.get("IMPERAL_EXTENSION_RUNTIME_DEFAULT") or runtime_config.ISOLATED,
    )
except runtime_config.RuntimeSettingError as _exc:
    raise ImproperlyConfigured(str(_exc)) from None
# An isolated extension's workers start from an empty environment plus this:
# {"app-id": {"NOTES_API_URL": "https://…"}}.
IMPERAL_EXTENSION_ENV = _runtime_setting(
    runtime_config.check_env_map,
    "IMPERAL_EXTENSION_ENV",
    os.environ.get("IMPERAL_EXTENSION_ENV", ""),
)
# Isolated workers: processes per extension, pending calls per extension before
# 503 runtime_busy (Retry-After: RETRY_AFTER s), how long a worker's claim waits
# for a call, how many calls one worker runs at once, respawn backoff (doubling
# from BACKOFF_MIN to BACKOFF_MAX s), and the gateway URL workers reach the
# platform by (default: PUBLIC_URL).
IMPERAL_RUNTIME = {
    "POOL_SIZE": int(os.environ.get("IMPERAL_RUNTIME_POOL_SIZE", "2")),
    "QUEUE_BOUND": int(os.environ.get("IMPERAL_RUNTIME_QUEUE_BOUND", "64")),
    "RETRY_AFTER": int(os.environ.get("IMPERAL_RUNTIME_RETRY_AFTER", "1")),
    "CLAIM_WAIT": float(os.environ.get("IMPERAL_RUNTIME_CLAIM_WAIT", "2")),
    "CONCURRENCY": int(os.environ.get("IMPERAL_RUNTIME_CONCURRENCY", "1")),
    "BACKOFF_MIN": float(os.environ.get("IMPERAL_RUNTIME_BACKOFF_MIN", "0.5")),
    "BACKOFF_MAX": float(os.environ.get("IMPERAL_RUNTIME_BACKOFF_MAX", "30")),
    "GATEWAY_URL": os.environ.get("IMPERAL_RUNTIME_GATEWAY_URL", ""),
    # Redis streams with REDIS_URL; else a table in the default database.
    "DISPATCH": (
        "apps.runtime.dispatch.redis" if REDIS_URL else "apps.runtime.dispatch.local"
    ),
}
if not 1 <= IMPERAL_RUNTIME["CONCURRENCY"] <= 256:
    raise ImproperlyConfigured(
        "IMPERAL_RUNTIME_CONCURRENCY must be an integer from 1 to 256, got "
        f"{IMPERAL_RUNTIME['CONCURRENCY']}"
    )
# Seconds a tool or panel handler may run before it is cancelled, and per-extension
# overrides ({"my-app": 120}); schedules have their own (IMPERAL_SCHEDULE_TIMEOUT).
IMPERAL_HANDLER_TIMEOUT = float(os.environ.get("IMPERAL_HANDLER_TIMEOUT", "60"))
IMPERAL_HANDLER_TIMEOUTS = {}
# Refused cross-partition attempts of one kind by one identity share a
# SecurityEvent row per this many seconds (the Prometheus counter counts each).
IMPERAL_SECURITY_EVENT_INTERVAL = int(
    os.environ.get("IMPERAL_SECURITY_EVENT_INTERVAL", "60")
)
# SecurityEvent rows older than this many days are deleted hourly; 0 keeps them all.
IMPERAL_SECURITY_EVENT_RETENTION_DAYS = int(
    os.environ.get("IMPERAL_SECURITY_EVENT_RETENTION_DAYS", "90")
)
# Who may read /metrics: a client whose address is in one of these networks,
# or any client sending "Authorization: Bearer <IMPERAL_METRICS_TOKEN>" (if set).
IMPERAL_METRICS_ALLOWED_NETWORKS = os.environ.get(
    "IMPERAL_METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128"
)
IMPERAL_METRICS_TOKEN = os.environ.get("IMPERAL_METRICS_TOKEN", "")
# --- imperal-sdk surfaces beyond tools (skeletons, webhooks, lifecycle) ---
# This deployment's public base URL: ctx.webhook_url() builds webhook URLs on it.
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# The host webhooks answer on, alone ("hooks.example.com", optionally with a port):
# when set, /v1/ext/{app}/webhook/{path} answers there only and nothing else does.
# Unset: webhooks answer beside everything else (apps/common/webhook_origin.py).
IMPERAL_WEBHOOK_HOST = os.environ.get("IMPERAL_WEBHOOK_HOST", "").strip()
if IMPERAL_WEBHOOK_HOST:
    _hook_host = IMPERAL_WEBHOOK_HOST.lower()
    ALLOWED_HOSTS.append(
        _hook_host[: _hook_host.find("]") + 1]
        if _hook_host.startswith("[")
        else _hook_host.split(":", 1)[0]
    )
# WebhookCall rows (one per call of a declared webhook) older than this many days
# are deleted hourly; 0 keeps them all.
IMPERAL_WEBHOOK_CALL_RETENTION_DAYS = int(
    os.environ.get("IMPERAL_WEBHOOK_CALL_RETENTION_DAYS", "30")
)
# Largest request body a /v1/ext/{app}/webhook/{path} handler is given (413 beyond).
IMPERAL_WEBHOOK_MAX_BODY_BYTES = int(
    os.environ.get("IMPERAL_WEBHOOK_MAX_BODY_BYTES", str(1024 * 1024))
)
# Seconds an @ext.health_check may run (it runs every 60 s) before it is unhealthy.
IMPERAL_HEALTH_CHECK_TIMEOUT = float(
    os.environ.get("IMPERAL_HEALTH_CHECK_TIMEOUT", "10")
)
# ctx.store runs on the platform database: its backend module per database vendor.
IMPERAL_STORE = {
    "BACKENDS": {
        "postgresql": "apps.store.backends.postgresql",
        "sqlite": "apps.store.backends.sqlite",
    },
}
# ctx.store on PostgreSQL: pooled async connections per process; 0 runs it on the
# caller's thread and Django connection instead (SQLite always does).
IMPERAL_STORE_ASYNC_POOL = int(os.environ.get("IMPERAL_STORE_ASYNC_POOL", "8"))
# Seconds a ctx.store call waits for a pooled connection before StoreUnavailable.
IMPERAL_STORE_POOL_TIMEOUT = float(os.environ.get("IMPERAL_STORE_POOL_TIMEOUT", "30"))
# Operator cap on one document's JSON size in bytes; unset means no cap (as the seed).
IMPERAL_STORE_MAX_DOC_BYTES = (
    int(os.environ.get("IMPERAL_STORE_MAX_DOC_BYTES") or 0) or None
)
# Most bytes of document JSON one ctx.store page (query, each page of list,
# query_all) loads; past its first document the page stops short of it.
IMPERAL_STORE_PAGE_MAX_BYTES = int(
    os.environ.get("IMPERAL_STORE_PAGE_MAX_BYTES", str(8 * 1024 * 1024))
)
# Caps on one ctx.store where (and order_by path), checked before any work.
IMPERAL_STORE_WHERE_MAX_KEYS = int(os.environ.get("IMPERAL_STORE_WHERE_MAX_KEYS", "16"))
IMPERAL_STORE_WHERE_MAX_CONDITIONS = int(
    os.environ.get("IMPERAL_STORE_WHERE_MAX_CONDITIONS", "32")
)
IMPERAL_STORE_WHERE_MAX_IN_VALUES = int(
    os.environ.get("IMPERAL_STORE_WHERE_MAX_IN_VALUES", "500")
)
IMPERAL_STORE_FIELD_MAX_DEPTH = int(
    os.environ.get("IMPERAL_STORE_FIELD_MAX_DEPTH", "8")
)
# Most bytes of values one audit row keeps of what an operator's write changed
# (apps.store.changes); past it a value keeps only its size. 0: paths only.
IMPERAL_AUDIT_CHANGE_MAX_BYTES = int(
    os.environ.get("IMPERAL_AUDIT_CHANGE_MAX_BYTES", str(16 * 1024))
)

# ctx.http: every outbound call made for an extension passes the egress guard
# (apps/egress). Public (globally routable) destinations are open to every
# extension unless IMPERAL_EGRESS_PUBLIC is false; loopback, private,
# link-local (cloud metadata), multicast and reserved ones only when listed
# for the extension here: JSON app id -> ["host", "host:port", "10.0.0.0/8", …].
IMPERAL_EGRESS_ALLOW = os.environ.get("IMPERAL_EGRESS_ALLOW", "{}")
IMPERAL_EGRESS_PUBLIC = _env_bool("IMPERAL_EGRESS_PUBLIC", True)
# Largest response body ctx.http reads (decoded); past it the call fails.
IMPERAL_EGRESS_MAX_RESPONSE_BYTES = int(
    os.environ.get("IMPERAL_EGRESS_MAX_RESPONSE_BYTES", str(10 * 1024 * 1024))
)
# Outbound calls per extension and window ("N/s", "N/min", …; empty: no limit),
# counted atomically on the "default" cache across every process.
IMPERAL_EGRESS_RATE = os.environ.get("IMPERAL_EGRESS_RATE", "1200/min")
# ctx.http calls one extension may have open at once in one process; the rest wait.
IMPERAL_EGRESS_MAX_CONNECTIONS = int(
    os.environ.get("IMPERAL_EGRESS_MAX_CONNECTIONS", "20")
)
# Quotas per extension and user (apps/quotas, docs/operators/quotas.md): JSON
# app id (or "*") -> {kind: limit, "users": {user id: {kind: limit}}}; the
# admin's Quota limits win over it. Validated at start, errors name the key.
IMPERAL_QUOTAS = os.environ.get("IMPERAL_QUOTAS", "{}")
# OutboundCall rows older than this many days are deleted hourly; 0 keeps all.
IMPERAL_OUTBOUND_CALL_RETENTION_DAYS = int(
    os.environ.get("IMPERAL_OUTBOUND_CALL_RETENTION_DAYS", "14")
)

# Isolated workers' sandbox (apps/runtime/sandbox.py, docs/operators/sandbox.md).
# A worker's environment is PATH/LANG/HOME, the runtime's IMPERAL_WORKER_*, and
# this extension's own variables: IMPERAL_EXTENSION_ENV (above, validated at start).
IMPERAL_SANDBOX = {
    # auto: every confinement the host allows, the rest recorded as not in force;
    # strict: refuse to start a worker unless all are; minimal: environment,
    # limits and session only (a development machine).
    "MODE": os.environ.get("IMPERAL_SANDBOX_MODE", "auto"),
    # OS limits per worker process (RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE) and per
    # extension user (RLIMIT_NPROC counts processes and threads of its uid).
    "MEMORY_BYTES": int(os.environ.get("IMPERAL_SANDBOX_MEMORY_BYTES", str(2 << 30))),
    "CPU_SECONDS": int(os.environ.get("IMPERAL_SANDBOX_CPU_SECONDS", "3600")),
    "OPEN_FILES": int(os.environ.get("IMPERAL_SANDBOX_OPEN_FILES", "256")),
    "PROCESSES": int(os.environ.get("IMPERAL_SANDBOX_PROCESSES", "256")),
    # Root only: extension X runs as uid = gid = UID_BASE + hash(X) % UID_SPAN.
    "UID_BASE": int(os.environ.get("IMPERAL_SANDBOX_UID_BASE", "1000000000")),
    "UID_SPAN": int(os.environ.get("IMPERAL_SANDBOX_UID_SPAN", str(1 << 24))),
    # Workers' homes and the staged worker code (empty: a directory in /tmp).
    "ROOT": os.environ.get("IMPERAL_SANDBOX_ROOT", ""),
    # The forward proxy a namespaced worker reaches the network through.
    "EGRESS_PROXY": "apps.egress.proxy",
}

# ctx.db: every extension's SQL runs in its own schema as its own role
# (PostgreSQL) or in its own file (SQLite). URL empty = the platform database.
_IMPERAL_DB_URL = os.environ.get("IMPERAL_DB_URL", "")
_IMPERAL_DB_ON_POSTGRES = (
    _IMPERAL_DB_URL.startswith(("postgres://", "postgresql://"))
    if _IMPERAL_DB_URL
    else IS_POSTGRES
)
IMPERAL_DB = {
    "BACKEND": (
        "apps.db.backends.postgresql"
        if _IMPERAL_DB_ON_POSTGRES
        else "apps.db.backends.sqlite"
    ),
    "URL": _IMPERAL_DB_URL,
    "ROLE_PREFIX": os.environ.get("IMPERAL_DB_ROLE_PREFIX", "imperal_ext_"),
    # Role passwords are HMACs of the role name with this secret (default SECRET_KEY).
    "PASSWORD_SECRET": os.environ.get("IMPERAL_DB_PASSWORD_SECRET", ""),
    "POOL_SIZE": int(os.environ.get("IMPERAL_DB_POOL_SIZE", "10")),
    "POOL_TIMEOUT": 30.0,
    "SQLITE_DIR": VAR_DIR / "extdb",
    # Seconds (0: no limit). Checked, with EXTENSION_OPTIONS, by apps.db.backends.base.
    "STATEMENT_TIMEOUT": os.environ.get("IMPERAL_DB_STATEMENT_TIMEOUT", "30"),
    "LOCK_TIMEOUT": os.environ.get("IMPERAL_DB_LOCK_TIMEOUT", "10"),
    "IDLE_IN_TRANSACTION_TIMEOUT": os.environ.get(
        "IMPERAL_DB_IDLE_IN_TRANSACTION_TIMEOUT", "60"
    ),
    # {"app-id": {"STATEMENT_TIMEOUT": 120, ...}}, as a dict or JSON text.
    "EXTENSION_OPTIONS": os.environ.get("IMPERAL_DB_EXTENSION_OPTIONS", "{}"),
    # PostgreSQL: the most an extension may SET work_mem (and the like) to.
    "MEMORY_LIMIT": os.environ.get("IMPERAL_DB_MEMORY_LIMIT", "64MB"),
    # Transactions of isolated workers one gateway process holds per extension
    # (apps.db.relay); each holds one of the extension's POOL_SIZE connections.
    "WORKER_SESSIONS": os.environ.get("IMPERAL_DB_WORKER_SESSIONS", "5"),
    # Seconds between a worker's pings of an idle session's connection, under
    # the web server's keep-alive idle limit (granian: 30 s); 0: no pings.
    "WORKER_KEEPALIVE": os.environ.get("IMPERAL_DB_WORKER_KEEPALIVE", "15"),
}

# Recorded errors (the admin's page behind an error id) older than this many days
# are deleted hourly; 0 keeps them all.
IMPERAL_ERROR_RETENTION_DAYS = int(os.environ.get("IMPERAL_ERROR_RETENTION_DAYS", "30"))
# A Celery worker serves its processes' Prometheus metrics on this port (0: off),
# bound to IMPERAL_WORKER_METRICS_HOST; the web's /metrics serves the web's.
IMPERAL_WORKER_METRICS_PORT = int(os.environ.get("IMPERAL_WORKER_METRICS_PORT") or 0)
IMPERAL_WORKER_METRICS_HOST = os.environ.get("IMPERAL_WORKER_METRICS_HOST", "127.0.0.1")

# One line per record, "text" or "json" (scripts/serve.sh defaults to json); each
# carries its request's id (apps/common/telemetry/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
LOGGING = logging_config(LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"))
