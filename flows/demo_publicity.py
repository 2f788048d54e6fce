"""Demo of the summary → sign-off → publicity → appeal → posting cycle, so that HR, the
committee and the members find it at every step:

- last month, across the whole factory: summarised by HR, signed off by the committee,
  published, its window closed and posted to the ledger (ledger, rankings and the
  publicity notice exist), and the month closed;
- this month, 设备部: a batch in its publicity window with an appeal at each step (waiting
  for HR's re-examination, waiting for the committee's ruling, ruled: amended);
- this month, 仓储物流部: a summary waiting for the committee, one vote of three cast;
- this month, 销售部: a summary HR (``hr2``) is still preparing.

The items are leaders' award and deduction notices (each within the issuer's tier, so
straight into the pending pool; ``flows.demo`` keeps the demo declarations). Everything
goes through the notice and publicity services and the real flow nodes, as the pages
would. Idempotent: each batch is recognised by the marker in its items'
descriptions, and is built whole or not at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from viewflow.workflow.status import STATUS

from flows.flows import AppealFlow, AwardNoticeFlow, SummaryFlow
from flows.forms import AwardNoticeForm
from flows.models import (
    Appeal,
    NoticeItem,
    NoticeStatus,
    Ruling,
    Summary,
    SummaryItem,
)
from flows.publicity import (
    appeal_lodge,
    appeal_reexamine,
    appeal_rule,
    committee_members,
    publicity_close,
    summary_open,
    summary_sign,
    summary_submit,
)
from flows.services import notice_issue, notice_scope
from points.demo.seed import SeedResult
from points.models import Member, Organisation, OrgUnit, Period, RuleItem
from points.periods import month_start, organisation_today
from points.services.accounts import period_close

ORGANISATION = "demo-factory"

POSTED = "（演示：上月已公示入账）"
PUBLICITY = "（演示：公示中）"
SIGNOFF = "（演示：待委员会签发）"
DRAFT = "（演示：人力资源部汇总中）"

#: Leaders' award and deduction notices (奖扣分通知单), each within the issuer's tier so it
#: goes straight to the pending pool: (issuer username or employee number, members'
#: employee numbers, rule code, points or None for fixed, day, text). For last month
#: ``day`` is the day of the month; for this month, days before today.
Spec = tuple[str, list[str], str, int | None, int, str]

LAST_MONTH: list[Spec] = [
    ("leader", ["E0009", "E0012"], "PERF-001", None, 6, "班前会记录完整，签到清楚" + POSTED),
    ("leader", ["E0015"], "QLT-002", None, 9, "分拣认真，全月不串货" + POSTED),
    ("leader", ["E0020"], "ATD-002", None, 13, "周三早会迟到十分钟" + POSTED),
    ("E0035", ["E0045"], "TRN-001", None, 12, "班组会上分享装配经验" + POSTED),
    ("E0066", ["E0075"], "SAF-001", None, 14, "按时完成机床维修保养记录" + POSTED),
    ("E0091", ["E0095"], "PERF-008", None, 15, "月度产量统计准确无误" + POSTED),
    ("E0116", ["E0120"], "QLT-006", None, 16, "复检仔细，拦截两件不合格品" + POSTED),
    ("E0131", ["E0135"], "PERF-007", None, 20, "备齐常用配件，维修不等料" + POSTED),
    ("E0146", ["E0150"], "PERF-009", None, 21, "出入库报表按时上报" + POSTED),
    ("E0179", ["E0185"], "SVC-001", None, 22, "客户来函表扬售后服务及时" + POSTED),
    ("E0170", ["E0175"], "PERF-006", None, 23, "凭证台账各项记录清楚" + POSTED),
    ("E0062", ["E0080"], "SUG-001", 40, 27, "提出改进夹具的合理化建议，被车间采用" + POSTED),
]

THIS_MONTH_PUBLICITY: list[Spec] = [
    ("E0131", ["E0133"], "SAF-001", None, 1, "完成空压机月度保养并记录" + PUBLICITY),
    ("E0131", ["E0136"], "PERF-007", None, 2, "为抢修备齐轴承和密封件" + PUBLICITY),
    ("E0131", ["E0138"], "SUG-001", 40, 3, "建议改进润滑周期，减少停机" + PUBLICITY),
    ("E0131", ["E0140"], "TRN-001", None, 4, "班前会分享设备点检要点" + PUBLICITY),
    ("E0131", ["E0142"], "PERF-009", None, 5, "设备运行报表及时提交" + PUBLICITY),
]
#: (appellant employee number, the appealed item's text, reason, HR findings or None,
#: the ruling as (ruling, points, reason) or None)
APPEALS: list[tuple[str, str, str, str | None, tuple[str, int | None, str] | None]] = [
    (
        "E0139",
        THIS_MONTH_PUBLICITY[0][5],
        "保养记录上没有设备主管签字，是否应当加分？（演示：申诉待复核）",
        None,
        None,
    ),
    (
        "E0141",
        THIS_MONTH_PUBLICITY[1][5],
        "配件是仓库统一备的，不应记在个人名下。（演示：申诉待裁定）",
        "经核查，配件由本人申领并分类整理，抢修记录属实。（演示）",
        None,
    ),
    (
        "E0144",
        THIS_MONTH_PUBLICITY[2][5],
        "建议只在一条产线试行，加分偏高。（演示：申诉已裁定）",
        "经核查，建议目前只在一号线采用。（演示）",
        (Ruling.AMEND, 20, "按部分采用改为20分。（演示）"),
    ),
]

THIS_MONTH_SIGNOFF: list[Spec] = [
    ("E0146", ["E0148"], "PERF-009", None, 1, "库存日报按时上报" + SIGNOFF),
    ("E0146", ["E0152"], "QLT-002", None, 2, "发货分拣准确，不串货" + SIGNOFF),
    ("E0146", ["E0155"], "HYG-005", None, 3, "仓库物品摆放合格" + SIGNOFF),
]

THIS_MONTH_DRAFT: list[Spec] = [
    ("E0179", ["E0182"], "PERF-008", None, 1, "销售台账统计准确" + DRAFT),
    ("E0179", ["E0188"], "ATT-001", None, 2, "推荐朋友来厂面试" + DRAFT),
]


def _user(username: str) -> Any:
    return get_user_model().objects.filter(username=username).first()


def _member(organisation: Organisation, who: str) -> Member | None:
    members = Member.objects.select_related("unit", "organisation", "user").filter(
        organisation=organisation
    )
    return members.filter(user__username=who).first() or members.filter(employee_no=who).first()


def _done(marker: str) -> bool:
    return NoticeItem.objects.filter(
        notice__organisation__code=ORGANISATION, description__endswith=marker
    ).exists()


# --- notices, approved into the pending pool -----------------------------------------------


def _notices(
    organisation: Organisation, specs: list[Spec], day: Callable[[int], date], result: SeedResult
) -> int:
    """Issue the notices as the notice page does; returns how many went to the pool."""
    pooled = 0
    for who, numbers, code, points, when, text in specs:
        issuer = _member(organisation, who)
        rule = RuleItem.objects.filter(organisation=organisation, code=code).first()
        if issuer is None or rule is None or issuer.user is None:
            continue
        scope = notice_scope(user=issuer.user)
        form = AwardNoticeForm(
            data={
                "members": list(scope.filter(employee_no__in=numbers).values_list("pk", flat=True)),
                "rule_item": rule.pk,
                "quantity": 1,
                "points": points or "",
                "event_date": day(when).isoformat(),
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
        notice = notice_issue(user=issuer.user, form=form)
        notice.process = activation.process
        notice.save(update_fields=["process"])
        activation.execute()
        result.count("award notices", True)
        pooled += notice.status == NoticeStatus.APPROVED
    return pooled


# --- summary, sign-off, publicity ----------------------------------------------------------


def _summary_open(hr: Any, scope: OrgUnit, on: date) -> Summary:
    """What the summary start page does: HR opens the summary and the process starts."""
    activation = SummaryFlow.start.activation_class.create(SummaryFlow.start, None, None)
    activation.start(SimpleNamespace(user=hr))
    summary = summary_open(user=hr, scope=scope, on=on)
    activation.process.save()
    summary.process = activation.process
    summary.save(update_fields=["process"])
    activation.execute()
    return summary


def _summary_submit(summary: Summary) -> None:
    """HR completes the prepare task: the summary goes to the committee."""
    task = SummaryFlow.task_class.objects.get(
        process=summary.process,
        flow_task=SummaryFlow.prepare,
        owner=summary.created_by,
        status=STATUS.ASSIGNED,
    )
    activation = task.flow_task.activation_class(task)
    activation.start(SimpleNamespace(user=summary.created_by))
    summary_submit(summary=summary, user=summary.created_by)
    activation.execute()


def _publish(summary: Summary, committee: list[Any]) -> None:
    """Committee members sign off until the policy's rule decides (the flow moves on)."""
    for user in committee:
        if summary_sign(summary=summary, user=user, approve=True) is not None:
            break
    summary.refresh_from_db()


