"""Demo declarations at every step, so a leader who logs in finds real work: waiting for
review, returned, escalated, approved, rejected and withdrawn, across several departments.

They go through the same flow nodes and services as the pages. Idempotent: each demo
declaration is recognised by its description."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.datastructures import MultiValueDict
from PIL import Image

from flows.flows import DeclarationFlow
from flows.forms import DeclarationItemForm
from flows.models import Declaration
from flows.services import declaration_review, declaration_submit, declaration_withdraw
from points.demo.seed import SeedResult
from points.models import Member, RuleItem
from points.periods import organisation_today

# (declaring member, rule code, points or None for fixed, description, decisions)
# decisions: a list of actions by whoever reviews next ("withdraw": the member withdraws).
DEMO_DECLARATIONS: list[tuple[str, str, int | None, str, list[str]]] = [
    ("member", "PERF-004", None, "夜班及时观察烘干机，避免衣物受损（演示：待审核）", []),
    ("E0006", "SUG-001", 30, "提出工装改进建议，节约工时（演示：待审核）", []),
    ("E0040", "TRN-001", None, "班前会分享安全操作经验（演示：已退回）", ["return"]),
    ("E0070", "SUG-001", 80, "合理化建议降低废品率（演示：已上报）", ["approve"]),
    ("E0100", "QLT-006", None, "协助质检部复检，发现两处缺陷（演示：已批准）", ["approve"]),
    ("E0130", "QLT-004", None, "打包数目准确，无差错（演示：已驳回）", ["reject"]),
    ("E0160", "SUG-001", 20, "提出节水建议，选错了规则（演示：已撤回）", ["withdraw"]),
]


def _demo_photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 60, 40)).save(out, "JPEG")
    return SimpleUploadedFile("现场照片.jpg", out.getvalue(), content_type="image/jpeg")


def _start(user: Any, member: Member, rule: RuleItem, points: int | None, text: str) -> Any:
    day = organisation_today(member.organisation) - timedelta(days=2)
    form = DeclarationItemForm(
        data={
            "rule_item": rule.pk,
            "quantity": 1,
            "points": points or "",
            "event_date": day.isoformat(),
            "place": member.unit.name,
            "description": text,
        },
        files=MultiValueDict({"evidence": [_demo_photo()] if rule.evidence_required else []}),
        member=member,
    )
    if not form.is_valid():
        return None
    activation = DeclarationFlow.start.activation_class.create(DeclarationFlow.start, None, None)
    activation.start(SimpleNamespace(user=user))
    activation.process.save()
    declaration = declaration_submit(user=user, member=member, item_forms=[form])
    declaration.process = activation.process
    declaration.save(update_fields=["process"])
    activation.execute()
    return declaration


def _decide(declaration: Declaration, action: str) -> None:
    declaration.refresh_from_db()
    task = DeclarationFlow.task_class.objects.get(
        process=declaration.process,
        flow_task=DeclarationFlow.review,
        owner=declaration.reviewer,
        status="ASSIGNED",
    )
    activation = task.flow_task.activation_class(task)
    activation.start(SimpleNamespace(user=declaration.reviewer))
    declaration_review(
        declaration=declaration,
        user=declaration.reviewer,
        action=action,
        reason="演示审核意见" if action != "approve" else "",
    )
    activation.execute()


def seed_declarations(result: SeedResult) -> None:
    for who, code, points, text, decisions in DEMO_DECLARATIONS:
        if Declaration.objects.filter(items__description=text).exists():
            continue
        member = (
            Member.objects.select_related("unit", "organisation", "user")
            .filter(organisation__code="demo-factory")
            .filter(user__username=who)
            .first()
            or Member.objects.select_related("unit", "organisation", "user")
            .filter(organisation__code="demo-factory", employee_no=who)
            .first()
        )
        rule = RuleItem.objects.filter(organisation__code="demo-factory", code=code).first()
        if member is None or rule is None or member.user is None:
            continue
        declaration = _start(member.user, member, rule, points, text)
        if declaration is None:
            continue
        result.count("declarations", True)
        for action in decisions:
            if action == "withdraw":
                declaration_withdraw(
                    declaration=declaration, user=member.user, reason="演示：选错了规则，撤回重报"
                )
            else:
                _decide(declaration, action)


DEMO_NOTICES: list[tuple[str, list[str], str, int, str]] = [
    # (issuer username, member employee numbers, rule code, quantity, description)
    ("leader", ["E0010", "E0011"], "ATD-002", 1, "周一早会迟到（演示：班组长权限内，已生效）"),
    ("leader", ["E0012"], "HYG-006", 1, "工位物见本色物归原处（演示：超出权限，待签批）"),
]


def seed_notices(result: SeedResult) -> None:
    from flows.flows import AwardNoticeFlow
    from flows.forms import AwardNoticeForm
    from flows.models import AwardNotice, NoticeItem
    from flows.services import notice_issue, notice_scope

    for username, numbers, code, quantity, text in DEMO_NOTICES:
        if NoticeItem.objects.filter(description=text).exists():
            continue
        issuer = (
            Member.objects.filter(organisation__code="demo-factory", user__username=username)
            .select_related("organisation", "user")
            .first()
        )
        rule = RuleItem.objects.filter(organisation__code="demo-factory", code=code).first()
        if issuer is None or rule is None:
            continue
        scope = notice_scope(user=issuer.user)
        members = list(scope.filter(employee_no__in=numbers))
        day = organisation_today(issuer.organisation) - timedelta(days=1)
        form = AwardNoticeForm(
            data={
                "members": [m.pk for m in members],
                "rule_item": rule.pk,
                "quantity": quantity,
                "event_date": day.isoformat(),
                "description": text,
            },
            issuer=issuer,
            scope=scope,
        )
        if not form.is_valid():
            continue
        activation = AwardNoticeFlow.start.activation_class.create(
            AwardNoticeFlow.start, None, None
        )
        activation.start(SimpleNamespace(user=issuer.user))
        activation.process.save()
        notice: AwardNotice = notice_issue(user=issuer.user, form=form)
        notice.process = activation.process
        notice.save(update_fields=["process"])
        activation.execute()
        result.count("award notices", True)
