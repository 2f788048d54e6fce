"""Every URL of the declaration flow, for each role: allowed or denied, never a 500.

A reviewer in department B gets 403/404 on department A's declaration, task and evidence;
nobody approves their own declaration."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from viewflow.workflow.models import Task

from flows.flows import DeclarationFlow
from flows.models import Declaration
from points.models import AuditEvent
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _client, _declare

pytestmark = pytest.mark.django_db

TASK_ACTIONS = ["", "detail/", "execute/", "assign/", "unassign/", "undo/", "cancel/", "revive/"]


@pytest.fixture
def open_review(org: Org) -> Task:
    rule = RuleItemFactory(
        organisation=org.organisation,
        kind="award",
        points_min=50,
        points_max=50,
        evidence_required=True,
    )
    _declare(org.worker_a1, rule)
    return Task.objects.get(owner=org.leader_a1.user, status="ASSIGNED")


def _base(task: Task) -> str:
    return f"/declarations/declaration/{task.process_id}/review/{task.pk}/"


@pytest.mark.parametrize("action", TASK_ACTIONS)
@pytest.mark.parametrize("who", ["leader_b", "worker_b", "worker_a1", "committee_other"])
def test_outsiders_and_the_declarant_cannot_act_on_the_review(
    org: Org, other_org: Org, open_review: Task, who: str, action: str
) -> None:
    member = other_org.committee if who == "committee_other" else getattr(org, who)
    client = _client(member)
    url = _base(open_review) + action
    if who == "worker_a1" and action in ("", "detail/"):
        # The declarant follows their own declaration's history, read-only.
        assert client.get(url).status_code in (200, 302)
        return
    # Those who may not see the process find no such task (404), on every page of it:
    # viewflow's 403 (or its redirect home, "no rights") said it exists. The declarant,
    # who sees it, is refused.
    hidden = who != "worker_a1"
    for response in (client.get(url), client.post(url, {"action": "approve"})):
        assert response.status_code in ((404,) if hidden else (302, 403, 404, 405)), (
            url,
            response.status_code,
        )
        if response.status_code == 302:
            assert "/accounts/login/" not in response["Location"]
            assert "/execute/" not in response["Location"]
    if hidden:  # as for a task that does not exist
        missing = f"/declarations/declaration/{open_review.process_id}/review/{10**9}/{action}"
        assert client.get(missing).status_code == 404
    else:
        assert client.get(url).status_code != 404
    declaration = Declaration.objects.get()
    assert declaration.status == "submitted" and declaration.reviewer == org.leader_a1.user
    assert Task.objects.get(pk=open_review.pk).owner == org.leader_a1.user


@pytest.mark.parametrize("who", ["leader_b", "worker_b", "committee_other", "worker_a1"])
def test_the_process_and_its_other_steps_are_not_found_by_outsiders(
    org: Org, other_org: Org, open_review: Task, who: str
) -> None:
    """The process's cancel page and its start step's pages: 404 to those who may not see
    it, as for a process that does not exist; refused (403) or shown to the declarant, who
    may see it."""
    member = other_org.committee if who == "committee_other" else getattr(org, who)
    client = _client(member)
    process = f"/declarations/declaration/{open_review.process_id}/"
    start = Task.objects.get(process_id=open_review.process_id, flow_task=DeclarationFlow.start)
    urls = [process + "cancel/"] + [
        f"{process}start/{start.pk}/{action}" for action in ("", "detail/", "undo/")
    ]
    for url in urls:
        for response in (client.get(url), client.post(url)):
            if who == "worker_a1":
                assert response.status_code in (200, 302, 403, 405), (url, response.status_code)
            else:
                assert response.status_code == 404, (url, response.status_code)
    assert client.get(f"/declarations/declaration/{10**9}/cancel/").status_code == 404
    refused = AuditEvent.objects.filter(action="permission.denied", actor=member.user)
    if who != "worker_a1":  # each "not found" of a page it may not see is audited as a refusal
        assert refused.filter(object_repr__in=urls).count() == 2 * len(urls)
    assert Declaration.objects.get().status == "submitted"
    assert Task.objects.get(pk=open_review.pk).status == "ASSIGNED"


def test_a_flows_pages_are_wrapped_once() -> None:
    """A flow's URLs are built once and shared: taking them again wraps nothing twice."""
    from project.site import _hide_unseen

    def pages(patterns: list[Any]) -> list[Any]:
        return [
            page
            for pattern in patterns
            for page in (
                pages(pattern.url_patterns) if isinstance(pattern, URLResolver) else [pattern]
            )
            if "process_pk" in page.pattern.converters
        ]

    get_resolver().url_patterns  # the site's URLs, which wrap the flow's  # noqa: B018
    patterns, _app, _namespace = DeclarationFlow.instance.urls
    before = [page.callback for page in pages(patterns)]
    assert len(before) > 20 and all(getattr(view, "hides_unseen", False) for view in before)
    _hide_unseen(patterns, DeclarationFlow)
    assert [page.callback for page in pages(patterns)] == before