def _close_window(summary: Summary) -> None:
    """The demo's past batch was published a week and a day ago, so its window has ended:
    its dates (and the window timer's) are set back, then the due timer fires as the beat
    job would, and the window's Function node posts the batch."""
    from django.utils import timezone
    from viewflow.workflow.timers import fire_due_timers

    ended = timezone.now() - timedelta(days=1)
    window = timedelta(days=summary.organisation.policy.publicity_window_days)
    Summary.objects.filter(pk=summary.pk).update(published_at=ended - window, window_ends_at=ended)
    SummaryFlow.task_class.objects.filter(
        process=summary.process, flow_task=SummaryFlow.publicity, status=STATUS.SCHEDULED
    ).update(scheduled=ended)
    fire_due_timers()
    summary.refresh_from_db()
    if summary.status != "posted":  # the timer could not run: post directly (idempotent)
        publicity_close(summary=summary)


# --- appeals -------------------------------------------------------------------------------


def _appeal_lodge(appellant: Member, item: SummaryItem, reason: str) -> Appeal:
    """What the appeal page does: the appeal is lodged and the process starts."""
    activation = AppealFlow.start.activation_class.create(AppealFlow.start, None, None)
    activation.start(SimpleNamespace(user=appellant.user))
    appeal = appeal_lodge(user=appellant.user, item=item, reason=reason)
    activation.process.save()
    appeal.process = activation.process
    appeal.save(update_fields=["process"])
    activation.execute()
    return appeal


