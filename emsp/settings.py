"""Settings, entirely from the environment (django-environ).

One file for every deployment. With nothing set the platform runs on a local SQLite file with Celery
tasks executed in-process (the embedded default behind `make run`); set `DATABASE_URL` and
`CELERY_BROKER_URL` (or `REDIS_URL`) to run on PostgreSQL with real workers. Defaults are
production-safe: `DEBUG` is off unless asked for, and then a `SECRET_KEY` must be given.
`.env.example` lists every variable.
"""

import base64
import hashlib
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Lets typed code write `admin.ModelAdmin[Model]` and `QuerySet[Model]` at run time too.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# --- Core -----------------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "backoffice.sites.BackOfficeAdminConfig",  # django.contrib.admin with our start page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_simplejwt.token_blacklist",
    "django_celery_beat",
    "simple_history",
    "emsp",
    "drivers",
    "roaming",
    "billing",
    "api",
    "backoffice",
]

MIDDLEWARE = [
    "emsp.lib.logs.RequestIdMiddleware",  # every log record of the request names it (the OCPI view does its own)
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Admin changes record who made them (django-simple-history); OCPI requests do not pass here.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# OCPI requests (machine to machine: no session, cookies, CSRF or HTML) skip the rest: emsp/handlers.py.
OCPI_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]

ROOT_URLCONF = "emsp.urls"
WSGI_APPLICATION = "emsp.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves the simulator's pushes and the admin at once: WAL plus
    # IMMEDIATE transactions turn "database is locked" into a short wait.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # Off by default: the check is a `SELECT 1` round trip at the start of every request, a fifth of the
    # cost of a real-time authorization. Without it, a connection broken by a database restart fails one
    # request per thread and is then replaced (Django drops connections that raised).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    # Parameters bound on the server, and statements prepared once they have run 5 times on a connection:
    # PostgreSQL then skips parsing and planning. Measured on a real-time authorization, planning was half
    # of PostgreSQL's CPU. Off for a pooler that cannot keep prepared statements (PgBouncer before 1.21 in
    # transaction mode).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "server_side_binding": True,
            "prepare_threshold": 5 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None,
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # The cache is an optimisation and a throttle, never a dependency: with Redis down a read is a miss
            # and a write is dropped, so the driver API and the back office keep answering and the
            # throttles fail open until Redis is back (tests/faults/test_redis_down.py). Short socket timeouts
            # so that a Redis that does not answer (a lost host, not a refused port) costs at most half a
            # second a request rather than hanging it.
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
                "SOCKET_TIMEOUT": env.float("REDIS_TIMEOUT", default=0.5),
            },
        }
    }
    # Not logged per operation (a traceback for each cache call of each request during an outage): /healthz
    # and the metrics say that Redis is down, and the task publisher logs each message it could not send.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# No broker means the embedded mode: tasks run in-process, synchronously, errors propagate.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = (
    env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "") or None
)
CELERY_RESULT_EXPIRES = 3600
# A task is acknowledged once it has run, not when a worker takes it: a worker that dies mid-task (OOM, deploy,
# kill -9) leaves it to be run again by another. Safe because every task is idempotent (docs/operations.md
# lists why, task by task). One message prefetched per process: a worker busy with a long pull does not sit
# on tasks another worker could run now.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task taken by a worker that then died without a word (SIGKILL, OOM, a lost host) is given to another worker
# this many seconds after it was taken (Redis keeps it unacknowledged until then). Longer than any task and any
# countdown, or a running task is started a second time (harmless, they are idempotent, but wasted).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Work kept apart: a queue per kind of work, each with its own workers (docker-compose.yml, `make worker`), so a
# first pull of a big CPO (minutes) never holds up a token push or a command's timeout. Every task is routed
# here, once (tests/test_celery_queues.py checks that none is missing).
CELERY_TASK_DEFAULT_QUEUE = "default"
TASK_QUEUES = {
    # Pulls from CPOs: long, network-bound, one at a time per worker.
    "sync": ["roaming.sync_partner", "roaming.hub_clients_pull", "roaming.pull_invoice_records"],
    # Pricing, invoicing, collection: CPU and database.
    "billing": ["billing.price_cdrs", "billing.invoice_run", "billing.invoice_documents_render", "billing.dunning_run"],
    # What partners and drivers wait for: token pushes, command timeouts, charging preferences never sent, and
    # the outbox sweeper that sends whatever the broker missed (it must run even while the sync queue is full).
    # A command's first POST is made in the request that stores it; its resends (CPO unreachable) and their
    # sweeper are here (docs/operations.md).
    "pushes": [
        "roaming.push_tokens",
        "roaming.push_tokens_due",
        "roaming.push_invoice_record",
        "roaming.push_invoice_records_due",
        "roaming.commands_time_out",
        "roaming.command_send",
        "roaming.commands_send_due",
        "roaming.preferences_send_stale",
        "emsp.outbox_sweep",
    ],
    "default": [
        "roaming.purge_request_log",
        "roaming.purge_expired_tokens",
        "drivers.expire_tokens",
        "drivers.send_account_email",
        "emsp.health.ping",
    ],
}
CELERY_TASK_ROUTES = {task: {"queue": queue} for queue, tasks in TASK_QUEUES.items() for task in tasks}
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=15 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=20 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING (JSON lines, task id as request_id) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Embedded mode: run enqueued tasks in a background thread rather than inside the caller's request.
EMSP_EAGER_TASKS_IN_THREAD = env.bool("EMSP_EAGER_TASKS_IN_THREAD", default=True)
# Seconds a task sent after a commit may wait for the broker (to connect, then per socket operation). A task
# the broker does not take stays in the outbox table and is sent by the sweeper (emsp/lib/tasks.py).
EMSP_TASK_PUBLISH_TIMEOUT = env.float("EMSP_TASK_PUBLISH_TIMEOUT", default=1.0)