@pytest.mark.parametrize("action", TASK_ACTIONS)
def test_anonymous_users_are_sent_to_login(open_review: Task, action: str) -> None:
    response = Client().get(_base(open_review) + action)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_reviewer_may_open_execute_and_detail(org: Org, open_review: Task) -> None:
    client = _client(org.leader_a1)
    assert client.get(_base(open_review) + "execute/").status_code == 200
    assert client.get(_base(open_review) + "detail/").status_code == 200


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("worker_a1", 200),
        ("leader_a1", 200),
        ("leader_a", 200),
        ("hr", 200),
        ("committee", 200),
        ("leader_b", 404),
        ("worker_b", 404),
    ],
)
def test_process_page_by_role(org: Org, open_review: Task, who: str, status: int) -> None:
    url = f"/declarations/declaration/{open_review.process_id}/"
    assert _client(getattr(org, who)).get(url).status_code == status


@pytest.mark.parametrize(
    ("who", "status"),
    [("worker_a1", 200), ("leader_a1", 200), ("hr", 200), ("leader_b", 404), ("worker_b", 404)],
)
def test_evidence_by_role(org: Org, open_review: Task, who: str, status: int) -> None:
    evidence = Declaration.objects.get().items.get().evidence.get()
    assert _client(getattr(org, who)).get(f"/evidence/{evidence.pk}/").status_code == status


def test_other_organisation_sees_nothing(org: Org, other_org: Org, open_review: Task) -> None:
    client = _client(other_org.hr)
    assert "acme-worker-a1" not in client.get("/declarations/declaration/").content.decode()
    url = f"/declarations/declaration/{open_review.process_id}/"
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("who", "status"), [("worker_a1", 200), ("recorder", 200), ("leader_a1", 200)]
)
def test_start_page_by_role(org: Org, who: str, status: int) -> None:
    assert _client(getattr(org, who)).get("/declarations/declaration/start/").status_code == (
        status
    )


@pytest.mark.parametrize(("who", "status"), [("worker_a1", 403), ("leader_a1", 200)])
def test_notice_start_page_by_role(org: Org, who: str, status: int) -> None:
    url = "/declarations/awardnotice/start/"
    assert _client(getattr(org, who)).get(url).status_code == status


@pytest.mark.parametrize("who", ["leader_b", "worker_b", "committee_other"])
def test_viewflow_task_list_and_process_chart_are_scoped(
    org: Org, other_org: Org, open_review: Task, who: str
) -> None:
    """viewflow's flow-wide task list and a process's chart show only processes the user
    may see (both flows' pages share the scoped views)."""
    member = other_org.committee if who == "committee_other" else getattr(org, who)
    client = _client(member)
    tasks = client.get("/declarations/declaration/tasks/")
    assert tasks.status_code == 200
    assert f"/{open_review.process_id}/review/{open_review.pk}/" not in tasks.content.decode()
    chart = client.get(f"/declarations/declaration/{open_review.process_id}/chart/")
    assert chart.status_code == 404
    reviewer = _client(org.leader_a1)
    listed = reviewer.get("/declarations/declaration/tasks/").content.decode()
    assert f"/{open_review.process_id}/review/{open_review.pk}/" in listed
    assert (
        reviewer.get(f"/declarations/declaration/{open_review.process_id}/chart/").status_code
        == 200
    )
