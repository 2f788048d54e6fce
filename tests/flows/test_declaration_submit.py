"""Submitting a declaration: the form refuses every bad input with a translated message and
writes nothing; a good one is stored with its evidence under generated names."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.datastructures import MultiValueDict
from PIL import Image

from flows.forms import DeclarationItemForm
from flows.models import Declaration, DeclarationItem, Evidence
from flows.services import declaration_submit
from points.services.accounts import period_close
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db


def _photo(name: str = "photo.jpg") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(out, "JPEG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


@pytest.fixture
def praise(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation,
        code="SVC-001",
        name="顾客表扬",
        category="service",
        kind="award",
        points_min=50,
        points_max=50,
        evidence_required=True,
    )


@pytest.fixture
def suggestion(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation,
        code="SUG-001",
        name="合理化建议",
        category="suggestion",
        kind="award",
        points_min=10,
        points_max=100,
    )


def _form(org: Org, rule: Any, files: list[Any] | None = None, **data: Any) -> DeclarationItemForm:
    fields = {
        "rule_item": rule.pk,
        "quantity": 1,
        "event_date": "2026-11-10",
        "place": "二号车间",
        "description": "顾客来电表扬",
        **data,
    }
    return DeclarationItemForm(
        data=fields, files=MultiValueDict({"evidence": files or []}), member=org.worker_a1
    )


def _errors(form: DeclarationItemForm) -> str:
    assert not form.is_valid()
    return " ".join(str(m) for messages in form.errors.values() for m in messages)


def test_a_good_declaration_is_stored_with_its_evidence(org: Org, praise: Any) -> None:
    form = _form(org, praise, files=[_photo("../../../etc/passwd.jpg")])
    assert form.is_valid(), form.errors
    declaration = declaration_submit(
        user=org.worker_a1.user, member=org.worker_a1, item_forms=[form]
    )
    item = declaration.items.get()
    assert item.points == 50 and item.signed_total == 50
    evidence = item.evidence.get()
    assert evidence.original_name == "passwd.jpg"
    assert evidence.file.name.startswith("evidence/2026/11/") and "passwd" not in evidence.file.name
    assert evidence.content_type == "image/jpeg"


def test_points_in_a_range_are_chosen_and_checked(org: Org, suggestion: Any) -> None:
    assert "10" in _errors(_form(org, suggestion))  # no points chosen
    assert "10" in _errors(_form(org, suggestion, points=101))
    form = _form(org, suggestion, points=60)
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("quantity", [0, -1, 101, 40000])
def test_a_quantity_out_of_bounds_is_refused(org: Org, suggestion: Any, quantity: int) -> None:
    form = _form(org, suggestion, points=20, quantity=quantity)
    assert "确保该值" in _errors(form)  # Django's translated bound
    assert list(form.errors) == ["quantity"]


def test_the_form_checks_an_item_in_two_queries(
    org: Org, suggestion: Any, django_assert_num_queries: Any
) -> None:
    """The rule with its scope, the closed-month check, nothing else: the model's own
    validation does not read the rule again or ask the database about the quantity."""
    form = _form(org, suggestion, points=20)
    with django_assert_num_queries(2):
        assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_date": "2026-11-25"}, "不能是将来"),
        ({"event_date": "2026-10-10"}, "已关闭"),
    ],
)
def test_bad_dates_are_refused(
    org: Org, suggestion: Any, change: dict[str, Any], message: str
) -> None:
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    assert message in _errors(_form(org, suggestion, points=20, **change))


def test_an_inactive_or_out_of_scope_rule_is_refused(org: Org, suggestion: Any) -> None:
    suggestion.active = False
    suggestion.save()
    assert "不再有效" in _errors(_form(org, suggestion, points=20))
    other = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=5, points_max=5, name="乙部门专项"
    )
    other.units.set([org.dept_b])
    assert "不适用于" in _errors(_form(org, other))


def test_the_form_offers_only_the_rules_that_may_be_used(
    org: Org, praise: Any, suggestion: Any
) -> None:
    from tests.flows.test_declaration_flow import START, _client

    suggestion.active = False
    suggestion.save()
    other = RuleItemFactory(organisation=org.organisation, name="乙部门专项")
    other.units.set([org.dept_b])
    ours = RuleItemFactory(organisation=org.organisation, name="甲部门专项")
    ours.units.set([org.dept_a])
    html = _client(org.worker_a1).get(START).content.decode()
    assert _offered(html) == {praise.pk, ours.pk}
    assert "data-declare-for" not in html  # nobody else to declare for


def _offered(html: str) -> set[int]:
    select = html.split('name="items-0-rule_item"')[1].split("</select>")[0]
    return {int(pk) for pk in re.findall(r'<option value="(\d+)"', select)}


def test_a_recorder_sees_the_rules_and_caps_of_the_member_they_declare_for(
    org: Org, praise: Any
) -> None:
    """The recorder (甲部门) chooses a member (?member=, set by the page's script when the
    list changes): the item list offers that member's rules, the caps are theirs, and a
    member outside the recorder's scope is not taken."""
    from tests.flows.test_declaration_flow import START, _client, _declare

    team_only = RuleItemFactory(organisation=org.organisation, name="甲一班组专项", cap_per_day=100)
    team_only.units.set([org.team_a1])
    client = _client(org.recorder)
    mine = client.get(START).content.decode()
    assert _offered(mine) == {praise.pk} and "data-declare-for" in mine
    theirs = client.get(START, {"member": org.worker_a1.pk}).content.decode()
    assert _offered(theirs) == {praise.pk, team_only.pk}
    assert f'<option value="{org.worker_a1.pk}" selected>' in theirs
    assert f"{org.worker_a1.name}的上限使用情况" in theirs
    outsider = client.get(START, {"member": org.worker_b.pk}).content.decode()
    assert _offered(outsider) == {praise.pk} and org.worker_b.name not in outsider
    # a refused item is shown again with the chosen member's rules
    again = _declare(
        org.recorder, team_only, for_member=org.worker_a1, client=client, description=""
    )
    assert again.status_code == 200 and _offered(again.content.decode()) == {
        praise.pk,
        team_only.pk,
    }
    assert not Declaration.objects.exists()
    # entered for a member, the message says whose declaration went to whom
    from tests.flows.test_declaration_flow import _said

    sent = _declare(org.recorder, praise, for_member=org.worker_a1, client=client)
    assert sent.status_code == 302
    assert _said(sent) == [f"{org.worker_a1.name}的申报已提交给 {org.leader_a1.name} 审核。"]