# --- Auth, i18n, static ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
# The languages of the app's texts and of invoices.
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
TIME_ZONE = "UTC"
USE_I18N = True
# Our own translations (invoice documents): locale/<language>/LC_MESSAGES/django.po, compiled to .mo.
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True
# Audit history (django-simple-history) is read only: reverting a card or a driver by hand would skip the
# services that tell every CPO (drivers.services), so changes go through the normal forms and actions.
SIMPLE_HISTORY_REVERT_DISABLED = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploaded and generated files (invoice PDFs). Served only through the admin, never as public media.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Mail (invoices, dunning reminders): printed on the console unless an SMTP server is configured.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@emsp.example")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production-safe unless DEBUG) ------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework (driver API) ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Apps send a JWT access token; staff trying the API from the docs page are signed in by session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.DriverJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsDriver"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # Per scope, per user (or per address when signed out); counted in the shared cache (Redis when set).
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("API_THROTTLE_LOGIN", default="10/min"),
        "signup": env.str("API_THROTTLE_SIGNUP", default="5/hour"),
        "charging": env.str("API_THROTTLE_CHARGING", default="30/min"),
        "password_reset": env.str("API_THROTTLE_PASSWORD_RESET", default="5/hour"),
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("API_ACCESS_TOKEN_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("API_REFRESH_TOKEN_DAYS", default=30)),
    # A refresh token is used once: refreshing returns a new one and blacklists the old (logout blacklists too).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # Tokens carry a hash of the password: a new password (a reset after a stolen phone) signs out every app.
    "CHECK_REVOKE_TOKEN": True,
}
# A retried start or stop with the same Idempotency-Key within this many hours gets the first answer again.
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
SPECTACULAR_SETTINGS = {
    "TITLE": "EMSP driver API",
    "DESCRIPTION": "What the driver apps use: chargers, prices, sessions, history and invoices.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_page_errors",
    ],
    # Choice sets that share a field name get names of their own (not a hash suffix).
    "ENUM_NAME_OVERRIDES": {
        "InvoiceKindEnum": "billing.models.Invoice.Kind",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "InvoiceLineKindEnum": "billing.models.InvoiceLine.Kind",
    },
}