def _appeal_reexamine(appeal: Appeal, findings: str) -> None:
    hr = appeal.item.summary.created_by
    task = AppealFlow.task_class.objects.get(
        process=appeal.process, flow_task=AppealFlow.reexamine, owner=hr, status=STATUS.ASSIGNED
    )
    activation = task.flow_task.activation_class(task)
    activation.start(SimpleNamespace(user=hr))
    appeal_reexamine(appeal=appeal, user=hr, findings=findings)
    activation.execute()


def _appeal_rule(appeal: Appeal, user: Any, ruling: str, points: int | None, reason: str) -> None:
    """A committee member takes the ruling task from the committee's queue and rules."""
    task = AppealFlow.task_class.objects.get(
        process=appeal.process, flow_task=AppealFlow.rule, status=STATUS.NEW
    )
    activation = task.flow_task.activation_class(task)
    activation.assign(user)
    activation.start(SimpleNamespace(user=user))
    appeal_rule(appeal=appeal, user=user, ruling=ruling, reason=reason, points=points)
    activation.execute()


# --- the batches ---------------------------------------------------------------------------


def _unit(organisation: Organisation, code: str) -> OrgUnit | None:
    return OrgUnit.objects.filter(organisation=organisation, code=code).first()


def _last_month(
    organisation: Organisation, hr: Any, committee: list[Any], result: SeedResult
) -> None:
    today = organisation_today(organisation)
    month = month_start(month_start(today) - timedelta(days=1))
    scope = _unit(organisation, "gm")
    if _done(POSTED) or scope is None:
        return
    if Period.objects.filter(
        organisation=organisation, month=month, closed_at__isnull=False
    ).exists():
        return  # its events can no longer be declared

    def day(number: int) -> date:
        return month.replace(day=number)

    if not _notices(organisation, LAST_MONTH, day, result):
        return
    summary = _summary_open(hr, scope, month)
    result.count("summaries", True)
    _summary_submit(summary)
    _publish(summary, committee)
    _close_window(summary)
    period_close(organisation=organisation, month=month, actor=hr)


def _this_month(
    organisation: Organisation, specs: list[Spec], unit: str, hr: Any, result: SeedResult
) -> Summary | None:
    today = organisation_today(organisation)
    scope = _unit(organisation, unit)
    if scope is None:
        return None

    def day(days_ago: int) -> date:
        return max(today - timedelta(days=days_ago), month_start(today))

    if not _notices(organisation, specs, day, result):
        return None
    summary = _summary_open(hr, scope, today)
    result.count("summaries", True)
    return summary


def _publicity(
    organisation: Organisation, hr: Any, committee: list[Any], result: SeedResult
) -> None:
    if _done(PUBLICITY):
        return
    summary = _this_month(organisation, THIS_MONTH_PUBLICITY, "eq", hr, result)
    if summary is None:
        return
    _summary_submit(summary)
    _publish(summary, committee)
    for who, text, reason, findings, ruling in APPEALS:
        appellant = _member(organisation, who)
        item = summary.items.filter(description=text).first()
        if appellant is None or appellant.user is None or item is None:
            continue
        appeal = _appeal_lodge(appellant, item, reason)
        result.count("appeals", True)
        if findings is None:
            continue
        _appeal_reexamine(appeal, findings)
        if ruling is None:
            continue
        decision, points, why = ruling
        _appeal_rule(appeal, committee[0], decision, points, why)


def seed_publicity(result: SeedResult) -> None:
    organisation = Organisation.objects.filter(code=ORGANISATION).first()
    if organisation is None:
        return
    hr, hr2 = _user("hr1"), _user("hr2")
    committee = [
        m.user for m in committee_members(organisation=organisation).order_by("employee_no")
    ]
    if hr is None or hr2 is None or len(committee) < 2:
        return
    _last_month(organisation, hr, committee, result)
    _publicity(organisation, hr, committee, result)
    if not _done(SIGNOFF):
        summary = _this_month(organisation, THIS_MONTH_SIGNOFF, "wh", hr, result)
        if summary is not None:
            _summary_submit(summary)
            summary_sign(summary=summary, user=committee[0], approve=True)
    if not _done(DRAFT):
        _this_month(organisation, THIS_MONTH_DRAFT, "sales", hr2, result)
