"""The summary list and the publicity board in words that say what they show: the
summaries' "prepared by" column (not "HR"), a batch of the whole organisation named so
(not after its top unit, the general manager's office), each member's card naming them
once, and the appeal column headed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flows.models import Summary
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_publicity import (
    SUMMARY_START,
    _approved,
    _client,
    _close_after_window,
    _published,
    _sign,
    _submit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation, name="合理化建议", kind="award", points_min=10,
        points_max=100,
    )  # fmt: skip


def _headers(page: str) -> list[str]:
    """The text of each table's header cells, table by table."""
    return [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)
    ]


def _named(org: Org) -> None:
    org.company.name = "总经理室"
    org.company.save()
    org.hr.name = "魏刚华"
    org.hr.save()
    org.worker_a1.name = "张三"
    org.worker_a1.save()


def test_the_summary_list_says_who_prepared_each_and_names_the_whole_organisation(
    org: Org, rule: Any, committee2: Any
) -> None:
    _named(org)
    _published(org, rule, committee2)
    page = _client(org.hr).get("/publicity/summary/").content.decode()
    assert _headers(page) == ["#", "范围", "周期", "状态", "经办人"]
    assert "人力资源部" not in page
    assert re.search(r'<td data-label="经办人">魏刚华</td>', page)
    assert re.search(r'<td data-label="范围">全单位</td>', page)
    assert "总经理室" not in page


def test_the_board_names_the_whole_organisation_not_its_top_unit(
    org: Org, rule: Any, committee2: Any
) -> None:
    _named(org)
    summary = _published(org, rule, committee2)
    board = _client(org.worker_b).get("/publicity/board/").content.decode()
    assert f'<a href="/publicity/board/{summary.pk}/">全单位</a>' in board
    detail = _client(org.worker_b).get(f"/publicity/board/{summary.pk}/").content.decode()
    assert "总经理室" not in board + detail
    title = re.search(r'<h1 class="pts-card__title">(.*?)</h1>', detail, re.S)
    assert title and title.group(1).strip() == org.organisation.name
    assert re.search(r"<dt>范围</dt><dd>全单位</dd>", detail)


def test_a_units_batch_is_named_by_its_unit(org: Org, rule: Any, committee2: Any) -> None:
    org.dept_a.name = "机加车间"
    org.dept_a.save()
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    hr = _client(org.hr)
    assert hr.post(SUMMARY_START, {"scope": org.dept_a.pk, "on": "2026-11-20"}).status_code == 302
    summary = Summary.objects.get()
    _submit(org)
    _sign(org.committee, summary)
    _sign(committee2, summary)
    detail = _client(org.worker_a1).get(f"/publicity/board/{summary.pk}/").content.decode()
    assert re.search(r"<dt>范围</dt><dd>机加车间</dd>", detail)
    assert f"{org.organisation.name} · 机加车间" in detail
    listing = _client(org.hr).get("/publicity/summary/").content.decode()
    assert '<td data-label="范围">机加车间</td>' in listing


def test_a_members_card_names_them_once_and_the_appeal_column_is_headed(
    org: Org, rule: Any, committee2: Any
) -> None:
    _named(org)
    _approved(org, rule, org.worker_a1, org.leader_a1, 20)  # two items of 张三
    summary = _published(org, rule, committee2)
    page = _client(org.worker_b).get(f"/publicity/board/{summary.pk}/").content.decode()
    cards = re.findall(
        r'<section class="[^"]*pts-publicity-member"[^>]*>(.*?)</section>', page, re.S
    )
    assert len(cards) == 2
    mine = next(c for c in cards if "张三" in c)
    assert mine.count("张三") == 1 and mine.count(org.team_a1.name) == 1
    assert len(re.findall(r'<tr id="item-\d+">', mine)) == 2
    assert _headers(mine) == ["奖扣分标准条目", "事项发生日期", "分值", "状态", "申诉"]
    assert len(re.findall(r'<td data-label="申诉"><a class="mdc-button" href=', mine)) == 2


def test_after_the_window_there_is_no_appeal_column(org: Org, rule: Any, committee2: Any) -> None:
    summary = _published(org, rule, committee2)
    _close_after_window(summary)
    page = _client(org.worker_b).get(f"/publicity/board/{summary.pk}/").content.decode()
    card = re.search(r'<section class="[^"]*pts-publicity-member"[^>]*>(.*?)</section>', page, re.S)
    assert card
    assert _headers(card.group(1)) == ["奖扣分标准条目", "事项发生日期", "分值", "状态"]
    assert "/publicity/appeal/start/" not in page


def test_user_text_on_the_board_is_escaped(org: Org, rule: Any, committee2: Any) -> None:
    org.worker_a1.name = "<i>张三</i>"
    org.worker_a1.save()
    org.company.name = "<b>总部</b>"
    org.company.save()
    summary = _published(org, rule, committee2)
    page = _client(org.worker_b).get(f"/publicity/board/{summary.pk}/").content.decode()
    assert "<i>张三</i>" not in page and "&lt;i&gt;张三&lt;/i&gt;" in page