# --- Writes that may land a moment late ------------------------------------------------------------------
# The OCPI request log and EVSE status history are written in bulk by a background thread this often
# (seconds; 0 = at once). A crash loses at most this window of them, never a status itself.
BULK_WRITE_FLUSH_SECONDS = env.float("BULK_WRITE_FLUSH_SECONDS", default=1.0)
# While the database is away, rows wait in memory for the next flush that succeeds, at most this many per kind
# (about 1 KB each); beyond, the oldest are dropped and counted in the log.
BULK_WRITE_MAX_PENDING = env.int("BULK_WRITE_MAX_PENDING", default=50_000)

# --- Drivers --------------------------------------------------------------------------------------------
# Links in account emails (confirm the address, reset the password) open the driver app under this URL
# (a universal/app link), which posts what they carry to the API.
DRIVER_APP_URL = env.str("DRIVER_APP_URL", default="http://127.0.0.1:8000/app").rstrip("/")
ACCOUNT_VERIFY_HOURS = env.int("ACCOUNT_VERIFY_HOURS", default=72)
# Token changes are pushed to CPOs from an append-only log, read this many seconds behind the present.
TOKEN_CHANGE_SETTLE_SECONDS = env.int("TOKEN_CHANGE_SETTLE_SECONDS", default=3)

# --- OCPI -----------------------------------------------------------------------------------------------
# The public base URL under which partners reach our OCPI endpoints (behind any proxy).
OCPI_BASE_URL = env.str("OCPI_BASE_URL", default="http://127.0.0.1:8000/ocpi").rstrip("/")
OCPI_COUNTRY_CODE = env.str("OCPI_COUNTRY_CODE", default="NL").upper()
OCPI_PARTY_ID = env.str("OCPI_PARTY_ID", default="EMS").upper()
OCPI_BUSINESS_NAME = env.str("OCPI_BUSINESS_NAME", default="Example EMSP")
OCPI_BUSINESS_WEBSITE = env.str("OCPI_BUSINESS_WEBSITE", default="")
# Tokens we present to partners are stored encrypted with this Fernet key. Derived from SECRET_KEY
# when unset, so rotating SECRET_KEY without setting it makes stored partner tokens unreadable.
OCPI_TOKEN_ENCRYPTION_KEY = env.str(
    "OCPI_TOKEN_ENCRYPTION_KEY",
    default=base64.urlsafe_b64encode(hashlib.sha256(f"ocpi-tokens:{SECRET_KEY}".encode()).digest()).decode(),
)
# Pull a new partner's locations and tariffs as soon as the handshake completes.
OCPI_SYNC_ON_REGISTER = env.bool("OCPI_SYNC_ON_REGISTER", default=True)
# Periodic pulls, per partner (django-celery-beat; staff can edit each partner's schedule in the admin).
OCPI_SYNC_INCREMENTAL_MINUTES = env.int("OCPI_SYNC_INCREMENTAL_MINUTES", default=15)
OCPI_SYNC_FULL_HOUR_UTC = env.int("OCPI_SYNC_FULL_HOUR_UTC", default=3)
# An incremental pull asks for changes since the last successful one started, minus this margin: CPO
# clocks drift and some stamp whole seconds. Objects re-read in the overlap are skipped as unchanged.
OCPI_SYNC_OVERLAP_SECONDS = env.int("OCPI_SYNC_OVERLAP_SECONDS", default=300)
OCPI_CLIENT_TIMEOUT = env.float("OCPI_CLIENT_TIMEOUT", default=10.0)
OCPI_CLIENT_RETRIES = env.int("OCPI_CLIENT_RETRIES", default=3)
OCPI_CLIENT_BACKOFF = env.float("OCPI_CLIENT_BACKOFF", default=0.5)
# A command the CPO certainly did not get (connection refused, HTTP 429/503) is POSTed again, the same body, for
# this long after it was made, never past its deadline; then it FAILED. A START_SESSION that arrives later than
# this could start a charge the driver has given up on (roaming/services/commands.py).
OCPI_COMMAND_SEND_WINDOW_SECONDS = env.int("OCPI_COMMAND_SEND_WINDOW_SECONDS", default=60)
OCPI_PAGE_LIMIT_MAX = env.int("OCPI_PAGE_LIMIT_MAX", default=1000)
OCPI_PAGE_LIMIT_DEFAULT = env.int("OCPI_PAGE_LIMIT_DEFAULT", default=100)
# After a credentials rotation the old token keeps working this long, so a partner that missed our
# answer is not locked out.
OCPI_TOKEN_ROTATION_GRACE = env.int("OCPI_TOKEN_ROTATION_GRACE", default=3600)
# A busy CPO sends thousands of EVSE status PATCHes a minute. A successful plain status change is
# recorded in the EVSE status history (with the CPO's timestamp), so by default it is not also written
# to the request log; failures always are. True logs every one.
OCPI_REQUEST_LOG_STATUS_PATCHES = env.bool("OCPI_REQUEST_LOG_STATUS_PATCHES", default=False)
# Requests with a wrong token from one address (REMOTE_ADDR, or X-Forwarded-For with the API's NUM_PROXIES): past
# this many within the window, 429 instead of 401 (counted in the cache; 0 = off). A good token is never throttled.
OCPI_AUTH_FAILURE_LIMIT = env.int("OCPI_AUTH_FAILURE_LIMIT", default=30)
OCPI_AUTH_FAILURE_WINDOW_SECONDS = env.int("OCPI_AUTH_FAILURE_WINDOW_SECONDS", default=300)
# Functional-module requests reuse a partner's token look-up for this long (per process).
OCPI_AUTH_CACHE_SECONDS = env.int("OCPI_AUTH_CACHE_SECONDS", default=30)
OCPI_REQUEST_LOG_RETENTION_DAYS = env.int("OCPI_REQUEST_LOG_RETENTION_DAYS", default=30)
OCPI_REQUEST_LOG_BODY_MAX = env.int("OCPI_REQUEST_LOG_BODY_MAX", default=20_000)
# The largest OCPI request body we read; a bigger one is answered 413 without being read. A Location with
# hundreds of EVSEs or a CDR with a day of charging periods is well under 1 MB.
OCPI_MAX_BODY_BYTES = env.int("OCPI_MAX_BODY_BYTES", default=4 * 1024 * 1024)
# Django refuses bodies above this when a view reads them (2.5 MB by default): never below the OCPI limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, OCPI_MAX_BODY_BYTES)

