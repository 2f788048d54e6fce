"""Per-user upload quota: each person may store the organisation's quota of evidence in
24 hours; past it, a declaration (or appeal) is refused with a translated message and
nothing is written. Files in one request count together."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from flows.models import Declaration, Evidence
from tests.conftest import Org
from tests.factories import RuleItemFactory

START = "/declarations/declaration/start/"


def _noise(name: str) -> SimpleUploadedFile:
    """A photo of noise (about 0.7 MB even after re-encoding: noise does not compress)."""
    rng = random.Random(name)
    image = Image.frombytes("RGB", (480, 480), rng.randbytes(480 * 480 * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


@pytest.fixture
def rule(org: Org) -> Any:
    org.organisation.policy.upload_quota_mb_per_day = 1
    org.organisation.policy.save()
    return RuleItemFactory(
        organisation=org.organisation,
        code="SVC-001",
        name="顾客表扬",
        kind="award",
        points_min=50,
        points_max=50,
    )


def _declare(client: Any, member: Any, rule: Any, *photos: SimpleUploadedFile) -> Any:
    data: dict[str, Any] = {
        "member": member.pk,
        "items-TOTAL_FORMS": len(photos),
        "items-INITIAL_FORMS": 0,
        "items-MIN_NUM_FORMS": 0,
        "items-MAX_NUM_FORMS": 5,
    }
    for n, photo in enumerate(photos):
        data |= {
            f"items-{n}-rule_item": rule.pk,
            f"items-{n}-quantity": 1,
            f"items-{n}-event_date": "2026-11-10",
            f"items-{n}-place": "二号车间",
            f"items-{n}-description": f"第{n}项",
            f"items-{n}-evidence": photo,
        }
    return client.post(START, data)


def test_past_the_quota_a_declaration_is_refused_and_nothing_written(
    org: Org, rule: Any, login: Any
) -> None:
    client = login(org.worker_a1)
    assert _declare(client, org.worker_a1, rule, _noise("a.png")).status_code == 302
    assert Evidence.objects.count() == 1
    refused = _declare(client, org.worker_a1, rule, _noise("b.png"))
    assert refused.status_code == 200
    assert "上传配额" in refused.content.decode()
    assert Declaration.objects.count() == 1 and Evidence.objects.count() == 1

    # Someone else's quota is their own.
    other = login(org.leader_a1)
    assert _declare(other, org.leader_a1, rule, _noise("c.png")).status_code == 302

    # A day later the quota is free again.
    with time_machine.travel(datetime(2026, 11, 21, 11, 0, tzinfo=UTC), tick=False):
        client = login(org.worker_a1)
        assert _declare(client, org.worker_a1, rule, _noise("d.png")).status_code == 302


def test_files_of_one_declaration_count_together(org: Org, rule: Any, login: Any) -> None:
    client = login(org.worker_a1)
    refused = _declare(client, org.worker_a1, rule, _noise("a.png"), _noise("b.png"))
    assert refused.status_code == 200
    assert "上传配额" in refused.content.decode()
    assert not Declaration.objects.exists() and not Evidence.objects.exists()
