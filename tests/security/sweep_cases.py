"""The world the URL sweep requests its URLs in, built once per module through the same
pages and services the flow tests use: declarations at every step, two publicity batches
(one posted after its window, one department-scoped and still in its window), appeals at
every step, award notices, redemptions, an import job, a prize award, ledger entries."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from PIL import Image
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.flows import (
    AppealFlow,
    AwardNoticeFlow,
    DeclarationFlow,
    RedemptionFlow,
    SummaryFlow,
)
from flows.models import (
    Appeal,
    AwardNotice,
    Declaration,
    Evidence,
    ImportJob,
    Redemption,
    Summary,
    SummaryStatus,
)
from points.models import EntryKind, LedgerEntry, Member, PrizeAward, PrizeTable, PrizeTier, Reward
from points.roles import Role
from points.services.accounts import period_close
from points.services.ledger import PostingItem, ledger_post
from tests.conftest import Org
from tests.factories import AuthorityTierFactory, RuleItemFactory
from tests.flows.test_award_notice import _issue
from tests.flows.test_declaration_flow import _client, _declare, _photo
from tests.flows.test_imports import _csv, _upload
from tests.flows.test_publicity import SUMMARY_START, _close_after_window, _sign

DONE_OR_OPEN = [STATUS.NEW, STATUS.ASSIGNED, STATUS.DONE]


@dataclass
class World:
    org: Org
    other: Org
    extra: dict[str, Member] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)

    def user(self, name: str) -> Any:
        """The login of a role name (``root`` is a superuser without a member)."""
        if name in self.users:
            return self.users[name]
        return self.member(name).user

    def member(self, name: str) -> Member:
        """``worker_a1`` → the organisation's; ``other_hr`` → the other organisation's."""
        if name in self.extra:
            return self.extra[name]
        if name.startswith("other_"):
            member: Member = getattr(self.other, name.removeprefix("other_"))
            return member
        member = getattr(self.org, name)
        return member


def _ok(response: Any) -> Any:
    assert response.status_code == 302, (response.status_code, response.content.decode()[:3000])
    return response


def _task(flow: Any, node: Any, process_id: int) -> Task:
    return flow.task_class.objects.filter(
        process_id=process_id, flow_task=node, status__in=DONE_OR_OPEN
    ).latest("pk")


def _url(prefix: str, task: Task, action: str = "execute") -> str:
    return f"{prefix}{task.process_id}/{task.flow_task.name}/{task.pk}/{action}/"


def _review(reviewer: Member, declaration: Declaration, action: str, reason: str = "") -> None:
    task = _task(DeclarationFlow, DeclarationFlow.review, declaration.process_id)
    url = _url("/declarations/declaration/", task)
    _ok(_client(reviewer).post(url, {"action": action, "reason": reason}))


def _declared(member: Member, rule: Any, points: int | None = None) -> Declaration:
    _ok(_declare(member, rule, points=points))
    return Declaration.objects.filter(member=member).latest("pk")


def _published(org: Org, scope: Any, committee2: Member) -> Summary:
    hr = _client(org.hr)
    _ok(hr.post(SUMMARY_START, {"scope": scope.pk, "on": "2026-11-20"}))
    summary = Summary.objects.latest("pk")
    prepare = _task(SummaryFlow, SummaryFlow.prepare, summary.process_id)
    _ok(hr.post(_url("/publicity/summary/", prepare), {"submit": "1"}))
    _ok(_sign(org.committee, summary))
    _ok(_sign(committee2, summary))
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.PUBLICITY
    return summary


def _appealed(appellant: Member, item: Any, evidence: bool = False) -> Appeal:
    data: dict[str, Any] = {"item": item.pk, "reason": "并未被采纳"}
    if evidence:
        data["evidence"] = _photo()
    _ok(_client(appellant).post("/publicity/appeal/start/", data))
    return Appeal.objects.latest("pk")


def _reexamined(org: Org, appeal: Appeal) -> None:
    task = _task(AppealFlow, AppealFlow.reexamine, appeal.process_id)
    _ok(_client(org.hr).post(_url("/publicity/appeal/", task), {"findings": "经核查"}))


def _ruled(member: Member, appeal: Appeal) -> None:
    task = _task(AppealFlow, AppealFlow.rule, appeal.process_id)
    client = _client(member)
    _ok(client.post(_url("/publicity/appeal/", task, "assign")))
    data = {"ruling": "amend", "points": 20, "reason": "委员会裁定"}
    _ok(client.post(_url("/publicity/appeal/", task), data))


def _redemption_decided(hr: Member, redemption: Redemption, decision: str) -> None:
    task = _task(RedemptionFlow, RedemptionFlow.approve, redemption.process_id)
    client = _client(hr)
    _ok(client.post(_url("/shop/redemption/", task, "assign")))
    _ok(client.post(_url("/shop/redemption/", task), {"decision": decision, "reason": "缺货"}))


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "JPEG")
    return out.getvalue()


def _task_ids(world: World, key: str, flow: Any, process_id: int) -> None:
    """``<key>_proc`` and ``<key>_<node>`` for every task the process has."""
    world.ids[f"{key}_proc"] = process_id
    for task in flow.task_class.objects.filter(process_id=process_id).order_by("pk"):
        world.ids[f"{key}_{task.flow_task.name}"] = task.pk


def build_world() -> World:
    org, other = Org("acme"), Org("other")
    world = World(org=org, other=other)
    committee2 = org.member(org.company, "acme-committee2", role=Role.COMMITTEE)
    world.extra["committee2"] = committee2
    world.extra["hr2"] = org.member(org.company, "acme-hr2", role=Role.HR)
    ids = world.ids
    idea = RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
    )
    praise = RuleItemFactory(
        organisation=org.organisation,
        name="顾客表扬",
        kind="award",
        points_min=50,
        points_max=50,
        evidence_required=True,
    )
    late = RuleItemFactory(
        organisation=org.organisation,
        code="ATD-002",
        name="迟到",
        category="attendance",
        kind="deduction",
        points_min=5,
        points_max=5,
    )
    ids |= {"idea": idea.pk, "other_unit": other.dept_a.pk, "dept_b": org.dept_b.pk}
    for name in ("worker_a1", "worker_b", "leader_a1", "hr"):
        ids[name] = world.member(name).pk
    ids["other_worker_a1"] = other.worker_a1.pk

    # A prize won in October (a closed month).
    table = PrizeTable.objects.create(organisation=org.organisation, name="月度排名奖")
    PrizeTier.objects.create(table=table, prize="100元", amount=Decimal(100), place=1)
    ledger_post(
        organisation=org.organisation,
        item=PostingItem(
            member_id=org.worker_a1.pk,
            amount=50,
            idempotency_key="sweep:october",
            effective_date=date(2026, 10, 10),
        ),
        today=date(2026, 11, 20),
    )
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    ids["prize"] = PrizeAward.objects.get().pk

    # Batch 1 (the company): published, appealed, ruled, posted after its window.
    for member, leader, points in (
        (org.worker_a1, org.leader_a1, 30),
        (org.worker_b, org.leader_b, 40),
    ):
        declaration = _declared(member, idea, points)
        _review(leader, declaration, "approve")
    approved = Declaration.objects.filter(member=org.worker_a1).latest("pk")
    _task_ids(world, "dapproved", DeclarationFlow, approved.process_id)
    posted = _published(org, org.company, committee2)
    appeal = _appealed(org.worker_b, posted.items.get(member=org.worker_a1), evidence=True)
    _reexamined(org, appeal)
    _ruled(org.committee, appeal)
    _close_after_window(posted)
    ids["s_posted"] = posted.pk
    _task_ids(world, "sposted", SummaryFlow, posted.process_id)
    ids["a_ruled"] = appeal.pk
    _task_ids(world, "aruled", AppealFlow, appeal.process_id)
    ids["appeal_evidence"] = Evidence.objects.get(appeal=appeal).pk
    ids["entry_a1"] = (
        LedgerEntry.objects.filter(member=org.worker_a1, kind=EntryKind.DAILY).latest("pk").pk
    )
    ids["entry_b"] = (
        LedgerEntry.objects.filter(member=org.worker_b, kind=EntryKind.DAILY).latest("pk").pk
    )

    # Batch 2 (department A only): in its window; one appeal waits for the committee's
    # ruling, another for HR's re-examination.
    for member, leader, points in (
        (org.worker_a1, org.leader_a1, 25),
        (org.leader_a1, org.leader_a, 20),
    ):
        _review(leader, _declared(member, idea, points), "approve")
    open_batch = _published(org, org.dept_a, committee2)
    ids["s_open"] = open_batch.pk
    _task_ids(world, "sopen", SummaryFlow, open_batch.process_id)
    item_a1 = open_batch.items.get(member=org.worker_a1)
    item_leader = open_batch.items.get(member=org.leader_a1)
    ruling = _appealed(org.leader_a1, item_a1)
    _reexamined(org, ruling)
    ids["a_ruling"] = ruling.pk
    _task_ids(world, "aruling", AppealFlow, ruling.process_id)
    waiting = _appealed(org.worker_a1, item_leader)
    ids["a_waiting"] = waiting.pk
    _task_ids(world, "awaiting", AppealFlow, waiting.process_id)
    ids["s_open_item"] = item_a1.pk
    # A draft (being prepared by HR) of department B.
    worker_b_pending = _declared(org.worker_b, idea, 12)
    _review(org.leader_b, worker_b_pending, "approve")
    _ok(_client(org.hr).post(SUMMARY_START, {"scope": org.dept_b.pk, "on": "2026-11-20"}))
    draft = Summary.objects.latest("pk")
    ids["s_draft"] = draft.pk
    _task_ids(world, "sdraft", SummaryFlow, draft.process_id)

    # Declarations: returned (revise waits for the declarant), under review (with
    # evidence), and one whose review task was handed to the declarant themselves.
    returned = _declared(org.worker_a1, idea, 15)
    _review(org.leader_a1, returned, "return", "请补充说明")
    ids["d_returned"] = returned.pk
    _task_ids(world, "dreturned", DeclarationFlow, returned.process_id)
    review = _declared(org.worker_a1, praise)
    ids["d_review"] = review.pk
    _task_ids(world, "dreview", DeclarationFlow, review.process_id)
    ids["evidence"] = Evidence.objects.get(item__declaration=review).pk
    own = _declared(org.worker_b, idea, 10)
    own_task = _task(DeclarationFlow, DeclarationFlow.review, own.process_id)
    Task.objects.filter(pk=own_task.pk).update(owner=org.worker_b.user)
    Declaration.objects.filter(pk=own.pk).update(reviewer=org.worker_b.user)
    ids["d_own"] = own.pk
    for key in ("d_review", "d_own", "d_returned"):
        ids[f"{key}_item"] = Declaration.objects.get(pk=ids[key]).items.get().pk
    _task_ids(world, "down", DeclarationFlow, own.process_id)

    # Award notices: one within the issuer's tier (ended), one above it (to be signed).
    _ok(_issue(org.leader_a1, [org.worker_a1], late, quantity=1))
    ended = AwardNotice.objects.latest("pk")
    ids["n_ended"] = ended.pk
    _task_ids(world, "nended", AwardNoticeFlow, ended.process_id)
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=20
    )
    org.team_a1.save()
    _ok(_issue(org.leader_a1, [org.worker_a1], late, quantity=10))
    signing = AwardNotice.objects.latest("pk")
    assert signing.signer == org.leader_a.user
    ids["n_signing"] = signing.pk
    _task_ids(world, "nsigning", AwardNoticeFlow, signing.process_id)

    # The shop: a reward with a picture; redemptions waiting for approval, approved
    # (waiting to be fulfilled) and rejected (ended).
    cup = Reward.objects.create(
        organisation=org.organisation,
        name="保温杯",
        kind="gift",
        points_cost=100,
        stock=10,
        picture_type="image/jpeg",
    )
    cup.picture.save("cup.jpg", ContentFile(_jpeg()), save=True)
    ids["reward"] = cup.pk
    start = "/shop/redemption/start/"
    for key, member in (
        ("r_new", org.worker_a1),
        ("r_approved", org.worker_b),
        ("r_rejected", org.leader_a1),
    ):
        _ok(_client(member).post(start, {"reward": cup.pk}))
        redemption = Redemption.objects.latest("pk")
        ids[key] = redemption.pk
        if key == "r_approved":
            _redemption_decided(org.hr, redemption, "approve")
        if key == "r_rejected":
            _redemption_decided(org.hr, redemption, "reject")
        _task_ids(world, key.replace("_", ""), RedemptionFlow, redemption.process_id)

    # An import job, previewed and ready to confirm.
    _upload(_client(org.hr), _csv([[org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]]))
    ids["import"] = ImportJob.objects.latest("pk").pk
    _admin_objects(world)
    return world


def _admin_objects(world: World) -> None:
    """A superuser, and one object of every model the admin shows, as ``admin_<app>_<model>``."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.auth.models import Group, User
    from django.utils import timezone
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from rest_framework.authtoken.models import Token

    from points.models import Account, Attendance, AuditEvent, FixedPointRule, Period, RuleItem

    org, ids = world.org, world.ids
    root = User.objects.create_superuser("sweep-root", "root@example.com", "x")
    world.users["root"] = root
    interval = IntervalSchedule.objects.create(every=1, period="days")
    access = {"user_agent": "sweep", "ip_address": "127.0.0.1", "http_accept": "*/*"}
    objects: dict[str, Any] = {
        "auth/group": Group.objects.get(name=Role.HR),
        "auth/user": org.worker_a1.user,
        "authtoken/tokenproxy": Token.objects.get_or_create(user=org.worker_a1.user)[0],
        "django_celery_beat/periodictask": PeriodicTask.objects.create(
            name="sweep", task="sweep", interval=interval
        ),
        "django_celery_beat/clockedschedule": ClockedSchedule.objects.create(
            clocked_time=timezone.now()
        ),
        "django_celery_beat/crontabschedule": CrontabSchedule.objects.create(),
        "django_celery_beat/solarschedule": SolarSchedule.objects.create(
            event="sunrise", latitude=Decimal(30), longitude=Decimal(120)
        ),
        "django_celery_beat/intervalschedule": interval,
        "axes/accessattempt": AccessAttempt.objects.create(
            username="x", get_data="", post_data="", failures_since_start=1, **access
        ),
        "axes/accesslog": AccessLog.objects.create(username="x", **access),
        "axes/accessfailurelog": AccessFailureLog.objects.create(username="x", **access),
        "viewflow/process": Declaration.objects.get(pk=ids["d_review"]).process,
        "viewflow/task": Task.objects.get(pk=ids["dreview_review"]),
        "points/organisation": org.organisation,
        "points/policy": org.organisation.policy,
        "points/authoritytier": org.team_a1.authority_tier,
        "points/orgunit": org.dept_a,
        "points/member": org.worker_a1,
        "points/ruleitem": RuleItem.objects.get(pk=ids["idea"]),
        "points/ledgerentry": LedgerEntry.objects.get(pk=ids["entry_a1"]),
        "points/account": Account.objects.get(member=org.worker_a1),
        "points/period": Period.objects.filter(organisation=org.organisation).first(),
        "points/auditevent": AuditEvent.objects.filter(organisation=org.organisation).first(),
        "points/fixedpointrule": FixedPointRule.objects.create(
            organisation=org.organisation, factor="education", value="bachelor", points=10
        ),
        "points/attendance": Attendance.objects.create(
            member=org.worker_a1, month=date(2026, 10, 1), days_present=20, days_required=22
        ),
        "points/reward": Reward.objects.get(pk=ids["reward"]),
        "points/prizetable": PrizeTable.objects.get(organisation=org.organisation),
        "points/prizeaward": PrizeAward.objects.get(pk=ids["prize"]),
    }
    for key, obj in objects.items():
        assert obj is not None and obj.pk is not None, key
        ids[f"admin_{key.replace('/', '_')}"] = obj.pk
    ids["admin_authtoken_tokenproxy"] = org.worker_a1.user.pk  # TokenProxy's pk is its user's
    # A version of that rule in its history (ids come from a sequence: not 1 on PostgreSQL).
    rule = objects["points/ruleitem"]
    ids["admin_points_ruleitem_version"] = rule.history.latest("history_id").history_id