# --- Billing --------------------------------------------------------------------------------------------


def _env_decimal(name: str, default: str) -> str:
    """A non-negative decimal, kept as its string (settings stay plain data); a bad value fails loudly."""
    value = env.str(name, default=default)
    try:
        if not Decimal(value) >= 0:
            raise InvalidOperation
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a non-negative decimal number, got {value!r}") from None
    return value


# A CPO's CDR price and ours may differ by this much before a dispute opens: an amount in the CDR's
# currency plus a percentage of the larger of the two figures.
BILLING_TOLERANCE_AMOUNT = _env_decimal("BILLING_TOLERANCE_AMOUNT", "0.01")
BILLING_TOLERANCE_PERCENT = _env_decimal("BILLING_TOLERANCE_PERCENT", "0.5")
# New CDRs wake the pricing workers at most this often per web process (seconds); each wake-up prices every
# CDR stored before it. 0: one wake-up per CDR.
BILLING_WAKE_UP_SECONDS = env.float("BILLING_WAKE_UP_SECONDS", default=0.5)
# A CDR we received this many days ago that no invoice reconciliation record of its CPO names yet is shown to
# finance as not invoiced: CPOs invoice monthly, so a CDR may wait a month and a half for its invoice.
BILLING_INVOICE_GRACE_DAYS = env.int("BILLING_INVOICE_GRACE_DAYS", default=45)

