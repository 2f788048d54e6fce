"""A process page and its task pages show the record the process is about: its number as
the lists show it, its status in its own words, and what it holds. viewflow's pages
showed the process's own number and status ("#38", "新建") and, on task pages, boxes
labelled "Brief", "Owner" and "Permission" that drew empty."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import translation
from viewflow.workflow.status import STATUS

from flows.flows import DeclarationFlow, RedemptionFlow
from flows.models import Appeal, AwardNotice, Declaration, SummaryItem
from tests.conftest import Org, queries_of
from tests.flows.test_award_notice import _issue
from tests.flows.test_declaration_flow import _client, _declare
from tests.flows.test_publicity import _appeal, _published
from tests.flows.test_publicity import rule as rule  # the fixture
from tests.flows.test_redemption import _requested, _task, _task_url
from tests.flows.test_redemption import cup as cup  # the fixture

pytestmark = pytest.mark.django_db

VIEWFLOWS_BOXES = ("md-outlined-text-field", "Brief", "Permission", "Unassigned")


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found
    return found.group(1).strip()


def _page(member: Any, url: str) -> str:
    response = _client(member).get(url)
    assert response.status_code == 200, url
    return str(response.content.decode())


def test_a_declarations_page_shows_what_was_declared(org: Org, idea: Any) -> None:
    org.leader_a1.name = "王组长"
    org.leader_a1.save()
    DeclarationFlow.process_class.objects.create(flow_class=DeclarationFlow)  # numbers differ
    _declare(org.worker_a1, idea, description="<script>alert(1)</script>夜班巡检")
    declaration = Declaration.objects.get(member=org.worker_a1)
    assert declaration.pk != declaration.process_id
    url = f"/declarations/declaration/{declaration.process_id}/"

    for member in (org.worker_a1, org.leader_a1):
        html = _page(member, url)
        assert _title(html).startswith(f"积分申报 #{declaration.pk} ")
        assert f"积分申报 #{declaration.pk} · 待审核" in html
        assert "合理化建议" in html and "二号车间" in html and "+10" in html
        assert "王组长" in html  # the reviewer, by name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;夜班巡检" in html
        assert "<script>alert(1)" not in html
        assert "新建" not in html  # viewflow's status of a running process
    assert _client(org.leader_b).get(url).status_code in (403, 404)


def test_a_declarations_page_reads_the_same_queries_for_more_items(org: Org, idea: Any) -> None:
    _declare(org.worker_a1, idea)
    url = f"/declarations/declaration/{Declaration.objects.get().process_id}/"
    client = _client(org.worker_a1)
    few = queries_of(client, url)
    declaration = Declaration.objects.get()
    first = declaration.items.get()
    for n in range(4):
        first.pk = None
        first.description = f"第{n}项"
        first.save()
    html = client.get(url).content.decode()
    assert "第3项" in html
    assert queries_of(client, url) <= few


def test_a_task_page_says_what_the_task_is_about_without_viewflows_boxes(
    org: Org, idea: Any
) -> None:
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    _declare(org.worker_a1, idea)
    declaration = Declaration.objects.get()
    start = DeclarationFlow.task_class.objects.get(
        process_id=declaration.process_id, flow_task=DeclarationFlow.start
    )
    url = f"/declarations/declaration/{start.process_id}/start/{start.pk}/detail/"
    html = _page(org.worker_a1, url)
    assert "张三 · 合理化建议 · +10 分" in html  # the subject
    assert f"积分申报 #{declaration.pk} · 待审核" in html  # the record
    assert re.search(r"<dt>办理人</dt><dd>张三</dd>", html)  # the owner, by name
    assert "审核申报" in html  # the next step
    for box in VIEWFLOWS_BOXES:
        assert box not in html


def test_the_page_to_claim_a_redemption_shows_the_request(
    org: Org,
    idea: Any,
    cup: Any,
) -> None:
    _declare(org.worker_b, idea)  # another process first: its numbers and ours differ
    redemption = _requested(org, org.worker_a1, cup)
    task = _task(RedemptionFlow.approve, redemption)
    assert task.status == STATUS.NEW
    html = _page(org.hr, _task_url(task, "assign"))
    assert "尚未领取" in html  # nobody has claimed it
    assert "<dt>状态</dt><dd>待处理</dd>" in html  # viewflow's "New", said for a task
    assert f">#{redemption.pk}</a>" in html  # the number the lists show
    assert cup.name in html and "等待人力资源部批准" in html
    assert "领取" in html  # the claim button
    for box in VIEWFLOWS_BOXES:
        assert box not in html
    # the process page says the same, not viewflow's "新建"
    html = _page(org.worker_a1, f"/shop/redemption/{redemption.process_id}/")
    assert f"积分兑换 #{redemption.pk}" in html and "等待人力资源部批准" in html


def test_a_notices_page_lists_its_members_and_points(org: Org) -> None:
    from tests.factories import RuleItemFactory

    late = RuleItemFactory(
        organisation=org.organisation, name="迟到", kind="deduction", points_min=5, points_max=5
    )
    org.leader_a1.name = "王组长"
    org.leader_a1.save()
    assert _issue(org.leader_a1, [org.worker_a1], late).status_code == 302
    notice = AwardNotice.objects.get()
    html = _page(org.leader_a1, f"/declarations/awardnotice/{notice.process_id}/")
    assert f"奖扣分通知单 #{notice.pk}" in html
    assert "王组长" in html and "迟到" in html and "-5" in html
    assert org.worker_a1.name in html


def test_a_summary_and_an_appeal_page_show_their_records(
    org: Org,
    rule: Any,
    committee2: Any,
) -> None:
    summary = _published(org, rule, committee2)
    html = _page(org.hr, f"/publicity/summary/{summary.process_id}/")
    assert f"汇总与公示 #{summary.pk}" in html
    assert "全单位" in html and f"{summary.period_start:%Y-%m-%d}" in html  # its top unit
    assert f'href="/publicity/board/{summary.pk}/"' in html  # its publicity
    item = SummaryItem.objects.get(summary=summary, member=org.worker_a1)
    assert _appeal(org.worker_a1, item, reason="<b>并未被采纳</b>").status_code == 302
    appeal = Appeal.objects.get()
    html = _page(org.worker_a1, f"/publicity/appeal/{appeal.process_id}/")
    assert "&lt;b&gt;并未被采纳&lt;/b&gt;" in html
    with translation.override("zh-hans"):
        assert f"<dd>{appeal.get_status_display()}</dd>" in html  # its status, in words
    assert "<b>并未被采纳" not in html


def test_the_steps_are_what_people_did_not_the_gateways(org: Org, idea: Any) -> None:
    from tests.flows.test_declaration_flow import _decide

    _declare(org.worker_a1, idea)
    assert _decide(org.leader_a1, "approve").status_code == 302
    declaration = Declaration.objects.get()
    html = _page(org.worker_a1, f"/declarations/declaration/{declaration.process_id}/")
    assert "申报积分" in html and "审核申报" in html and "流程结束" in html
    assert "按结果流转" not in html  # the route after the review: not a step anybody took
