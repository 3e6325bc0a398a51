"""Test settings: the real settings with speed and determinism overrides.

The database and broker still come from the environment, so the same suite runs on the embedded
SQLite default and, in CI, on PostgreSQL and Redis.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from emsp.settings import *  # noqa: F403
from emsp.settings import ALLOWED_HOSTS, STORAGES

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
OCPI_CLIENT_BACKOFF = 0.0
# Tests run tasks inline (deterministic), even when a broker is configured, and start syncs themselves.
# The one test of the real path (tests/test_celery_worker.py) sends through the broker on purpose.
CELERY_TASK_ALWAYS_EAGER = True
EMSP_EAGER_TASKS_IN_THREAD = False
OCPI_SYNC_ON_REGISTER = False
# Tests see every write at once.
OCPI_AUTH_CACHE_SECONDS = 0
# Many tests send wrong tokens from 127.0.0.1: the throttle is on only in its tests (tests/roaming/test_security.py).
OCPI_AUTH_FAILURE_LIMIT = 0
BULK_WRITE_FLUSH_SECONDS = 0.0
# Static files are served from the app folders in tests; no collectstatic run.
WHITENOISE_AUTOREFRESH = True
TOKEN_CHANGE_SETTLE_SECONDS = 0
BILLING_WAKE_UP_SECONDS = 0.0  # every CDR priced as it is stored
# SQLite tests use a file, not memory: the live server and the test's threads then share a database
# that waits for locks, as the embedded `make run` does.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}  # noqa: F405
# The live server answers each request in a thread of its own: close its connection at the end of the
# request, or the test database cannot be dropped afterwards.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Rendered invoices go to a directory of this run, never into the checkout.
MEDIA_ROOT = tempfile.mkdtemp(prefix="emsp-test-media-")
# Invoice PDFs take about a second each: rendered on issue only in the tests of that (they turn it on).
BILLING_RENDER_DOCUMENTS = False
