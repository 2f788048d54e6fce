"""The redemption pages in their own words: each HR step (approve, fulfil, reject) is
titled, labelled, buttoned and confirmed as what it does, and a member's cancellation asks
for confirmation first (without JavaScript): an unconfirmed POST changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.messages import get_messages

from flows.flows import RedemptionFlow
from flows.models import Redemption, RedemptionStatus
from points.models import AuditEvent, EntryKind, LedgerEntry, Member, Reward
from points.selectors.ledger import ledger_verify
from tests.conftest import Org
from tests.flows.test_redemption import (
    LIST,
    _client,
    _decide,
    _redeemable,
    _requested,
    _reward,
    _task,
    _task_url,
    _withdraw,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cup(org: Org) -> Reward:
    return _reward(org)


def _said(response: Any) -> list[str]:
    """The messages a response left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def _step_page(hr: Member, node: Any, redemption: Redemption) -> str:
    task = _task(node, redemption)
    client = _client(hr)
    if task.owner_id is None:
        assert client.post(_task_url(task, "assign")).status_code == 302
    page = client.get(_task_url(task))
    assert page.status_code == 200
    return page.content.decode()


def _labels(page: str) -> dict[str, str]:
    """The form's field labels by field name (the choice's, a group of radio buttons, has
    no ``for``), and its button's text under "button"."""
    form = page[page.index('<form method="post" class="mdc-card pts-card pts-form"') :]
    labels = {
        name or "decision": " ".join(text.split())
        for name, text in re.findall(r'<label(?: for="id_(\w+)")?>([^<]+)</label>', form)
    }
    button = re.search(r'<button type="submit"[^>]*>([^<]*)</button>', form)
    assert button
    return labels | {"button": button.group(1).strip()}


def test_the_fulfil_step_speaks_of_handing_out_not_of_reviewing(org: Org, cup: Reward) -> None:
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    redemption = _requested(org, org.worker_a1, cup)
    approve = _step_page(org.hr, RedemptionFlow.approve, redemption)
    assert "<title>" in approve and "批准兑换" in approve
    assert _decide(org.hr, RedemptionFlow.approve, redemption, "approve").status_code == 302

    page = _step_page(org.hr, RedemptionFlow.fulfil, redemption)
    assert "发放奖品" in page
    labels = _labels(page)
    assert labels["decision"] == "发放情况:"
    assert labels["reason"] == "理由（无法发放时必填）:"
    assert labels["button"] == "记录发放结果"
    assert "审核意见" not in page

    response = _decide(org.hr, RedemptionFlow.fulfil, redemption, "fulfil")
    assert response.status_code == 302
    assert _said(response) == ["已记录：保温杯 已发放给 张三。"]
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.FULFILLED


def test_approving_and_rejecting_say_what_was_done(org: Org, cup: Reward) -> None:
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    redemption = _requested(org, org.worker_a1, cup)
    labels = _labels(_step_page(org.hr, RedemptionFlow.approve, redemption))
    assert (labels["decision"], labels["button"]) == ("审核意见:", "提交审核意见")
    response = _decide(org.hr, RedemptionFlow.approve, redemption, "approve")
    assert _said(response) == ["已批准：张三 的 保温杯 等待发放。"]

    response = _decide(org.hr, RedemptionFlow.fulfil, redemption, "reject", "供应商停产")
    assert response.status_code == 302
    assert _said(response)[-1] == "已驳回：200 分已退还给 张三。"  # after "task claimed"
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REJECTED


def test_the_list_links_to_a_confirmation_and_does_not_cancel_in_one_tap(
    org: Org, cup: Reward
) -> None:
    redemption = _requested(org, org.worker_a1, cup)
    url = f"{LIST}withdraw/{redemption.pk}/"
    listing = _client(org.worker_a1).get(LIST).content.decode()
    assert f'href="{url}"' in listing
    assert f'action="{url}"' not in listing  # no form that cancels from the list

    page = _client(org.worker_a1).get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "取消兑换" in body
    assert "200 分将退还到您的可兑换积分" in body
    assert re.search(r'<input type="hidden" name="confirm" value="True"', body)
    assert ">是，取消并退还积分</button>" in body
    assert f'href="{LIST}">不取消，返回</a>' in body
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REQUESTED  # looking cancels nothing


@pytest.mark.parametrize("data", [{}, {"reason": "不想要了"}, {"confirm": ""}])
def test_an_unconfirmed_cancel_is_refused_and_changes_nothing(
    org: Org, cup: Reward, data: dict[str, str]
) -> None:
    member = org.worker_a1
    redemption = _requested(org, member, cup)
    response = _client(member).post(f"{LIST}withdraw/{redemption.pk}/", data)
    assert response.status_code == 200
    assert (
        "未取消任何兑换：如要取消，请在本页点击“是，取消并退还积分”。" in response.content.decode()
    )
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REQUESTED and redemption.refund_entry is None
    assert _redeemable(member) == 300
    cup.refresh_from_db()
    assert cup.stock == 2
    assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()
    assert not AuditEvent.objects.filter(action="redemption.cancel").exists()
    assert _task(RedemptionFlow.approve, redemption)  # still in HR's queue

    response = _withdraw(member, redemption)  # confirmed: cancelled
    assert response.status_code == 302 and _said(response) == ["已取消：200 分已退还。"]
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED
    assert _redeemable(member) == 500
    assert ledger_verify() == []


def test_the_reason_given_on_the_confirmation_page_is_kept(org: Org, cup: Reward) -> None:
    redemption = _requested(org, org.worker_a1, cup)
    response = _client(org.worker_a1).post(
        f"{LIST}withdraw/{redemption.pk}/", {"confirm": "True", "reason": "买错了"}
    )
    assert response.status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED and redemption.reason == "买错了"


def test_a_fulfilled_redemptions_page_offers_no_cancellation(org: Org, cup: Reward) -> None:
    redemption = _requested(org, org.worker_a1, cup)
    _decide(org.hr, RedemptionFlow.approve, redemption, "approve")
    _decide(org.hr, RedemptionFlow.fulfil, redemption, "fulfil")
    body = _client(org.worker_a1).get(f"{LIST}withdraw/{redemption.pk}/").content.decode()
    assert "只有未发放的兑换可以取消。" in body
    assert 'name="confirm"' not in body
