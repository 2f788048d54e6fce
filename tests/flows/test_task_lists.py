"""The task lists (viewflow's inbox, queue and archive of each flow) say what each task is
about, linked to the task, in a fixed number of queries."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from flows.flows import DeclarationFlow
from flows.models import Declaration
from tests.conftest import Org, queries_of
from tests.factories import AuthorityTierFactory, RuleItemFactory
from tests.flows.test_award_notice import _issue
from tests.flows.test_declaration_flow import _client, _decide, _declare, _open_task
from tests.flows.test_redemption import _requested, _reward

pytestmark = pytest.mark.django_db
INBOX = "/declarations/declaration/inbox/"
ARCHIVE = "/declarations/declaration/archive/"


def _subjects(member: Any, url: str) -> list[str]:
    """The first cell of each row: the subject, as a link."""
    html = _client(member).get(url).content.decode()
    return re.findall(r'<td class="vf-list__table-cell-[^"]*">(<a .*?</a>)</td>', html)


def test_the_inbox_says_whose_declaration_which_rule_and_how_many_points(
    org: Org, idea: Any
) -> None:
    _declare(org.worker_a1, idea)
    task = _open_task(org.leader_a1.user)
    url = f"/declarations/declaration/{task.process_id}/review/{task.pk}/"
    assert _subjects(org.leader_a1, INBOX) == [
        f'<a href="{url}">acme-worker-a1 · 合理化建议 · +10 分</a>'
    ]
    html = _client(org.leader_a1).get(INBOX).content.decode()
    assert "Brief" not in html and "事项" in html


def test_several_items_and_deductions_add_up(org: Org, idea: Any) -> None:
    late = RuleItemFactory(
        organisation=org.organisation, name="迟到", kind="deduction", points_min=5, points_max=5
    )
    response = _client(org.worker_a1).post(
        "/declarations/declaration/start/",
        {
            "member": org.worker_a1.pk,
            "items-TOTAL_FORMS": "2",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "5",
            **{
                f"items-{n}-{field}": value
                for n, rule, quantity in ((0, late, 3), (1, idea, 1))
                for field, value in (
                    ("rule_item", rule.pk),
                    ("quantity", quantity),
                    ("event_date", "2026-11-10"),
                    ("place", "车间"),
                    ("description", "自报"),
                )
            },
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert [re.sub("<[^>]+>", "", s) for s in _subjects(org.leader_a1, INBOX)] == [
        "acme-worker-a1 · 迟到 等 2 项 · -5 分"  # −15 + 10
    ]


def test_the_archive_keeps_the_subject_of_a_decided_task(org: Org, idea: Any) -> None:
    _declare(org.worker_a1, idea)
    assert len(_subjects(org.leader_a1, INBOX)) == 1
    assert _decide(org.leader_a1, "approve").status_code == 302
    assert _subjects(org.leader_a1, INBOX) == []
    process = Declaration.objects.get().process_id
    # linked to the process page, which shows every step
    assert _subjects(org.leader_a1, ARCHIVE) == [
        f'<a href="/declarations/declaration/{process}/">acme-worker-a1 · 合理化建议 · +10 分</a>'
    ]


def test_a_notice_to_sign_names_the_members_the_rule_and_the_issuer(org: Org) -> None:
    late = RuleItemFactory(
        organisation=org.organisation, name="迟到", kind="deduction", points_min=5, points_max=5
    )
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=1
    )
    org.team_a1.save()
    other = org.member(org.team_a1, "acme-worker-a1b")
    assert _issue(org.leader_a1, [org.worker_a1, other], late).status_code == 302
    assert [
        re.sub("<[^>]+>", "", s)
        for s in _subjects(org.leader_a, "/declarations/awardnotice/inbox/")
    ] == ["2 人 · 迟到 · -10 分 · 签发人 acme-leader-a1"]


def test_names_in_subjects_are_escaped(org: Org, idea: Any) -> None:
    org.worker_a1.name = "<script>alert(1)</script>"
    org.worker_a1.save()
    _declare(org.worker_a1, idea)
    (subject,) = _subjects(org.leader_a1, INBOX)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; · 合理化建议" in subject
    assert "<script>alert" not in _client(org.leader_a1).get(INBOX).content.decode()


@pytest.mark.parametrize("url", [INBOX, ARCHIVE])
def test_subjects_cost_the_same_queries_for_any_number_of_tasks(
    org: Org, idea: Any, url: str
) -> None:
    def queries() -> int:
        return queries_of(_client(org.leader_a1), url)

    def one_more() -> None:
        _declare(org.worker_a1, idea)
        if url == ARCHIVE:
            _decide(org.leader_a1, "approve")

    one_more()
    few = queries()
    for _ in range(5):
        one_more()
    assert len(_subjects(org.leader_a1, url)) == 6
    assert queries() <= few


def test_the_flows_task_list_names_subjects_and_owners_in_the_same_queries(
    org: Org, idea: Any
) -> None:
    """viewflow's list of all the flow's tasks (its dashboard's): logins and English step
    names before, and a query per row for the owner."""
    org.leader_a1.name = "王组长"
    org.leader_a1.save()
    url = "/declarations/declaration/tasks/"

    client = _client(org.leader_a1)
    _declare(org.worker_a1, idea)
    few = queries_of(client, url)
    for _ in range(5):
        _declare(org.worker_a1, idea)
    assert queries_of(client, url) <= few
    html = client.get(url).content.decode()
    cells = re.findall(r'<td class="vf-list__table-cell-[^"]*">(.*?)</td>', html)
    assert cells[1:4] == ["审核申报", cells[2], "王组长"] and "acme-leader-a1" not in cells
    assert re.sub("<[^>]+>", "", cells[0]) == "acme-worker-a1 · 合理化建议 · +10 分"
    # another department's leader sees none of these processes
    assert "acme-worker-a1 ·" not in _client(org.leader_b).get(url).content.decode()


def test_a_done_tasks_page_says_what_it_was_about(org: Org, idea: Any) -> None:
    org.worker_a1.name = "<b>王五</b>"
    org.worker_a1.save()
    _declare(org.worker_a1, idea)
    task = _open_task(org.leader_a1.user)
    assert _decide(org.leader_a1, "approve").status_code == 302
    url = f"/declarations/declaration/{task.process_id}/review/{task.pk}/detail/"
    html = _client(org.leader_a1).get(url).content.decode()
    assert "&lt;b&gt;王五&lt;/b&gt; · 合理化建议 · +10 分" in html
    assert _client(org.leader_b).get(url).status_code in (403, 404)  # not theirs to see


def test_an_empty_list_says_so_under_its_own_title(org: Org) -> None:
    """viewflow's empty list showed only "第 0–0 条，共 0 条", under the site's name."""
    html = _client(org.leader_a1).get(INBOX).content.decode()
    assert "这里没有任务。" in html
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and title.group(1).strip().startswith("待办 · 积分申报")
    assert 'name="language" value="en"' in html  # the language switch, as elsewhere


# --- the filter panel ---------------------------------------------------------------------

QUEUE = "/shop/redemption/queue/"
TASKS = "/declarations/declaration/tasks/"


def _filters(client: Client, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """Each drop-down of the page's filter panel: name → (label, [(value, text), …]), as
    viewflow's ``vf-field-select`` elements carry them."""
    html = client.get(url, params or {}).content.decode()
    found = {}
    for name, label, optgroups in re.findall(
        r'<vf-field-select(?:-multiple)? [^>]*name="([^"]+)"[^>]*label="([^"]*)"'
        r' optgroups="([^"]*)"',
        html,
    ):
        options = [group["options"] for group in json.loads(html_lib.unescape(optgroups))]
        found[name] = (label, [(o["value"], o["label"]) for o in options])
    return found


def _texts(filters: dict[str, Any], name: str) -> list[str]:
    return [text for _, text in filters[name][1]]


PERIODS = ["全部", "今天", "昨天", "过去7天", "本月", "今年"]


def test_the_inbox_filters_steps_by_title_and_records_by_number_and_subject(
    org: Org, idea: Any
) -> None:
    """viewflow offered "积分申报/Review", "Yesterday", and the process's own number
    ("积分申报 #46") where every other page numbers the declaration."""
    DeclarationFlow.process_class.objects.create(flow_class=DeclarationFlow)  # numbers differ
    _declare(org.worker_a1, idea)
    declaration = Declaration.objects.get()
    assert declaration.pk != declaration.process_id
    client = _client(org.leader_a1)
    html = client.get(INBOX).content.decode()
    filters = _filters(client, INBOX)

    assert list(filters) == ["process", "flow_task", "created"]
    assert filters["process"] == (
        "积分申报",
        [
            ("", "全部"),
            (declaration.process_id, f"#{declaration.pk} · acme-worker-a1 · 合理化建议 · +10 分"),
        ],
    )
    assert filters["flow_task"] == (
        "任务",
        [("", "全部"), ("flows/flows.DeclarationFlow.review", "审核申报")],
    )
    assert _texts(filters, "created") == PERIODS
    assert "/Review" not in html and "Yesterday" not in html
    assert f"积分申报 #{declaration.process_id}" not in html


def test_the_queue_archive_and_flow_task_list_name_steps_by_title(org: Org, idea: Any) -> None:
    redemption = _requested(org, org.worker_a1, _reward(org))
    queue = _filters(_client(org.hr), QUEUE)
    assert queue["process"][0] == "积分兑换"
    assert _texts(queue, "process")[1:] == [
        f"#{redemption.pk} · acme-worker-a1 · 保温杯 · 200 可兑换积分"
    ]
    assert _texts(queue, "flow_task") == ["全部", "批准兑换"]

    _declare(org.worker_a1, idea)
    _decide(org.leader_a1, "approve")
    client = _client(org.leader_a1)
    archive = _filters(client, ARCHIVE)
    assert list(archive) == ["flow_task", "created", "finished"]
    assert _texts(archive, "flow_task") == ["全部", "审核申报"]
    assert _texts(archive, "created") == _texts(archive, "finished") == PERIODS

    tasks = _filters(client, TASKS, {"status": "DONE"})
    assert list(tasks) == ["flow_task", "status", "created", "finished"]
    # every step the flow's tasks reached, in the order of the flow
    assert _texts(tasks, "flow_task") == ["全部", "申报积分", "审核申报", "按结果流转", "流程结束"]
    for url in (QUEUE, ARCHIVE, TASKS):
        html = (_client(org.hr) if url == QUEUE else client).get(url).content.decode()
        assert "Yesterday" not in html and not re.search(
            r"/(Start|Review|Route|End|Approve)\b", html
        )


def test_the_filters_are_in_english_for_english_readers(org: Org, idea: Any) -> None:
    _declare(org.worker_a1, idea)
    client = _client(org.leader_a1)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    filters = _filters(client, INBOX)
    assert filters["process"][0] == "Declaration"
    assert _texts(filters, "flow_task") == ["All", "Review the declaration"]
    assert _texts(filters, "created") == [
        "All", "Today", "Yesterday", "Past 7 days", "This month", "This year"
    ]  # fmt: skip


def test_the_filters_filter(org: Org, idea: Any) -> None:
    other = org.member(org.team_a1, "acme-worker-a1b")
    _declare(org.worker_a1, idea)
    _declare(other, idea)
    mine = Declaration.objects.get(member=other)
    client = _client(org.leader_a1)

    def subjects(params: dict[str, str]) -> list[str]:
        html = client.get(INBOX, params).content.decode()
        cells = re.findall(r'<td class="vf-list__table-cell-[^"]*">(<a .*?</a>)</td>', html)
        return [re.sub("<[^>]+>", "", cell) for cell in cells]

    assert len(subjects({})) == 2
    assert subjects({"process": str(mine.process_id)}) == ["acme-worker-a1b · 合理化建议 · +10 分"]
    assert len(subjects({"flow_task": "flows/flows.DeclarationFlow.review"})) == 2
    assert len(subjects({"created": "today"})) == 2
    assert subjects({"created": "yesterday"}) == []


def test_names_in_the_filters_are_escaped(org: Org, idea: Any) -> None:
    org.worker_a1.name = "<script>alert(1)</script>"
    org.worker_a1.save()
    _declare(org.worker_a1, idea)
    client = _client(org.leader_a1)
    number = Declaration.objects.get().pk
    assert _texts(_filters(client, INBOX), "process")[1].startswith(
        f"#{number} · <script>alert(1)</script> ·"
    )
    assert "<script>alert" not in client.get(INBOX).content.decode()


def test_my_declarations_say_their_points_and_lead_to_a_new_one(org: Org, idea: Any) -> None:
    """The list had no heading, no way to declare and no points; its pages had no pager."""
    from flows.views import MyDeclarationsView

    for _ in range(MyDeclarationsView.paginate_by + 1):
        _declare(org.worker_a1, idea)
    html = _client(org.worker_a1).get("/declarations/declaration/").content.decode()
    assert '<h1 class="pts-card__title">申报记录</h1>' in html
    assert 'href="/declarations/declaration/start/"' in html
    assert html.count('class="pts-num">+10</td>') == MyDeclarationsView.paginate_by
    assert 'href="?page=2"' in html