def test_missing_evidence_is_refused(org: Org, praise: Any) -> None:
    assert "证明材料" in _errors(_form(org, praise))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("x.jpg", b"GIF89a<html><script>alert(1)</script>"), "只接受"),
        (
            SimpleUploadedFile("x.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"%%EOF"),
            "超过 10 MB",
        ),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(
    org: Org, praise: Any, upload: Any, message: str
) -> None:
    assert message in _errors(_form(org, praise, files=[upload]))
    assert not Declaration.objects.exists() and not Evidence.objects.exists()
    assert not DeclarationItem.objects.exists()


def test_a_recorder_declares_for_members_in_scope_only(org: Org, suggestion: Any) -> None:
    form = _form(org, suggestion, points=20)
    assert form.is_valid()
    declaration = declaration_submit(
        user=org.recorder.user, member=org.worker_a1, item_forms=[form]
    )
    assert declaration.submitted_by == org.recorder.user
    form = DeclarationItemForm(
        data={
            "rule_item": suggestion.pk,
            "quantity": 1,
            "points": 20,
            "event_date": "2026-11-10",
            "place": "乙部门",
            "description": "代申报",
        },
        member=org.worker_b,
    )
    assert form.is_valid(), form.errors
    with pytest.raises(PermissionDenied):
        declaration_submit(user=org.recorder.user, member=org.worker_b, item_forms=[form])
    with pytest.raises(PermissionDenied):
        declaration_submit(user=org.worker_b.user, member=org.worker_a1, item_forms=[form])
    assert Declaration.objects.count() == 1


def test_a_recorder_is_not_offered_members_nobody_could_review(org: Org) -> None:
    """A recorder at the top: the CEO has nobody above to review a declaration."""
    from points.roles import Role
    from tests.flows.test_declaration_flow import START, _client

    top = org.member(org.company, "acme-top-recorder", role=Role.RECORDER)
    html = _client(top).get(START).content.decode()
    offered = html.split('name="member"')[1].split("</select>")[0]
    assert f'value="{org.worker_b.pk}"' in offered and f'value="{org.ceo.pk}"' not in offered


def test_an_empty_declaration_says_what_an_item_needs(org: Org) -> None:
    from tests.flows.test_declaration_flow import START, _client

    response = _client(org.worker_a1).post(
        START,
        {
            "member": org.worker_a1.pk,
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "5",
            "items-0-quantity": "1",
        },
    )
    assert response.status_code == 200
    assert "请至少添加一项：选择奖扣分标准条目" in response.content.decode()
    assert not Declaration.objects.exists()


def test_a_publicity_group_without_anybody_says_so(org: Org) -> None:
    from django.template.loader import render_to_string

    html = render_to_string(
        "flows/_publicity_top.html", {"publicity": {"top": {"leaders": []}}, "leaders": "leaders"}
    )
    assert "本批次中没有此类人员" in html and "<li>" not in html


def test_a_missing_place_is_named_under_its_label(org: Org, praise: Any) -> None:
    from tests.flows.test_declaration_flow import START, _client

    response = _client(org.worker_a1).post(
        START,
        {
            "member": org.worker_a1.pk,
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "5",
            "items-0-rule_item": praise.pk,
            "items-0-quantity": "1",
            "items-0-event_date": "2026-11-10",
            "items-0-description": "顾客表扬",
        },
    )
    html = response.content.decode()
    field = re.search(
        r'<div class="pts-required">\s*<label for="id_items-0-place"[^>]*>(.*?)</label>(.*?)<input',
        html,
        re.S,
    )
    assert field and "请填写地点。" in field.group(2)  # between its label and its input
    assert not Declaration.objects.exists()


# --- the same refusals through the page: a message, and nothing written ---------------------


def _sent(org: Org, rule: Any, upload: Any = None, **change: Any) -> Any:
    from tests.flows.test_declaration_flow import START, _client

    data = {
        "member": org.worker_a1.pk,
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "5",
        "items-0-rule_item": rule.pk,
        "items-0-quantity": "1",
        "items-0-points": "",
        "items-0-event_date": "2026-11-10",
        "items-0-place": "二号车间",
        "items-0-description": "顾客来电表扬",
        **{f"items-0-{k}": v for k, v in change.items()},
    }
    if upload is not None:
        data["items-0-evidence"] = upload
    return _client(org.worker_a1).post(START, data)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("future date", "不能是将来"),
        ("closed month", "已关闭"),
        ("inactive rule", "“顾客表扬”已不再有效。"),
        ("out-of-scope rule", "“顾客表扬”不适用于"),
        ("points above the range", "分值必须在 10 至 100 之间。"),
        ("missing evidence", "证明材料"),
        ("HTML named as a photo", "只接受"),
        ("GIF header + HTML", "只接受"),
        ("over the size limit", "超过 10 MB"),
    ],
)
def test_each_bad_input_through_the_page_says_why_and_writes_nothing(
    org: Org, praise: Any, suggestion: Any, settings: Any, case: str, message: str
) -> None:
    from viewflow.workflow.models import Process, Task

    from flows.models import IdempotencyKey

    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    rule, upload, change = praise, _photo("../../x.jpg"), {}
    if case == "future date":
        change = {"event_date": "2026-11-25"}
    elif case == "closed month":
        change = {"event_date": "2026-10-10"}
    elif case == "inactive rule":
        praise.active = False
        praise.save()
    elif case == "out-of-scope rule":
        praise.units.set([org.dept_b])
    elif case == "points above the range":
        rule, upload, change = suggestion, None, {"points": "101"}
    elif case == "missing evidence":
        upload = None
    elif case == "HTML named as a photo":
        upload = SimpleUploadedFile("x.jpg", b"<html><script>alert(1)</script></html>")
    elif case == "GIF header + HTML":
        upload = SimpleUploadedFile("x.jpg", b"GIF89a<html><script>alert(1)</script>")
    elif case == "over the size limit":
        upload = SimpleUploadedFile("x.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"%%EOF")
    response = _sent(org, rule, upload, **change)
    assert response.status_code == 200
    errors = re.findall(
        r'class="[^"]*errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S
    )
    assert any(message in error for error in errors), (case, errors)
    for model in (Declaration, DeclarationItem, Evidence, Process, Task, IdempotencyKey):
        assert not model.objects.exists(), (case, model)
    stored = settings.MEDIA_ROOT / "evidence"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*")), case


def test_the_camera_opens_from_the_form_and_pdfs_can_still_be_chosen(org: Org, praise: Any) -> None:
    """On a phone "拍照" opens the camera (``capture``); a phone offers only its camera to
    an input with ``capture``, so photos from the gallery and PDFs come through a second
    picker under the same name, and the form takes the files of both."""
    from tests.flows.test_declaration_flow import START, _client

    html = _client(org.worker_a1).get(START).content.decode()
    inputs = re.findall(r'<input type="file" name="items-0-evidence"[^>]*>', html)
    camera = [i for i in inputs if 'capture="environment"' in i]
    files = [i for i in inputs if "capture" not in i]
    assert len(camera) == 1 and 'accept="image/*"' in camera[0]
    assert len(files) == 1 and 'accept="image/*,application/pdf"' in files[0]
    assert "multiple" in files[0]
    assert "拍照" in html and "或选择照片或 PDF：" in html
    pdf = SimpleUploadedFile("cert.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
    response = _sent(org, praise, upload=[_photo("camera.jpg"), pdf])
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = Declaration.objects.get().items.get().evidence.order_by("pk")
    assert [e.original_name for e in stored] == ["camera.jpg", "cert.pdf"]
