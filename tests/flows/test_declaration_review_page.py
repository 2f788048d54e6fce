"""The reviewer's task page (flows/declaration_review.html): the status alone, and what
happened before, each with its date: a resubmitted declaration's old return reason is a
fact of its own, not part of the status."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from flows.models import Declaration, DeclarationStatus
from tests.conftest import Org
from tests.factories import AuthorityTierFactory
from tests.flows.test_declaration_flow import _client, _decide, _declare, _open_task, _task_url

pytestmark = pytest.mark.django_db

REASON = "请补充烘干记录照片并写明日期"


def _facts(page: str) -> list[tuple[str, str]]:
    """The review page's facts: (term, text) pairs, tags and spacing dropped."""
    block = re.search(r'<dl class="pts-facts[^"]*">(.*?)</dl>', page, re.S)
    assert block, page[:3000]
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", block.group(1), re.S)
    return [(term.strip(), " ".join(re.sub(r"<[^>]+>", " ", text).split())) for term, text in pairs]


def _resubmit(org: Org) -> Any:
    task = _open_task(org.worker_a1.user)
    item = Declaration.objects.get().items.get()
    return _client(org.worker_a1).post(
        _task_url(task),
        {
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "5",
            "items-0-rule_item": item.rule_item_id,
            "items-0-quantity": "1",
            "items-0-points": "",
            "items-0-event_date": "2026-11-10",
            "items-0-place": "烘干车间",
            "items-0-description": "已补充烘干记录照片",
        },
    )


def test_a_resubmitted_declaration_shows_its_status_alone_and_the_return_apart(
    org: Org, idea: Any
) -> None:
    org.leader_a1.name = "王组长"
    org.leader_a1.save()
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    with time_machine.travel(timezone.make_aware(datetime(2026, 11, 12, 9, 0))):
        assert _declare(org.worker_a1, idea).status_code == 302
        assert _decide(org.leader_a1, "return", reason=REASON).status_code == 302
    with time_machine.travel(timezone.make_aware(datetime(2026, 11, 13, 15, 30))):
        assert _resubmit(org).status_code == 302
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED

    page = _client(org.leader_a1).get(_task_url(_open_task(org.leader_a1.user)))
    assert page.status_code == 200
    facts = _facts(page.content.decode())
    assert facts[0] == ("状态", "待审核")  # the status alone: no reason after it
    assert ("退回理由", f"{REASON} 2026-11-12 09:00 · 王组长") in facts
    assert ("重新提交申报", "2026-11-13 15:30 · 张三") in facts


def test_a_first_review_shows_no_earlier_steps(org: Org, idea: Any) -> None:
    assert _declare(org.worker_a1, idea).status_code == 302
    page = _client(org.leader_a1).get(_task_url(_open_task(org.leader_a1.user)))
    terms = [term for term, _text in _facts(page.content.decode())]
    assert terms == ["状态", "提交时间"]


def test_an_escalated_declaration_shows_the_lower_reviewers_note_apart(org: Org, idea: Any) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=5
    )
    org.team_a1.save()
    assert _declare(org.worker_a1, idea).status_code == 302  # 10 points > 5
    assert _decide(org.leader_a1, "approve", reason="现场核实属实").status_code == 302
    assert Declaration.objects.get().status == DeclarationStatus.ESCALATED
    page = _client(org.leader_a).get(_task_url(_open_task(org.leader_a.user)))
    facts = dict(_facts(page.content.decode()))
    assert facts["状态"] == "已上报"
    assert facts["申报上报上级"].startswith("现场核实属实 ")


def test_user_text_in_the_return_reason_is_escaped(org: Org, idea: Any) -> None:
    assert _declare(org.worker_a1, idea).status_code == 302
    assert _decide(org.leader_a1, "return", reason="<b>补充</b>").status_code == 302
    assert _resubmit(org).status_code == 302
    page = _client(org.leader_a1).get(_task_url(_open_task(org.leader_a1.user))).content.decode()
    assert "<b>补充</b>" not in page and "&lt;b&gt;补充&lt;/b&gt;" in page


def test_the_decision_form_asks_for_the_points_to_adjust_before_the_reason(org: Org) -> None:
    """A rule with a range offers its points to adjust, named as such, above the reason
    that an adjustment needs; the radio buttons leave no empty paragraph behind them."""
    from tests.factories import RuleItemFactory

    paper = RuleItemFactory(
        organisation=org.organisation, name="论文获奖", kind="award", points_min=10, points_max=80
    )
    assert _declare(org.worker_a1, paper, points=30).status_code == 302
    page = _client(org.leader_a1).get(_task_url(_open_task(org.leader_a1.user)))
    form = re.search(
        r'<form method="post" class="mdc-card pts-card pts-form">(.*?)</form>',
        page.content.decode(),
        re.S,
    )
    assert form, page.content.decode()[:3000]
    names = [
        " ".join(re.sub(r"<[^>]+>", "", text).split())
        for text in re.findall(
            r"<(?:legend|label for=\"id_(?!action_)[^\"]*\")[^>]*>(.*?)</", form.group(1), re.S
        )
    ]
    assert names == ["审核意见:", "“论文获奖”每次分值，可调整（10–80）:", "理由:"], names
    assert "驳回、退回或调整分值时必填。" in form.group(1)
    assert "<p></p>" not in form.group(1)
