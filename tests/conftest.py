"""Shared fixtures. Tests talk to the real database and, where marked, to real Redis and HTTP peers."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def broker_url() -> str:
    """The real broker, when the run is configured with one (CI always is)."""
    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
    if not url.startswith("redis"):
        pytest.skip("no CELERY_BROKER_URL/REDIS_URL: the embedded run executes tasks in-process")
    if not _reachable(url):
        pytest.fail(f"CELERY_BROKER_URL {url} is set but not reachable")
    return url