# Who invoices drivers: printed on every invoice (EU VAT Directive art. 226) and in SEPA files.
BILLING_COMPANY = {
    "name": env.str("BILLING_COMPANY_NAME", default="Example EMSP B.V."),
    "address": env.str(
        "BILLING_COMPANY_ADDRESS", default="Stationsplein 1\n1012 AB Amsterdam\nNetherlands", multiline=True
    ),
    "vat_number": env.str("BILLING_COMPANY_VAT_NUMBER", default="NL000099998B57"),
    "chamber_of_commerce": env.str("BILLING_COMPANY_COC", default="12345678"),
    "email": env.str("BILLING_COMPANY_EMAIL", default="billing@emsp.example"),
    "iban": env.str("BILLING_COMPANY_IBAN", default="NL91ABNA0417164300"),
    "bic": env.str("BILLING_COMPANY_BIC", default="ABNANL2A"),
    # SEPA Creditor Identifier: country, check digits, ZZZ, national id.
    "creditor_id": env.str("BILLING_COMPANY_CREDITOR_ID", default="NL97ZZZ123456780000"),
}
# Standard VAT rates (percent) by the driver's country (ISO alpha-2): charging is a supply of goods.
# Check before use; they change (FI 25.5 since 2024-09-01). Override with BILLING_VAT_RATES="NL=21,DE=19".
BILLING_VAT_RATES = {
    "NL": "21",
    "BE": "21",
    "DE": "19",
    "FR": "20",
    "AT": "20",
    "IT": "22",
    "ES": "21",
    "PL": "23",
    "DK": "25",
    "SE": "25",
    "FI": "25.5",
    "LU": "17",
} | env.dict("BILLING_VAT_RATES", default={})
# Months are invoiced by the calendar of this zone (a session belongs to the month it ended in here).
BILLING_TIME_ZONE = env.str("BILLING_TIME_ZONE", default="Europe/Amsterdam")
# Invoice numbers: "<series>-<year>-<number>", gap-free per series and year.
BILLING_INVOICE_SERIES = env.str("BILLING_INVOICE_SERIES", default="INV")
BILLING_CREDIT_NOTE_SERIES = env.str("BILLING_CREDIT_NOTE_SERIES", default="CRN")
# Render each invoice's PDF as it is issued (in a worker); else on first download.
BILLING_RENDER_DOCUMENTS = env.bool("BILLING_RENDER_DOCUMENTS", default=True)
BILLING_PAYMENT_TERM_DAYS = env.int("BILLING_PAYMENT_TERM_DAYS", default=14)
# Dunning: reminders this many days after the due date; after the last one the driver is suspended.
BILLING_REMINDER_DAYS = [int(day) for day in env.list("BILLING_REMINDER_DAYS", default=["7", "21"])]
BILLING_REMINDER_FEES = [_env_decimal("BILLING_REMINDER_FEE_1", "0"), _env_decimal("BILLING_REMINDER_FEE_2", "5.00")]
BILLING_SUSPEND_DAYS = env.int("BILLING_SUSPEND_DAYS", default=28)
# What the bank charges us for a returned direct debit, passed on to the driver on their next invoice (0: not).
BILLING_RETURN_FEE = _env_decimal("BILLING_RETURN_FEE", "2.50")
# SEPA pre-notification: the days between the invoice and its collection agreed in our terms.
BILLING_DEBIT_NOTICE_DAYS = env.int("BILLING_DEBIT_NOTICE_DAYS", default=2)
# The price before charging: the session assumed per power class when the driver names no energy or duration.
BILLING_ESTIMATE_DEFAULTS = {
    "AC": {"energy_kwh": "11", "minutes": 120},
    "DC": {"energy_kwh": "30", "minutes": 40},
    "HPC": {"energy_kwh": "45", "minutes": 25},
}

# --- Operations: metrics and logs ---------------------------------------------------------------------------
# /metrics (Prometheus) answers staff signed in to the back office, and a scraper that sends
# `Authorization: Bearer <METRICS_TOKEN>`; unset, staff only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Where each process (gunicorn and Celery workers) writes its counters, so that a scrape adds up all of them
# (emsp/lib/metrics.py). Unset: each process reports its own counts only. Clear it when the service starts.
METRICS_DIR = env.str("METRICS_DIR", default="")
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=5.0)
# /healthz answers 503 when the oldest task waiting in the outbox is this late (seconds): the broker has
# been refusing tasks, or nothing sweeps them.
HEALTH_OUTBOX_MAX_AGE_SECONDS = env.int("HEALTH_OUTBOX_MAX_AGE_SECONDS", default=600)

# One JSON object per line (json: for a log collector) or plain text (text: for a terminal); JSON unless DEBUG.
# Every record carries the request's id (the caller's X-Request-ID when it sent one) and the OCPI partner.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "emsp.lib.logs.RequestContextFilter"},
        "redact": {"()": "emsp.lib.logs.RedactTokensFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(partner)s] %(message)s"},
        "json": {"()": "emsp.lib.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
