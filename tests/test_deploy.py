"""Production settings pass ``check --deploy`` and refuse to start without secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "project.settings.production",
    "SECRET_KEY": "t3st-Only_9fJq2LmZ8xWv4RkP7sYc1NbH6uDe0GaT5oQiE3jK-prod-like",
    "ALLOWED_HOSTS": "points.example.com",
    "DATABASE_URL": "postgres://points:points@127.0.0.1:5432/points",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_the_embedded_secret_key() -> None:
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_requires_allowed_hosts() -> None:
    env = {**PRODUCTION_ENV, "ALLOWED_HOSTS": ""}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_collectstatic_with_production_storage(tmp_path: Path) -> None:
    """whitenoise's hashed, compressed storage post-processes every CSS reference; viewflow's
    font CSS names files its wheel does not ship, which once failed the whole command."""
    # Without the gzip/brotli copies: the hashing is what failed, compression takes minutes.
    env = {**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path / "static"), "STATIC_COMPRESS": "0"}
    result = _manage("collectstatic", "--noinput", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]
    assert "points/points.css" in hashed and hashed["points/points.css"] != "points/points.css"
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in hashed
    assert (tmp_path / "static" / hashed["points/points.css"]).exists()
