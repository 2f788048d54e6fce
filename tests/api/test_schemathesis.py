"""``schemathesis run`` against the live schema of a running server loaded with the demo,
authenticated as an HR officer and as a member, with a bounded number of examples per
operation: no 5xx, no status code, content type or body that contradicts the schema, and
no crash. Token endpoints are left out: revoking the run's own token would end it."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from points.models import Member

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
#: Examples per operation and per user (bounded: the whole test takes about a minute).
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))


@pytest.fixture
def demo(transactional_db: Any) -> None:
    call_command("seed_demo", stdout=StringIO())


def _token(username: str) -> str:
    member = Member.objects.select_related("user").get(user__username=username)
    return Token.objects.get_or_create(user=member.user)[0].key


@pytest.mark.parametrize("username", ["hr1", "member"])
def test_schemathesis_finds_nothing(
    live_server: Any, demo: None, username: str, tmp_path: Path
) -> None:
    token = _token(username)
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/api/schema/?format=json",
        "--header",
        f"Authorization: Token {token}",
        "--header",
        "Accept-Language: zh-hans",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,fuzzing",
        "--seed",
        "20261129",
        "--workers",
        "1",
        "--exclude-path-regex",
        r"/tokens?/$",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--no-color",
    ]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        check=False,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "No issues found" in run.stdout or "passed" in run.stdout, report
