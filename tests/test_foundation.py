"""The platform starts, serves its three front doors, and passes Django's deployment checks."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_admin_login_page_is_served(client: Client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"EMSP back office" in response.content


@pytest.mark.django_db
def test_staff_reach_the_admin_index(client: Client) -> None:
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"Partners" in response.content


@pytest.mark.django_db
def test_home_links_to_the_three_front_doors(client: Client) -> None:
    body = client.get("/").content.decode()
    assert "/admin/" in body
    assert "/api/v1/docs/" in body
    assert "/ocpi/versions" in body


@pytest.mark.django_db
def test_healthz_checks_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] is True


@pytest.mark.django_db
def test_driver_api_schema_is_served(client: Client) -> None:
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"EMSP driver API" in response.content


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checks() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "x" * 20 + "-production-grade-secret-key-with-entropy-" + "y" * 10,
            "ALLOWED_HOSTS": "emsp.example.com",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key() -> None:
    result = _manage("check", env={"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _compose_environment(operator: dict[str, str]) -> dict[str, str]:
    """The environment docker-compose.yml gives the platform's processes, with what an operator sets for
    `${VAR...}` (else the file's `:-` default)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {}
    for name, value in compose["x-app"]["environment"].items():
        text = str(value)
        match = re.fullmatch(r"\$\{(\w+)(?::([-?])(.*))?\}", text)
        if match:
            var, kind, default = match.groups()
            text = operator.get(var, default if kind == "-" else "")
        env[name] = text
    return env


DEPLOYMENT = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "emsp.example.com",
    "OCPI_BASE_URL": "https://emsp.example.com/ocpi",
    "SECURE_SSL_REDIRECT": "true",
    "METRICS_TOKEN": secrets.token_urlsafe(32),
}


def test_the_deployments_environment_passes_the_deployment_checks() -> None:
    env = _compose_environment(DEPLOYMENT)
    assert env["DEBUG"] == "false"
    assert env["DATABASE_URL"].startswith("postgres://")
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deployment_checks_catch_a_deployment_left_on_plain_http() -> None:
    env = _compose_environment({**DEPLOYMENT, "SECURE_SSL_REDIRECT": "false"})  # the file's local default
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr
