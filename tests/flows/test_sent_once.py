"""A form that starts something, sent twice (a double tap, a resend after a slow answer),
acts once: one declaration, one notice, one redemption; the repeat is told so and sent
where the first went. A form with errors keeps its token, so the corrected form acts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from flows.models import AwardNotice, Declaration, IdempotencyKey, Redemption
from flows.once import ONCE_FIELD
from points.models import Account, Reward, RewardKind
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _client, _said

pytestmark = pytest.mark.django_db

DECLARE = "/declarations/declaration/start/"
NOTICE = "/declarations/awardnotice/start/"
REDEEM = "/shop/redemption/start/"
ALREADY = "此表单已提交过：没有再次提交。"


def _repeated(response: Any) -> bool:
    """The page says this sending was not sent again (in its last message: the one shown)."""
    said = _said(response)
    return bool(said) and said[-1].startswith(ALREADY)


def _token(page: Any) -> str:
    assert page.status_code == 200
    found = re.findall(rf'name="{ONCE_FIELD}" value="([0-9a-f]{{32}})"', page.content.decode())
    assert len(found) == 1, found
    return found[0]


def _declaration(rule: Any, token: str, member: Any, **changes: Any) -> dict[str, Any]:
    return {
        ONCE_FIELD: token,
        "member": member.pk,
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "5",
        "items-0-rule_item": rule.pk,
        "items-0-quantity": "1",
        "items-0-points": "20",
        "items-0-event_date": "2026-11-10",
        "items-0-place": "二号车间",
        "items-0-description": "合理化建议被采纳",
        **changes,
    }


@pytest.fixture
def idea(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
    )


@pytest.fixture
def praise(org: Org) -> Any:
    """A fixed-points rule that needs evidence."""
    return RuleItemFactory(
        organisation=org.organisation,
        name="顾客表扬",
        kind="award",
        points_min=50,
        points_max=50,
        evidence_required=True,
    )


def test_a_declaration_sent_twice_is_declared_once(org: Org, idea: Any) -> None:
    client = _client(org.worker_a1)
    token = _token(client.get(DECLARE))
    first = client.post(DECLARE, _declaration(idea, token, org.worker_a1))
    assert first.status_code == 302
    second = client.post(DECLARE, _declaration(idea, token, org.worker_a1))
    assert second.status_code == 302 and second["Location"] == first["Location"]
    # (sent one after the other, the first's message is still to be shown)
    # one message (a page shows the last only): not sent again, and what the first said
    assert _said(second)[-1] == f"{ALREADY} 您的申报已提交给 acme-leader-a1 审核。"
    assert not _repeated(first)
    assert Declaration.objects.filter(member=org.worker_a1).count() == 1
    # the next page draws a new token: a new declaration is declared
    again = client.post(DECLARE, _declaration(idea, _token(client.get(DECLARE)), org.worker_a1))
    assert again.status_code == 302 and not _repeated(again)
    assert Declaration.objects.filter(member=org.worker_a1).count() == 2


def test_a_form_with_errors_keeps_its_token_and_acts_once_corrected(org: Org, idea: Any) -> None:
    client = _client(org.worker_a1)
    token = _token(client.get(DECLARE))
    refused = client.post(
        DECLARE, _declaration(idea, token, org.worker_a1, **{"items-0-points": "500"})
    )
    assert _token(refused) == token  # drawn again with the errors, and the same token
    assert not Declaration.objects.exists() and not IdempotencyKey.objects.exists()
    assert client.post(DECLARE, _declaration(idea, token, org.worker_a1)).status_code == 302
    assert client.post(DECLARE, _declaration(idea, token, org.worker_a1)).status_code == 302
    assert Declaration.objects.count() == 1


def test_tokens_are_each_users_own(org: Org, idea: Any) -> None:
    """The same token from another login is that login's first sending."""
    token = _token(_client(org.worker_a1).get(DECLARE))
    for member in (org.worker_a1, org.leader_a1):
        data = _declaration(idea, token, member)
        response = _client(member).post(DECLARE, data)
        assert response.status_code == 302 and not _repeated(response)
    assert Declaration.objects.count() == 2


@pytest.mark.parametrize("token", ["", "not-a-token", "A" * 32, "0" * 31])
def test_a_form_without_a_well_formed_token_acts_as_before(org: Org, idea: Any, token: str) -> None:
    client = _client(org.worker_a1)
    for _ in range(2):
        assert client.post(DECLARE, _declaration(idea, token, org.worker_a1)).status_code == 302
    assert Declaration.objects.count() == 2 and not IdempotencyKey.objects.exists()


def test_a_redemption_sent_twice_spends_once(org: Org) -> None:
    cup = Reward.objects.create(
        organisation=org.organisation,
        name="保温杯",
        kind=RewardKind.GIFT,
        points_cost=200,
        stock=3,
    )
    member = org.worker_a1
    client = _client(member)
    before = Account.objects.get(member=member).redeemable
    data = {ONCE_FIELD: _token(client.get(f"{REDEEM}?reward={cup.pk}")), "reward": cup.pk}
    first = client.post(REDEEM, data)
    second = client.post(REDEEM, data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"] and _repeated(second)
    assert Redemption.objects.filter(member=member).count() == 1
    cup.refresh_from_db()
    assert cup.stock == 2
    assert Account.objects.get(member=member).redeemable == before - 200


def test_the_pages_draw_a_new_token_each_time(org: Org, idea: Any) -> None:
    client: Client = _client(org.worker_a1)
    assert _token(client.get(DECLARE)) != _token(client.get(DECLARE))


def test_tokens_are_forgotten_after_the_days_set(org: Org, idea: Any, settings: Any) -> None:
    """The daily job forgets tokens (and API keys) older than POINTS_IDEMPOTENCY_DAYS;
    younger ones still stop a repeat."""
    from datetime import timedelta

    from django.utils import timezone

    from flows.tasks import forget_idempotency_keys

    assert "forget-idempotency-keys-daily" in settings.CELERY_BEAT_SCHEDULE
    settings.POINTS_IDEMPOTENCY_DAYS = 30
    client = _client(org.worker_a1)
    sent = []
    for days in (31, 29):
        data = _declaration(idea, _token(client.get(DECLARE)), org.worker_a1)
        assert client.post(DECLARE, data).status_code == 302
        IdempotencyKey.objects.filter(key__contains=data[ONCE_FIELD]).update(
            created_at=timezone.now() - timedelta(days=days)
        )
        sent.append(data)
    assert forget_idempotency_keys.delay().get() == 1
    assert sent[1][ONCE_FIELD] in IdempotencyKey.objects.get().key
    assert _repeated(client.post(DECLARE, sent[1]))
    assert Declaration.objects.count() == 2


# --- two sendings at once --------------------------------------------------------------------
# On PostgreSQL both may pass ``Once.repeat`` before either commits; the second then waits on
# the key at its claim (tests/postgres/test_sent_once_concurrency.py). SQLite runs them one
# after the other, so these tests skip the second's ``repeat`` to take the same path.


@pytest.fixture
def racing(monkeypatch: Any) -> None:
    """Every sending passes ``Once.repeat`` (as the second of two at once does)."""
    from flows.once import Once

    monkeypatch.setattr(Once, "repeat", lambda self: None)


def _files(settings: Any) -> list[str]:
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path) for path in root.rglob("*") if path.is_file())


def test_the_second_of_two_at_once_writes_nothing(
    org: Org, praise: Any, racing: None, settings: Any
) -> None:
    """No second declaration, process, audit row or evidence file: the second waits at the
    claim, before any write, and answers as a repeat."""
    from flows.flows import DeclarationFlow
    from points.models import AuditEvent
    from tests.flows.test_declaration_flow import _photo

    client = _client(org.worker_a1)
    token = _token(client.get(DECLARE))
    sendings = []
    for _ in range(2):
        data = _declaration(praise, token, org.worker_a1, **{"items-0-points": "50"})
        data["items-0-evidence"] = _photo()
        sendings.append(client.post(DECLARE, data))
        if len(sendings) == 1:
            files = _files(settings)
            assert files
    first, second = sendings
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"] and _repeated(second)
    assert Declaration.objects.count() == 1
    processes = DeclarationFlow.process_class.objects.filter(flow_class=DeclarationFlow)
    assert processes.count() == 1
    assert AuditEvent.objects.filter(action="declaration.submit").count() == 1
    assert _files(settings) == files


@pytest.mark.parametrize("limit", ["stock", "points"])
def test_the_second_redemption_at_once_is_told_it_was_sent_not_refused(
    org: Org, racing: None, limit: str
) -> None:
    """The second of a double tap on the last item (or with the last points) is not told
    "out of stock" or "too few points" for what the first just bought."""
    member = org.worker_a1
    balance = Account.objects.get(member=member).redeemable
    cup = Reward.objects.create(
        organisation=org.organisation,
        name="保温杯",
        kind=RewardKind.GIFT,
        points_cost=balance if limit == "points" else 1,
        stock=1 if limit == "stock" else 5,
    )
    client = _client(member)
    data = {ONCE_FIELD: _token(client.get(f"{REDEEM}?reward={cup.pk}")), "reward": cup.pk}
    first = client.post(REDEEM, data)
    second = client.post(REDEEM, data)
    assert first.status_code == second.status_code == 302
    assert _repeated(second)
    assert Redemption.objects.filter(member=member).count() == 1


def test_the_same_page_sent_again_with_other_items_acts(org: Org, idea: Any) -> None:
    """The page reached again with Back (and its old token) and then changed is another
    declaration, not a repeat."""
    client = _client(org.worker_a1)
    token = _token(client.get(DECLARE))
    assert client.post(DECLARE, _declaration(idea, token, org.worker_a1)).status_code == 302
    changed = _declaration(idea, token, org.worker_a1, **{"items-0-points": "40"})
    response = client.post(DECLARE, changed)
    assert response.status_code == 302 and not _repeated(response)
    assert Declaration.objects.count() == 2


def test_a_refusal_after_the_claim_leaves_no_claim_and_no_process(
    org: Org, idea: Any, monkeypatch: Any
) -> None:
    """The service refuses (here: nobody left to review, found only as it writes): the
    claim and the process are rolled back with its writes, and the same form, sent again
    once it can be, acts."""
    from django.core.exceptions import ValidationError

    from flows import views
    from flows.flows import DeclarationFlow

    real = views.declaration_submit
    refusals = iter([True])

    def submit(**kwargs: Any) -> Any:
        if next(refusals, False):
            raise ValidationError("没有可审核此申报的上级，请联系人力资源部。")
        return real(**kwargs)

    monkeypatch.setattr(views, "declaration_submit", submit)
    client = _client(org.worker_a1)
    data = _declaration(idea, _token(client.get(DECLARE)), org.worker_a1)
    refused = client.post(DECLARE, data)
    assert refused.status_code == 200 and "没有可审核此申报的上级" in refused.content.decode()
    assert not IdempotencyKey.objects.exists()
    assert not DeclarationFlow.process_class.objects.filter(flow_class=DeclarationFlow).exists()
    response = client.post(DECLARE, data)
    assert response.status_code == 302 and not _repeated(response)
    assert Declaration.objects.count() == 1


@pytest.fixture
def racing_once(monkeypatch: Any) -> None:
    """A sending's first ``Once.repeat`` finds nothing (the first sending had not
    committed yet); later looks of the same sending see what is committed."""
    from flows.once import Once

    real = Once.repeat

    def repeat(self: Once) -> Any:
        if not getattr(self, "_looked", False):
            self._looked = True  # type: ignore[attr-defined]
            return None
        return real(self)

    monkeypatch.setattr(Once, "repeat", repeat)


def test_a_refusal_caused_by_the_first_sending_is_answered_as_its_repeat(
    org: Org, praise: Any, racing_once: None
) -> None:
    """Near the day's upload quota, the first sending's photo fills it: the second (which
    looked before the first was kept) is refused by the quota, and then told it was sent
    rather than shown a refusal of what was declared."""
    from tests.security.test_upload_quota import _noise

    org.organisation.policy.upload_quota_mb_per_day = 1
    org.organisation.policy.save()
    client = _client(org.worker_a1)
    token = _token(client.get(DECLARE))
    answers = []
    for _ in range(2):
        data = _declaration(praise, token, org.worker_a1, **{"items-0-points": "50"})
        data["items-0-evidence"] = _noise("scene.png")  # about 0.7 MB, twice over 1 MB
        answers.append(client.post(DECLARE, data))
    first, second = answers
    assert first.status_code == second.status_code == 302, second.content.decode()[:2000]
    assert second["Location"] == first["Location"] and _repeated(second)
    assert Declaration.objects.count() == 1


