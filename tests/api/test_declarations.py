"""Declarations, review tasks and award notices through the API: the real path (the API
client, the flows, the database) for each endpoint, allowed and denied per role."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.flows import AwardNoticeFlow, DeclarationFlow, RedemptionFlow
from flows.models import (
    AwardNotice,
    Declaration,
    DeclarationStatus,
    Evidence,
    IdempotencyKey,
    NoticeStatus,
    Redemption,
)
from points.models import AuditEvent, Member, MemberStatus, Reward, RewardKind
from tests.api.conftest import V1, codes, fields
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, AuthorityTierFactory, RuleItemFactory

pytestmark = pytest.mark.django_db

DECLARATIONS = f"{V1}declarations/"
NOTICES = f"{V1}notices/"
TASKS = f"{V1}tasks/"


# --- helpers -------------------------------------------------------------------------------


def _photo(name: str = "scene.jpg") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(out, "JPEG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


@pytest.fixture
def rules(org: Org) -> dict[str, Any]:
    return {
        "praise": RuleItemFactory(
            organisation=org.organisation,
            code="SVC-001",
            name="顾客表扬",
            kind="award",
            points_min=50,
            points_max=50,
            evidence_required=True,
        ),
        "idea": RuleItemFactory(
            organisation=org.organisation,
            code="IMP-001",
            name="合理化建议",
            kind="award",
            points_min=10,
            points_max=100,
        ),
        "late": RuleItemFactory(
            organisation=org.organisation,
            code="ATD-002",
            name="迟到",
            kind="deduction",
            points_min=5,
            points_max=5,
        ),
    }


def _item(rule: Any, **overrides: Any) -> dict[str, Any]:
    item = {
        "rule_item": rule.pk,
        "quantity": 1,
        "event_date": "2026-11-10",
        "place": "二号车间",
        "description": "合理化建议被采纳",
    }
    if not rule.is_fixed:
        item["points"] = 80
    item.update(overrides)
    return item


def _declare_json(api: Any, who: Member, *items: dict[str, Any], **body: Any) -> Any:
    return api(who).post(DECLARATIONS, {"items": list(items), **body}, format="json")


def _declare_multipart(
    api: Any, who: Member, items: list[dict[str, Any]], files: dict[str, Any], **body: Any
) -> Any:
    data = {"items": json.dumps(items), **body, **files}
    return api(who).post(DECLARATIONS, data, format="multipart")


def _declared(api: Any, member: Member, rule: Any, **overrides: Any) -> Declaration:
    """A declaration made through the API (with a photo when the rule needs one)."""
    item = _item(rule, **overrides)
    if rule.evidence_required:
        response = _declare_multipart(api, member, [item], {"items.0.evidence": _photo()})
    else:
        response = _declare_json(api, member, item)
    assert response.status_code == 201, response.json()
    return Declaration.objects.get(pk=response.json()["id"])


def _review_task(declaration: Declaration) -> Task:
    return Task.objects.get(
        process_id=declaration.process_id, flow_task=DeclarationFlow.review, status=STATUS.ASSIGNED
    )


def _open_task(declaration: Declaration) -> Task:
    return Task.objects.get(
        process_id=declaration.process_id, status__in=[STATUS.NEW, STATUS.ASSIGNED]
    )


def _act(api: Any, member: Member, task: Task, action: str, body: Any = None) -> Any:
    return api(member).post(f"{TASKS}{task.pk}/{action}/", body or {}, format="json")


def _nothing_declared() -> None:
    assert not Declaration.objects.exists()
    assert not DeclarationFlow.process_class.objects.filter(flow_class=DeclarationFlow).exists()
    assert not Evidence.objects.exists()


# --- declaring -----------------------------------------------------------------------------


def test_the_whole_path_declare_with_a_photo_and_the_leader_approves(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    response = _declare_multipart(
        api,
        org.worker_a1,
        [_item(rules["praise"])],
        {"items.0.evidence": [_photo("a.jpg"), _photo("b.jpg")]},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    declaration = Declaration.objects.get()
    assert body["id"] == declaration.pk and body["status"] == "submitted"
    assert body["member"] == org.worker_a1.pk and body["process"] == declaration.process_id
    assert body["reviewer"] == {"id": org.leader_a1.pk, "name": org.leader_a1.name}
    assert body["submitted_by"] == {"id": org.worker_a1.pk, "name": org.worker_a1.name}
    [item] = body["items"]
    assert item["rule_item"] == rules["praise"].pk and item["rule_code"] == "SVC-001"
    assert item["points"] == 50 and item["approved_points"] is None
    assert item["signed_total"] == 50
    evidence = list(Evidence.objects.order_by("pk"))
    assert [e["id"] for e in item["evidence"]] == [e.pk for e in evidence]
    assert [e["original_name"] for e in item["evidence"]] == ["a.jpg", "b.jpg"]
    assert item["evidence"][0]["url"].endswith(f"/evidence/{evidence[0].pk}/")
    assert item["evidence"][0]["content_type"] == "image/jpeg"

    # The leader finds the review in the inbox and approves it.
    leader = api(org.leader_a1)
    [task] = leader.get(TASKS).json()["results"]
    assert task["flow"] == "declaration" and task["step"] == "review"
    assert task["status"] == "ASSIGNED" and task["process"] == declaration.process_id
    assert task["object"] == {"type": "declaration", "id": declaration.pk}
    assert task["owner"] == {"id": org.leader_a1.pk, "name": org.leader_a1.name}
    assert leader.get(f"{TASKS}{task['id']}/").json()["id"] == task["id"]
    approved = leader.post(f"{TASKS}{task['id']}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"
    assert approved.json()["items"][0]["approved_points"] == 50
    assert approved.json()["items"][0]["pool_month"] == "2026-11-01"

    again = api(org.worker_a1).get(f"{DECLARATIONS}{declaration.pk}/").json()
    assert again["status"] == "approved"
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.APPROVED
    assert declaration.process.finished is not None
    assert leader.get(TASKS).json()["count"] == 0
    assert AuditEvent.objects.filter(action="declaration.approve", actor=org.leader_a1.user)

    # The evidence URL serves the file to a user in scope.
    web = Client()
    assert web.login(username=org.leader_a1.user.username, password=TEST_PASSWORD)
    assert web.get(f"/evidence/{evidence[0].pk}/").status_code == 200


def test_a_json_declaration_with_several_items(org: Org, rules: dict[str, Any], api: Any) -> None:
    response = _declare_json(
        api, org.worker_a1, _item(rules["idea"], points=30), _item(rules["late"], quantity=2)
    )
    assert response.status_code == 201, response.json()
    items = response.json()["items"]
    assert [(i["rule_item"], i["points"], i["signed_total"]) for i in items] == [
        (rules["idea"].pk, 30, 30),
        (rules["late"].pk, 5, -10),  # a fixed rule's points are the rule's
    ]
    assert items[0]["evidence"] == []
    assert AuditEvent.objects.filter(action="declaration.submit", actor=org.worker_a1.user)


def _bad_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", b"<html>not a photo</html>", content_type="image/jpeg")


@pytest.mark.parametrize(
    ("rule", "overrides", "files", "code", "field"),
    [
        ("idea", {"event_date": "2026-11-21"}, {}, "future_date", "items.0.event_date"),
        ("idea", {"event_date": "yesterday"}, {}, "invalid", "items.0.event_date"),
        ("idea", {"points": 101}, {}, "points_out_of_range", "items.0.points"),
        ("idea", {"points": 9}, {}, "points_out_of_range", "items.0.points"),
        ("idea", {"points": None}, {}, "points_required", "items.0.points"),
        ("idea", {"place": ""}, {}, "required", "items.0.place"),
        ("idea", {"rule_item": 10**9}, {}, "invalid_choice", "items.0.rule_item"),
        ("idea", {"quantity": 0}, {}, "min_value", "items.0.quantity"),
        ("praise", {}, {}, "evidence_required", "items.0.evidence"),
        ("praise", {}, {"items.0.evidence": "bad"}, "bad_type", "items.0.evidence"),
        ("idea", {}, {"evidence": "photo"}, "unexpected_file", "evidence"),
        ("idea", {}, {"items.1.evidence": "photo"}, "unexpected_file", "items.1.evidence"),
    ],
)
def test_bad_input_is_400_with_the_forms_code_and_the_dotted_field(
    org: Org,
    rules: dict[str, Any],
    api: Any,
    rule: str,
    overrides: dict[str, Any],
    files: dict[str, str],
    code: str,
    field: str,
) -> None:
    uploads = {name: _bad_file() if kind == "bad" else _photo() for name, kind in files.items()}
    response = _declare_multipart(api, org.worker_a1, [_item(rules[rule], **overrides)], uploads)
    assert response.status_code == 400, response.json()
    assert (codes(response), fields(response)) == ([code], [field])
    _nothing_declared()


def test_the_messages_say_what_is_wrong(org: Org, rules: dict[str, Any], api: Any) -> None:
    response = _declare_multipart(
        api,
        org.worker_a1,
        [_item(rules["idea"], event_date="2026-12-01"), _item(rules["praise"])],
        {"items.1.evidence": _bad_file()},
    )
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert "future" in errors["items.0.event_date"]
    assert "photo.jpg" in errors["items.1.evidence"] and "PDF" in errors["items.1.evidence"]
    chinese = _declare_json(api, org.worker_a1, _item(rules["idea"], points=500))
    zh = api(org.worker_a1, lang="zh-hans").post(
        DECLARATIONS, {"items": [_item(rules["idea"], points=500)]}, format="json"
    )
    assert chinese.json()["errors"][0]["message"] != zh.json()["errors"][0]["message"]
    _nothing_declared()


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"items": []}, "empty", "items"),
        ({}, "required", "items"),
        ({"items": "x"}, "not_a_list", "items"),
        ({"items": ["x"]}, "not_a_dict", "items.0"),
        ({"items": [{}] * 6}, "max_length", "items"),
        ({"items": [{"evidence": "x"}]}, "unknown_field", "items.0.evidence"),
        ({"items": [{"place": ["a", "b"]}]}, "invalid", "items.0.place"),
        ({"member": "me"}, "invalid", "member"),
        ({"member": 10**30}, "invalid_choice", "member"),
    ],
)
def test_bad_json_shapes(
    org: Org, rules: dict[str, Any], api: Any, body: dict[str, Any], code: str, field: str
) -> None:
    if "items" not in body and field != "items":
        body = {**body, "items": [_item(rules["idea"])]}
    response = api(org.worker_a1).post(DECLARATIONS, body, format="json")
    assert response.status_code == 400, response.json()
    assert code in codes(response) and field in fields(response), response.json()
    _nothing_declared()


def test_evidence_counts_to_the_uploaders_daily_quota(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    policy = org.organisation.policy
    policy.upload_quota_mb_per_day = 0
    policy.save()
    response = _declare_multipart(
        api, org.worker_a1, [_item(rules["praise"])], {"items.0.evidence": _photo()}
    )
    assert response.status_code == 400
    assert (codes(response), fields(response)) == (["quota"], ["items.0.evidence"])
    _nothing_declared()


def test_multipart_items_must_be_a_json_array(org: Org, api: Any) -> None:
    response = api(org.worker_a1).post(DECLARATIONS, {"items": "{not json"}, format="multipart")
    assert response.status_code == 400
    assert (codes(response), fields(response)) == (["invalid"], ["items"])


def test_a_member_declares_only_for_themselves(
    org: Org, other_org: Org, rules: dict[str, Any], api: Any
) -> None:
    for member in (org.worker_b, other_org.worker_a1):
        response = _declare_json(api, org.worker_a1, _item(rules["idea"]), member=member.pk)
        assert response.status_code == 400
        assert (codes(response), fields(response)) == (["invalid_choice"], ["member"])
    _nothing_declared()


def test_a_recorder_declares_for_members_of_their_subtree(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    response = _declare_json(api, org.recorder, _item(rules["idea"]), member=org.worker_a1.pk)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["member"] == org.worker_a1.pk
    assert body["submitted_by"] == {"id": org.recorder.pk, "name": org.recorder.name}
    assert body["reviewer"]["id"] == org.leader_a1.pk
    outside = _declare_json(api, org.recorder, _item(rules["idea"]), member=org.worker_b.pk)
    assert outside.status_code == 400 and fields(outside) == ["member"]
    assert Declaration.objects.count() == 1


def test_an_inactive_member_or_a_login_without_one_may_not_declare(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    from django.contrib.auth import get_user_model

    org.worker_a1.status = MemberStatus.LEFT
    org.worker_a1.save()
    response = _declare_json(api, org.worker_a1, _item(rules["idea"]))
    assert response.status_code == 403 and codes(response) == ["permission_denied"]
    loner = get_user_model().objects.create_user("loner", password=TEST_PASSWORD)
    client = api()
    client.force_authenticate(loner)
    assert client.post(DECLARATIONS, {"items": []}, format="json").status_code == 403
    assert client.get(DECLARATIONS).status_code == 403
    assert api().get(DECLARATIONS).status_code == 401
    _nothing_declared()


def test_nobody_above_the_member_is_a_400_and_nothing_is_started(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    response = _declare_json(api, org.ceo, _item(rules["idea"]))
    assert response.status_code == 400 and fields(response) == [None]
    assert "HR" in response.json()["errors"][0]["message"]
    _nothing_declared()


def test_an_idempotency_key_replays_and_a_conflicting_body_is_409(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    client = api(org.worker_a1)
    body = {"items": [_item(rules["idea"])]}
    first = client.post(DECLARATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(DECLARATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Declaration.objects.count() == 1

    other = {"items": [_item(rules["idea"], points=90)]}
    conflict = client.post(DECLARATIONS, other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert conflict.status_code == 409 and codes(conflict) == ["idempotency_conflict"]
    assert Declaration.objects.count() == 1
    assert Task.objects.filter(flow_task=DeclarationFlow.review).count() == 1


def test_a_multipart_replay_compares_the_files(org: Org, rules: dict[str, Any], api: Any) -> None:
    client = api(org.worker_a1)
    items = json.dumps([_item(rules["praise"])])

    def send(photo: SimpleUploadedFile) -> Any:
        return client.post(
            DECLARATIONS,
            {"items": items, "items.0.evidence": photo},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    assert send(_photo()).status_code == 201
    assert send(_photo()).json()["id"] == Declaration.objects.get().pk
    other = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(other, "JPEG")
    different = SimpleUploadedFile("scene.jpg", other.getvalue(), content_type="image/jpeg")
    assert codes(send(different)) == ["idempotency_conflict"]
    assert Declaration.objects.count() == 1 and Evidence.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_a_failed_request_keeps_no_idempotency_key(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    client = api(org.worker_a1)
    bad = {"items": [_item(rules["idea"], points=1000)]}
    assert (
        client.post(DECLARATIONS, bad, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    )
    good = {"items": [_item(rules["idea"])]}
    assert (
        client.post(DECLARATIONS, good, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    )


# --- seeing declarations -------------------------------------------------------------------


def test_who_sees_which_declaration(
    org: Org, other_org: Org, rules: dict[str, Any], api: Any
) -> None:
    in_a = _declared(api, org.worker_a1, rules["idea"])
    in_b = _declared(api, org.worker_b, rules["idea"])

    def seen(member: Member) -> set[int]:
        return {row["id"] for row in api(member).get(DECLARATIONS).json()["results"]}

    assert seen(org.worker_a1) == {in_a.pk}
    assert seen(org.leader_a1) == {in_a.pk}  # the reviewer, the team's leader
    assert seen(org.leader_a) == {in_a.pk}  # the department above
    assert seen(org.leader_b) == {in_b.pk}
    assert seen(org.hr) == seen(org.committee) == seen(org.ceo) == {in_a.pk, in_b.pk}
    assert seen(other_org.hr) == set()
    for member in (org.leader_b, org.worker_b, other_org.hr):
        response = api(member).get(f"{DECLARATIONS}{in_a.pk}/")
        assert response.status_code == 404 and codes(response) == ["not_found"]
    assert api(org.leader_a).get(f"{DECLARATIONS}{in_a.pk}/").status_code == 200


def test_declaration_filters(org: Org, other_org: Org, rules: dict[str, Any], api: Any) -> None:
    in_a = _declared(api, org.worker_a1, rules["idea"])
    in_b = _declared(api, org.worker_b, rules["idea"])
    _act(api, org.leader_b, _review_task(in_b), "approve")
    client = api(org.hr)
    by_status = client.get(DECLARATIONS, {"status": "approved"}).json()["results"]
    assert [row["id"] for row in by_status] == [in_b.pk]
    by_member = client.get(DECLARATIONS, {"member": org.worker_a1.pk}).json()["results"]
    assert [row["id"] for row in by_member] == [in_a.pk]
    for query in ({"status": "nonsense"}, {"member": 10**30}, {"member": other_org.worker_a1.pk}):
        bad = client.get(DECLARATIONS, query)
        assert bad.status_code == 400 and codes(bad) == ["invalid_choice"], query
        assert fields(bad) == list(query)


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": 200})
        assert response.status_code == 200
    return len(captured)


def test_the_lists_read_a_fixed_number_of_queries(
    org: Org, rules: dict[str, Any], api: Any, django_assert_max_num_queries: Any
) -> None:
    def add(count: int) -> None:
        for _n in range(count):
            _declared(api, org.worker_a1, rules["praise"])
            _declared(api, org.leader_a1, rules["idea"])
            api(org.leader_a1).post(NOTICES, _notice(org.worker_a1, rules["late"]), format="json")

    hr = api(org.hr)
    leader = api(org.leader_a)
    add(1)
    few = [_queries(hr, DECLARATIONS), _queries(hr, NOTICES), _queries(leader, TASKS)]
    add(4)
    assert hr.get(DECLARATIONS).json()["count"] == 10
    assert leader.get(TASKS).json()["count"] == 5
    many = [_queries(hr, DECLARATIONS), _queries(hr, NOTICES), _queries(leader, TASKS)]
    assert many == few
    for url, client in ((DECLARATIONS, hr), (NOTICES, hr), (TASKS, leader)):
        with django_assert_max_num_queries(15):
            client.get(url)


# --- reviewing -----------------------------------------------------------------------------


def test_another_departments_leader_can_neither_see_nor_decide(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    declaration = _declared(api, org.worker_a1, rules["idea"])
    task = _review_task(declaration)
    outsider = api(org.leader_b)
    assert outsider.get(TASKS).json()["count"] == 0
    assert outsider.get(f"{TASKS}{task.pk}/").status_code == 404
    for action, body in (
        ("approve", {}),
        ("reject", {"reason": "x"}),
        ("return", {"reason": "x"}),
        ("adjust", {"items": [{"id": declaration.items.get().pk, "points": 20}], "reason": "x"}),
    ):
        response = _act(api, org.leader_b, task, action, body)
        # 404, as for a task that does not exist: the answer does not say it does
        assert response.status_code == 404 and codes(response) == ["not_found"], action
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.SUBMITTED
    task.refresh_from_db()
    assert task.status == STATUS.ASSIGNED and task.owner == org.leader_a1.user


def test_the_declarant_cannot_decide_the_review(org: Org, rules: dict[str, Any], api: Any) -> None:
    declaration = _declared(api, org.worker_a1, rules["idea"])
    response = _act(api, org.worker_a1, _review_task(declaration), "approve")
    assert response.status_code == 403
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED


def test_nobody_approves_their_own_declaration_even_when_the_task_is_theirs(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    """Say the declarant was made the team's leader after declaring and the review passed to
    them: the task is theirs, but the service refuses the decision."""
    declaration = _declared(api, org.worker_a1, rules["idea"])
    task = _review_task(declaration)
    Task.objects.filter(pk=task.pk).update(owner=org.worker_a1.user)
    Declaration.objects.filter(pk=declaration.pk).update(reviewer=org.worker_a1.user)
    for action, body in (("approve", {}), ("reject", {"reason": "x"})):
        response = _act(api, org.worker_a1, task, action, body)
        assert response.status_code == 403 and codes(response) == ["permission_denied"]
    declaration.refresh_from_db()
    task.refresh_from_db()
    assert declaration.status == DeclarationStatus.SUBMITTED and task.status == STATUS.ASSIGNED
    assert not AuditEvent.objects.filter(action="declaration.approve").exists()


def test_a_done_task_is_409_and_unknown_ones_404(org: Org, rules: dict[str, Any], api: Any) -> None:
    declaration = _declared(api, org.worker_a1, rules["idea"])
    task = _review_task(declaration)
    assert _act(api, org.leader_a1, task, "approve").status_code == 200
    again = _act(api, org.leader_a1, task, "approve")
    assert again.status_code == 409 and codes(again) == ["task_done"]
    assert _act(api, org.leader_a1, task, "reject", {"reason": "x"}).status_code == 409
    missing = api(org.leader_a1).post(f"{TASKS}{10**9}/approve/", {}, format="json")
    assert missing.status_code == 404 and codes(missing) == ["not_found"]
    # The start task of the process has no such action.
    start = Task.objects.get(process_id=declaration.process_id, flow_task=DeclarationFlow.start)
    assert _act(api, org.leader_a1, start, "approve").status_code == 404


def test_adjust_within_the_range_with_a_reason(org: Org, rules: dict[str, Any], api: Any) -> None:
    response = _declare_json(
        api, org.worker_a1, _item(rules["idea"], points=80), _item(rules["late"])
    )
    declaration = Declaration.objects.get(pk=response.json()["id"])
    idea, late = declaration.items.order_by("pk")
    task = _review_task(declaration)

    no_reason = _act(api, org.leader_a1, task, "adjust", {"items": [{"id": idea.pk, "points": 60}]})
    assert no_reason.status_code == 400 and fields(no_reason) == ["reason"]
    out_of_range = _act(
        api,
        org.leader_a1,
        task,
        "adjust",
        {"items": [{"id": idea.pk, "points": 120}], "reason": "x"},
    )
    assert out_of_range.status_code == 400 and "10" in out_of_range.json()["errors"][0]["message"]
    not_adjustable = _act(
        api,
        org.leader_a1,
        task,
        "adjust",
        {"items": [{"id": idea.pk, "points": 60}, {"id": late.pk, "points": 3}], "reason": "x"},
    )
    assert not_adjustable.status_code == 400
    assert (codes(not_adjustable), fields(not_adjustable)) == (["invalid_choice"], ["items.1.id"])
    foreign = _act(
        api, org.leader_a1, task, "adjust", {"items": [{"id": 10**9, "points": 60}], "reason": "x"}
    )
    assert fields(foreign) == ["items.0.id"]
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED

    done = _act(
        api,
        org.leader_a1,
        task,
        "adjust",
        {"items": [{"id": idea.pk, "points": 60}], "reason": "效果一般"},
    )
    assert done.status_code == 200, done.json()
    row = done.json()["items"][0]
    assert row["approved_points"] == 60 and row["adjustment_reason"] == "效果一般"
    assert done.json()["status"] == "approved"


def test_reject_and_return_need_a_reason(org: Org, rules: dict[str, Any], api: Any) -> None:
    rejected = _declared(api, org.worker_a1, rules["idea"])
    task = _review_task(rejected)
    for action in ("reject", "return"):
        for body in ({}, {"reason": "  "}):
            response = _act(api, org.leader_a1, task, action, body)
            assert response.status_code == 400 and fields(response) == ["reason"], body
    response = _act(api, org.leader_a1, task, "reject", {"reason": "不属实"})
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert response.json()["decision_reason"] == "不属实"
    rejected.refresh_from_db()
    assert rejected.process.finished is not None


def test_an_outsider_cannot_tell_a_done_or_open_task_from_no_task(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    """Acting on or claiming a task of a process one may not see answers as for an id that
    does not exist, whatever the task's state: 403 or 409 would say that the task exists,
    and how far it got."""
    declaration = _declared(api, org.worker_a1, rules["idea"])
    task = _review_task(declaration)
    missing = Task.objects.order_by("-pk").first().pk + 1000
    outsider = api(org.leader_b)

    def answers(task_id: int) -> list[tuple[int, Any]]:
        return [
            (response.status_code, response.json())
            for response in (
                outsider.post(f"{TASKS}{task_id}/approve/", {}, format="json"),
                outsider.post(f"{TASKS}{task_id}/reject/", {"reason": "x"}, format="json"),
                outsider.post(f"{TASKS}{task_id}/claim/"),
                # a body the step would refuse (400) is not read first
                outsider.post(f"{TASKS}{task_id}/reject/", {}, format="json"),
                outsider.post(f"{TASKS}{task_id}/adjust/", {}, format="json"),
                outsider.post(f"{TASKS}{task_id}/revise/", {}, format="json"),
            )
        ]

    nothing = answers(missing)
    assert [status for status, _body in nothing] == [404] * 6
    assert answers(task.pk) == nothing  # open, assigned to leader_a1
    assert _act(api, org.leader_a1, task, "approve").status_code == 200
    assert answers(task.pk) == nothing  # done
    assert Declaration.objects.get().status == DeclarationStatus.APPROVED


def test_return_then_the_declarant_revises_via_the_api(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    declaration = _declared(api, org.worker_a1, rules["praise"])
    item = declaration.items.get()
    returned = _act(api, org.leader_a1, _review_task(declaration), "return", {"reason": "补充"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned"

    [task] = api(org.worker_a1).get(TASKS).json()["results"]
    assert task["step"] == "revise" and task["object"]["id"] == declaration.pk
    revised_item = {**_item(rules["praise"], description="补充：节约成本两万元"), "id": item.pk}
    # Another member may not revise it (nor learn that it exists); the item must be the
    # declaration's.
    assert (
        api(org.worker_b)
        .post(f"{TASKS}{task['id']}/revise/", {"items": [revised_item]}, format="json")
        .status_code
        == 404
    )
    foreign = {**revised_item, "id": 10**9}
    response = api(org.worker_a1).post(
        f"{TASKS}{task['id']}/revise/", {"items": [foreign]}, format="json"
    )
    assert response.status_code == 400 and fields(response) == ["items.0.id"]

    # The old photo still counts as the rule's evidence; a new one is added.
    response = api(org.worker_a1).post(
        f"{TASKS}{task['id']}/revise/",
        {"items": json.dumps([revised_item]), "items.0.evidence": _photo("more.jpg")},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "submitted"
    assert body["items"][0]["description"] == "补充：节约成本两万元"
    assert len(body["items"][0]["evidence"]) == 2
    assert _review_task(declaration).owner == org.leader_a1.user
    assert _act(api, org.leader_a1, _review_task(declaration), "approve").status_code == 200
    assert Declaration.objects.get().status == DeclarationStatus.APPROVED


def test_above_the_reviewers_tier_it_escalates(org: Org, rules: dict[str, Any], api: Any) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=20
    )
    org.team_a1.save()
    declaration = _declared(api, org.worker_a1, rules["praise"])  # 50 > 20
    response = _act(api, org.leader_a1, _review_task(declaration), "approve")
    assert response.status_code == 200 and response.json()["status"] == "escalated"
    assert response.json()["reviewer"]["id"] == org.leader_a.pk
    [task] = api(org.leader_a).get(TASKS).json()["results"]
    assert task["step"] == "review"
    assert api(org.leader_a).post(f"{TASKS}{task['id']}/approve/").json()["status"] == "approved"


# --- the queue -----------------------------------------------------------------------------


@pytest.fixture
def redemption(org: Org) -> Redemption:
    """A redemption waiting in HR's queue (requested through the web page)."""
    reward = Reward.objects.create(
        organisation=org.organisation,
        name="保温杯",
        kind=RewardKind.GIFT,
        points_cost=200,
        stock=3,
    )
    web = Client()
    assert web.login(username=org.worker_a1.user.username, password=TEST_PASSWORD)
    response = web.post("/shop/redemption/start/", {"reward": reward.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Redemption.objects.get()


def test_the_queue_holds_tasks_to_claim_and_claiming_moves_them_to_the_inbox(
    org: Org, other_org: Org, redemption: Redemption, api: Any
) -> None:
    task = Task.objects.get(process_id=redemption.process_id, flow_task=RedemptionFlow.approve)
    assert task.status == STATUS.NEW
    hr = api(org.hr)
    [row] = hr.get(f"{TASKS}queue/").json()["results"]
    assert row["id"] == task.pk and row["flow"] == "redemption" and row["status"] == "NEW"
    assert row["object"] == {"type": "redemption", "id": redemption.pk} and row["owner"] is None
    assert hr.get(f"{TASKS}queue/", {"flow": "declaration"}).json()["count"] == 0
    assert hr.get(f"{TASKS}{task.pk}/").status_code == 200
    assert hr.get(TASKS).json()["count"] == 0
    # The redeemer sees his redemption but may not claim it (403); the others may not
    # learn that it exists (404, as for no task at all).
    for member, refused in (
        (org.worker_a1, (403, ["permission_denied"])),
        (org.leader_a, (404, ["not_found"])),
        (org.committee, (404, ["not_found"])),
        (other_org.hr, (404, ["not_found"])),
    ):
        client = api(member)
        assert client.get(f"{TASKS}queue/").json()["count"] == 0
        assert client.get(f"{TASKS}{task.pk}/").status_code == 404
        denied = client.post(f"{TASKS}{task.pk}/claim/")
        assert (denied.status_code, codes(denied)) == refused, member

    claimed = hr.post(f"{TASKS}{task.pk}/claim/")
    assert claimed.status_code == 200, claimed.json()
    assert claimed.json()["status"] == "ASSIGNED"
    assert claimed.json()["owner"] == {"id": org.hr.pk, "name": org.hr.name}
    assert [t["id"] for t in hr.get(TASKS).json()["results"]] == [task.pk]
    assert hr.get(f"{TASKS}queue/").json()["count"] == 0
    again = hr.post(f"{TASKS}{task.pk}/claim/")
    assert again.status_code == 409 and codes(again) == ["task_not_available"]
    # A redemption step has no declaration or notice actions here.
    assert hr.post(f"{TASKS}{task.pk}/approve/", {}, format="json").status_code == 404
    assert hr.post(f"{TASKS}{10**9}/claim/").status_code == 404


def test_a_bad_flow_filter_is_400(org: Org, api: Any) -> None:
    response = api(org.hr).get(TASKS, {"flow": "nonsense"})
    assert response.status_code == 400 and fields(response) == ["flow"]


# --- award notices -------------------------------------------------------------------------


def _notice(member: Member, rule: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "members": [member.pk],
        "rule_item": rule.pk,
        "quantity": 1,
        "event_date": "2026-11-12",
        "description": "早会迟到十分钟",
        **overrides,
    }


def test_a_leader_issues_a_notice_within_the_tier(
    org: Org, other_org: Org, rules: dict[str, Any], api: Any
) -> None:
    response = api(org.leader_a1).post(
        NOTICES, _notice(org.worker_a1, rules["late"]), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "approved" and body["issuer"] == org.leader_a1.pk
    assert body["signer"] is None
    [item] = body["items"]
    assert item["member"] == org.worker_a1.pk and item["signed_total"] == -5
    assert item["pool_month"] == "2026-11-01"
    notice = AwardNotice.objects.get()
    assert notice.process.finished is not None

    def seen(member: Member) -> set[int]:
        return {row["id"] for row in api(member).get(NOTICES).json()["results"]}

    assert seen(org.worker_a1) == seen(org.leader_a) == seen(org.hr) == {notice.pk}
    assert seen(org.worker_b) == seen(org.leader_b) == seen(other_org.hr) == set()
    assert api(org.leader_b).get(f"{NOTICES}{notice.pk}/").status_code == 404
    assert api(org.hr).get(NOTICES, {"status": "approved"}).json()["count"] == 1
    assert api(org.hr).get(NOTICES, {"status": "rejected"}).json()["count"] == 0


def test_who_may_issue_a_notice_to_whom(org: Org, rules: dict[str, Any], api: Any) -> None:
    worker = api(org.worker_a1).post(NOTICES, _notice(org.worker_b, rules["late"]), format="json")
    assert worker.status_code == 403 and codes(worker) == ["permission_denied"]
    outside = api(org.leader_a1).post(NOTICES, _notice(org.worker_b, rules["late"]), format="json")
    assert outside.status_code == 400
    assert (codes(outside), fields(outside)) == (["invalid_choice"], ["members"])
    future = api(org.leader_a1).post(
        NOTICES, _notice(org.worker_a1, rules["idea"], event_date="2026-12-01"), format="json"
    )
    assert future.status_code == 400
    assert set(fields(future)) == {"event_date", "points"}  # and the range rule's points
    for members in ([10**30], [1e30], ["x"]):
        huge = api(org.leader_a1).post(
            NOTICES, _notice(org.worker_a1, rules["late"], members=members), format="json"
        )
        assert huge.status_code == 400 and fields(huge) == ["members"], members
    unknown = api(org.leader_a1).post(
        NOTICES, _notice(org.worker_a1, rules["late"], colour="red"), format="json"
    )
    assert unknown.status_code == 400 and codes(unknown) == ["unknown_field"]
    assert not AwardNotice.objects.exists()


def test_a_notice_replays_by_its_idempotency_key(org: Org, rules: dict[str, Any], api: Any) -> None:
    client = api(org.leader_a1)
    body = _notice(org.worker_a1, rules["late"])
    first = client.post(NOTICES, body, format="json", HTTP_IDEMPOTENCY_KEY="n-1")
    again = client.post(NOTICES, body, format="json", HTTP_IDEMPOTENCY_KEY="n-1")
    assert again.json() == first.json() and AwardNotice.objects.count() == 1
    other = _notice(org.worker_a1, rules["late"], quantity=2)
    conflict = client.post(NOTICES, other, format="json", HTTP_IDEMPOTENCY_KEY="n-1")
    assert conflict.status_code == 409 and codes(conflict) == ["idempotency_conflict"]
    assert AwardNotice.objects.count() == 1


def test_above_the_tier_the_next_level_signs_via_the_task(
    org: Org, rules: dict[str, Any], api: Any
) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=20
    )
    org.team_a1.save()
    response = api(org.leader_a1).post(
        NOTICES, _notice(org.worker_a1, rules["late"], quantity=10), format="json"
    )
    assert response.status_code == 201 and response.json()["status"] == "awaiting_signature"
    assert response.json()["signer"] == {"id": org.leader_a.pk, "name": org.leader_a.name}
    notice = AwardNotice.objects.get()
    [task] = api(org.leader_a).get(TASKS).json()["results"]
    assert task["flow"] == "award_notice" and task["step"] == "sign"
    assert task["object"] == {"type": "award_notice", "id": notice.pk}

    # The issuer and the member see the notice but may not sign it; another department's
    # leader may not learn that it exists.
    for member, refused in ((org.leader_b, 404), (org.leader_a1, 403), (org.worker_a1, 403)):
        assert _act(api, member, Task.objects.get(pk=task["id"]), "approve").status_code == refused
    sign_task = Task.objects.get(pk=task["id"])
    for action in ("adjust", "return", "revise"):
        assert _act(api, org.leader_a, sign_task, action, {"reason": "x"}).status_code == 404
    no_reason = _act(api, org.leader_a, sign_task, "reject")
    assert no_reason.status_code == 400 and fields(no_reason) == ["reason"]
    signed = _act(api, org.leader_a, sign_task, "approve", {"reason": ""})
    assert signed.status_code == 200, signed.json()
    assert signed.json()["status"] == "approved"
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.APPROVED and notice.process.finished is not None
    assert notice.items.get().pool_month == date(2026, 11, 1)


def test_a_signer_may_refuse_with_a_reason(org: Org, rules: dict[str, Any], api: Any) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=20
    )
    org.team_a1.save()
    api(org.leader_a1).post(
        NOTICES, _notice(org.worker_a1, rules["late"], quantity=10), format="json"
    )
    task = Task.objects.get(flow_task=AwardNoticeFlow.sign, status=STATUS.ASSIGNED)
    refused = _act(api, org.leader_a, task, "reject", {"reason": "证据不足"})
    assert refused.status_code == 200 and refused.json()["status"] == "rejected"
    assert refused.json()["decision_reason"] == "证据不足"
    assert AwardNotice.objects.get().items.get().pool_month is None


def test_the_schema_documents_the_endpoints(db: Any, client: Any) -> None:
    document = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = document["paths"]
    create = paths["/api/v1/declarations/"]["post"]
    assert set(create["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    upload = document["components"]["schemas"]["DeclarationUploadRequest"]["properties"]
    assert upload["items.0.evidence"]["items"]["format"] == "binary"
    assert "Idempotency-Key" in {p["name"] for p in create["parameters"]}
    for action in ("approve", "adjust", "reject", "return", "revise", "claim"):
        assert "409" in paths[f"/api/v1/tasks/{{id}}/{action}/"]["post"]["responses"]
    assert "/api/v1/tasks/queue/" in paths and "/api/v1/notices/" in paths


# --- withdrawal ------------------------------------------------------------------------------


def _withdraw_pending(org: Org, api: Any, rules: dict[str, Any]) -> int:
    response = _declare_json(api, org.worker_a1, _item(rules["idea"], points=20))
    assert response.status_code == 201, response.json()
    return int(response.json()["id"])


@pytest.mark.parametrize(("who", "status"), [("leader_a1", 403), ("hr", 403), ("worker_b", 404)])
def test_only_the_declarant_withdraws_through_the_api(
    org: Org, api: Any, rules: dict[str, Any], who: str, status: int
) -> None:
    """Others who may see it are refused (403); those who may not, 404; nothing changes."""
    pk = _withdraw_pending(org, api, rules)
    refused = api(getattr(org, who)).post(f"{DECLARATIONS}{pk}/withdraw/", {}, format="json")
    assert refused.status_code == status
    assert Declaration.objects.get(pk=pk).status == DeclarationStatus.SUBMITTED


def test_the_declarant_withdraws_through_the_api_and_a_decided_one_is_refused(
    org: Org, api: Any, rules: dict[str, Any]
) -> None:
    pk = _withdraw_pending(org, api, rules)
    url = f"{DECLARATIONS}{pk}/withdraw/"
    # the record says who may withdraw it: the declarant, not the reviewer who sees it
    assert api(org.worker_a1).get(f"{DECLARATIONS}{pk}/").json()["may_withdraw"] is True
    assert api(org.leader_a1).get(f"{DECLARATIONS}{pk}/").json()["may_withdraw"] is False
    listed = api(org.worker_a1).get(DECLARATIONS).json()["results"]
    assert [d["may_withdraw"] for d in listed if d["id"] == pk] == [True]
    too_long = api(org.worker_a1).post(url, {"reason": "x" * 501}, format="json")
    assert too_long.status_code == 400 and fields(too_long) == ["reason"]
    response = api(org.worker_a1).post(url, {"reason": "报错了规则"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "withdrawn"
    declaration = Declaration.objects.get(pk=pk)
    assert declaration.decision_reason == "报错了规则"
    review = Task.objects.get(process=declaration.process, flow_task=DeclarationFlow.review)
    assert review.status == STATUS.CANCELED
    assert AuditEvent.objects.filter(action="declaration.withdraw").count() == 1
    again = api(org.worker_a1).post(url, {}, format="json")  # a retried call: done already
    assert again.status_code == 200 and again.json()["status"] == "withdrawn"
    assert again.json()["may_withdraw"] is False
    assert AuditEvent.objects.filter(action="declaration.withdraw").count() == 1
    # the reviewer's cancelled task answers so, not "already done"
    late = api(org.leader_a1, lang="zh-hans").post(
        f"{V1}tasks/{review.pk}/approve/", {}, format="json"
    )
    assert late.status_code == 409 and codes(late) == ["task_cancelled"]
    assert late.json()["errors"][0]["message"] == "此任务已取消（其记录已撤回或取消），无需再处理。"
    assert Declaration.objects.get(pk=pk).status == DeclarationStatus.WITHDRAWN


def test_a_decided_declaration_is_not_withdrawn_through_the_api(
    org: Org, api: Any, rules: dict[str, Any]
) -> None:
    pk = _withdraw_pending(org, api, rules)
    task = Task.objects.get(process__declaration__pk=pk, flow_task=DeclarationFlow.review)
    approved = api(org.leader_a1).post(f"{V1}tasks/{task.pk}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.json()
    refused = api(org.worker_a1, lang="zh-hans").post(
        f"{DECLARATIONS}{pk}/withdraw/", {}, format="json"
    )
    assert refused.status_code == 400 and codes(refused) == ["decided"]
    assert refused.json()["errors"][0]["message"] == "此申报已批准，不能再撤回。"
    assert Declaration.objects.get(pk=pk).status == DeclarationStatus.APPROVED
    assert not AuditEvent.objects.filter(action="declaration.withdraw").exists()
