"""The caps count what is approved and waiting to be posted, not the ledger alone: HR's
summary posts the pending pool once a month, so by the ledger a cap would look untouched
all month (the declaration form's "how close to each cap", a notice's cap check)."""

from __future__ import annotations

from typing import Any

import pytest

from flows.models import AwardNotice, SummaryStatus
from points.models import EntryKind, LedgerEntry
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import START
from tests.flows.test_publicity import (
    _approved,
    _client,
    _close_after_window,
    _open_summary,
    _sign,
    _submit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def capped(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
        cap_per_month=100,
    )


def _caps(member: Any) -> str:
    html = _client(member).get(START).content.decode()
    return html[html.index('id="caps"') : html.index("</section>", html.index('id="caps"'))]


def test_approved_points_count_towards_the_caps_until_and_after_they_are_posted(
    org: Org, capped: Any, committee2: Any
) -> None:
    assert "0 / 100" in _caps(org.worker_a1)
    _approved(org, capped, org.worker_a1, org.leader_a1, 30)  # in the pending pool
    _approved(org, capped, org.worker_b, org.leader_b, 40)
    caps = _caps(org.worker_a1)
    assert "30 / 100" in caps and "计入：账户中已入账的积分，以及已批准、待入账的积分。" in caps
    assert "40 / 100" in _caps(org.worker_b)  # each member their own

    # a notice that would take the member over the cap with what waits is refused
    def notice(points: int) -> Any:
        return _client(org.leader_a1).post(
            "/declarations/awardnotice/start/",
            {
                "members": [org.worker_a1.pk],
                "rule_item": capped.pk,
                "quantity": 1,
                "points": points,
                "event_date": "2026-11-12",
                "description": "合理化建议被采纳",
            },
        )

    assert notice(10).status_code == 302  # 10 more: 40 of 100
    over = notice(70)
    assert over.status_code == 200 and AwardNotice.objects.count() == 1
    assert "acme-worker-a1 将超过“合理化建议”的上限。" in over.content.decode()
    assert "40 / 100" in _caps(org.worker_a1)  # the declaration and the notice

    # gathered and published: still waiting, still counted, once
    summary = _open_summary(org)
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.PUBLICITY
    assert "40 / 100" in _caps(org.worker_a1)

    # posted: the ledger counts them now, and they are not counted a second time
    _close_after_window(summary)
    assert LedgerEntry.objects.filter(kind=EntryKind.DAILY, member=org.worker_a1).count() == 2
    assert "40 / 100" in _caps(org.worker_a1)