# --- the notice and the appeal, one after the other and at once --------------------------------

AT_ONCE = pytest.mark.parametrize("at_once", [False, True], ids=["one-after-the-other", "at-once"])


def _twice(client: Client, url: str, data: dict[str, Any], at_once: bool, request: Any) -> Any:
    """The same form sent twice; ``at_once``: the second looks before the first is kept."""
    if at_once:
        request.getfixturevalue("racing")
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"] and _repeated(second)
    return first


@AT_ONCE
def test_a_notice_sent_twice_is_issued_once(org: Org, at_once: bool, request: Any) -> None:
    late = RuleItemFactory(
        organisation=org.organisation,
        name="迟到",
        category="attendance",
        kind="deduction",
        points_min=5,
        points_max=5,
    )
    client = _client(org.leader_a1)
    data = {
        ONCE_FIELD: _token(client.get(NOTICE)),
        "members": [org.worker_a1.pk],
        "rule_item": late.pk,
        "quantity": 1,
        "event_date": "2026-11-12",
        "description": "早会迟到十分钟",
    }
    _twice(client, NOTICE, data, at_once, request)
    assert AwardNotice.objects.get().items.count() == 1


@AT_ONCE
def test_an_appeal_sent_twice_is_lodged_once(
    org: Org, idea: Any, committee2: Any, at_once: bool, request: Any
) -> None:
    """The second is told it was sent, not "this item is already under appeal"."""
    from flows.models import Appeal
    from tests.flows.test_publicity import APPEAL_START, _published

    summary = _published(org, idea, committee2)
    item = summary.items.get(member=org.worker_a1)
    client = _client(org.worker_b)
    data = {
        ONCE_FIELD: _token(client.get(f"{APPEAL_START}?item={item.pk}")),
        "item": item.pk,
        "reason": "并未被采纳",
    }
    first = _twice(client, APPEAL_START, data, at_once, request)
    assert first["Location"] == f"/publicity/board/{summary.pk}/"
    assert Appeal.objects.count() == 1


@AT_ONCE
def test_a_summary_sent_twice_gathers_once(
    org: Org, idea: Any, at_once: bool, request: Any
) -> None:
    """HR's second tap is told the first gathered the items, not that the pool is empty."""
    from flows.models import Summary
    from tests.flows.test_publicity import SUMMARY_START, _approved

    _approved(org, idea, org.worker_a1, org.leader_a1, 30)
    client = _client(org.hr)
    data = {
        ONCE_FIELD: _token(client.get(SUMMARY_START)),
        "scope": org.company.pk,
        "on": "2026-11-20",
    }
    first = _twice(client, SUMMARY_START, data, at_once, request)
    summary = Summary.objects.get()
    assert first["Location"].startswith(f"/publicity/summary/{summary.process_id}/")
    assert summary.items.count() == 1


def test_an_empty_pool_refusal_leaves_no_claim_and_the_same_page_acts_later(
    org: Org, idea: Any
) -> None:
    from flows.models import Summary
    from tests.flows.test_publicity import SUMMARY_START, _approved

    client = _client(org.hr)
    data = {
        ONCE_FIELD: _token(client.get(SUMMARY_START)),
        "scope": org.company.pk,
        "on": "2026-11-20",
    }
    refused = client.post(SUMMARY_START, data)
    assert refused.status_code == 200
    assert "待汇总池中没有" in refused.content.decode()
    assert _token(refused) == data[ONCE_FIELD], "the page keeps its token"
    assert not IdempotencyKey.objects.exists() and not Summary.objects.exists()
    _approved(org, idea, org.worker_a1, org.leader_a1, 30)
    sent = client.post(SUMMARY_START, data)
    assert sent.status_code == 302 and not _repeated(sent)
    assert Summary.objects.get().items.count() == 1
