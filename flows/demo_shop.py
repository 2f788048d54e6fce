"""Demo of the points shop and prize tables, so that members, HR and the "my points" page
find them at every step:

- the factory's shop stocked with rewards from the documents (the factory's cash, goods
  and paid leave, a training place for the two workshops, the school's book voucher, and
  one reward out of stock);
- redemptions through the real flow at each step: waiting for HR's approval (the ``member``
  login's), approved and waiting to be handed over, fulfilled, rejected with a refund, and
  cancelled by the member with a refund;
- prize tables: the laundry company's monthly, quarterly and yearly top five (members) and
  first place (leaders), and the school's reading thresholds per year; last month's
  winners computed, one of them marked paid.

Idempotent: rewards and tables are found by name, the redemptions by the marker in their
notes, and each table's period is awarded once."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from PIL import Image, ImageDraw
from viewflow.workflow.status import STATUS

from flows.flows import RedemptionFlow
from flows.models import Redemption
from flows.redemption import (
    redemption_approve,
    redemption_cancel,
    redemption_fulfil,
    redemption_reject,
    redemption_request,
)
from points.demo.seed import SeedResult
from points.models import (
    Member,
    Organisation,
    OrgUnit,
    PrizeAward,
    PrizeTable,
    PrizeTier,
    Reward,
    RewardKind,
)
from points.periods import month_start, organisation_today
from points.pictures import picture_check
from points.services.prizes import prize_award_mark_paid, prizes_award_period

ORGANISATION = "demo-factory"
MARK = "（演示）"

#: (name, kind, points cost, stock, description, units' codes, picture colour)
REWARDS: list[tuple[str, str, int, int, str, list[str], str]] = [
    ("不锈钢保温杯", RewardKind.GIFT, 150, 40, "实物奖品，人力资源部领取。", [], "#1e88e5"),
    ("超市购物卡（50元）", RewardKind.CASH_VOUCHER, 300, 20, "积分兑换现金券。", [], "#43a047"),
    ("价值50元的图书", RewardKind.GIFT, 200, 15, "读书积分制：兑换图书。", [], "#8e24aa"),
    ("带薪休假半天", RewardKind.PAID_LEAVE, 400, 10, "与班组长商定日期后休假。", [], "#fb8c00"),
    (
        "外部技能培训名额",
        RewardKind.TRAINING_PLACE,
        450,
        3,
        "车间员工优先参加外部技能培训。",
        ["ws1", "ws2"],
        "#e53935",
    ),
    ("电影票两张", RewardKind.GIFT, 120, 0, "本月已兑完，下月补货。", [], "#6d4c41"),
]

#: (who: username or employee number, reward, the steps HR takes, reason)
REDEMPTIONS: list[tuple[str, str, list[str], str]] = [
    ("member", "不锈钢保温杯", [], ""),
    ("E0012", "超市购物卡（50元）", ["approve"], ""),
    ("E0015", "带薪休假半天", ["approve", "fulfil"], ""),
    ("E0020", "外部技能培训名额", ["reject"], "本期名额已安排给设备维修岗位"),
    ("E0021", "价值50元的图书", ["cancel"], "想换成购物卡"),
]

LAUNDRY_MEMBERS = {
    "month": [100, 80, 60, 40, 20],
    "quarter": [200, 180, 160, 140, 120],
    "year": [500, 400, 300, 200, 100],
}
LAUNDRY_LEADERS = {"month": 100, "quarter": 200, "year": 500}
PERIOD_NAMES = {"month": "月度", "quarter": "季度", "year": "年度"}
SCHOOL = [
    (1500, "价值50元的图书", 50),
    (3000, "价值100元的图书", 100),
    (5000, "价值300元的图书", 300),
]


def _picture(colour: str) -> tuple[Any, str]:
    image = Image.new("RGB", (480, 320), "#fafafa")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((60, 40, 420, 280), radius=40, fill=colour)
    draw.ellipse((180, 100, 300, 220), fill="#ffffff")
    out = io.BytesIO()
    image.save(out, "PNG")
    checked = picture_check(data=out.getvalue())
    return checked.content, checked.content_type


def _rewards(organisation: Organisation, result: SeedResult) -> dict[str, Reward]:
    rewards: dict[str, Reward] = {}
    for name, kind, cost, stock, text, unit_codes, colour in REWARDS:
        reward = Reward.objects.filter(organisation=organisation, name=name).first()
        if reward is None:
            content, content_type = _picture(colour)
            reward = Reward(
                organisation=organisation,
                name=name,
                kind=kind,
                points_cost=cost,
                stock=stock,
                description=text,
                picture_type=content_type,
            )
            reward.picture.save(content.name or "picture.png", content, save=False)
            reward.save()
            reward.units.set(OrgUnit.objects.filter(organisation=organisation, code__in=unit_codes))
            result.count("rewards", True)
        rewards[name] = reward
    return rewards


def _member(organisation: Organisation, who: str) -> Member | None:
    members = Member.objects.select_related("unit", "organisation", "user").filter(
        organisation=organisation
    )
    return members.filter(user__username=who).first() or members.filter(employee_no=who).first()


def _request(user: Any, reward: Reward, note: str) -> Redemption:
    """What the request page does: the points are spent and the process starts."""
    activation = RedemptionFlow.start.activation_class.create(RedemptionFlow.start, None, None)
    activation.start(SimpleNamespace(user=user))
    redemption = redemption_request(user=user, reward_id=reward.pk, note=note)
    activation.process.save()
    redemption.process = activation.process
    redemption.save(update_fields=["process"])
    activation.execute()
    return redemption


def _hr_step(redemption: Redemption, hr: Any, step: str, reason: str) -> None:
    """HR claims the open task from the queue and decides, as the task page does."""
    node = RedemptionFlow.approve if redemption.status == "requested" else RedemptionFlow.fulfil
    task = RedemptionFlow.task_class.objects.get(
        process=redemption.process, flow_task=node, status=STATUS.NEW
    )
    activation = task.flow_task.activation_class(task)
    activation.assign(hr)
    activation.start(SimpleNamespace(user=hr))
    if step == "approve":
        redemption_approve(redemption=redemption, user=hr)
    elif step == "fulfil":
        redemption_fulfil(redemption=redemption, user=hr)
    else:
        redemption_reject(redemption=redemption, user=hr, reason=reason + MARK)
    activation.execute()
    redemption.refresh_from_db()


def _redemptions(
    organisation: Organisation, rewards: dict[str, Reward], hr: Any, result: SeedResult
) -> None:
    if Redemption.objects.filter(organisation=organisation, note__endswith=MARK).exists():
        return
    for who, name, steps, reason in REDEMPTIONS:
        member = _member(organisation, who)
        if member is None or member.user is None:
            continue
        redemption = _request(member.user, rewards[name], f"{rewards[name].name}{MARK}")
        result.count("redemptions", True)
        for step in steps:
            if step == "cancel":
                redemption_cancel(redemption=redemption, user=member.user, reason=reason + MARK)
            else:
                _hr_step(redemption, hr, step, reason)


def _table(
    organisation: Organisation,
    name: str,
    *,
    period_kind: str,
    group: str,
    basis: str,
    tiers: list[tuple[int, str, int]],
    result: SeedResult,
) -> PrizeTable:
    table, created = PrizeTable.objects.get_or_create(
        organisation=organisation,
        name=name,
        defaults={"period_kind": period_kind, "group": group, "basis": basis},
    )
    if created:
        key = "min_points" if basis == "threshold" else "place"
        PrizeTier.objects.bulk_create(
            PrizeTier(table=table, prize=prize, amount=Decimal(amount), **{key: value})
            for value, prize, amount in tiers
        )
        result.count("prize tables", True)
    return table


def _prize_tables(organisation: Organisation, result: SeedResult) -> list[PrizeTable]:
    monthly: list[PrizeTable] = []
    for kind, amounts in LAUNDRY_MEMBERS.items():
        label = PERIOD_NAMES[kind]
        members = _table(
            organisation,
            f"{label}积分排名奖（员工组）",
            period_kind=kind,
            group="members",
            basis="rank",
            tiers=[(place, f"{amount}元", amount) for place, amount in enumerate(amounts, 1)],
            result=result,
        )
        leaders = _table(
            organisation,
            f"{label}积分排名奖（组长组）",
            period_kind=kind,
            group="leaders",
            basis="rank",
            tiers=[(1, f"{LAUNDRY_LEADERS[kind]}元", LAUNDRY_LEADERS[kind])],
            result=result,
        )
        if kind == "month":
            monthly = [members, leaders]
    _table(
        organisation,
        "年度读书积分奖",
        period_kind="year",
        group="all",
        basis="threshold",
        tiers=SCHOOL,
        result=result,
    )
    return monthly


def seed_shop(result: SeedResult) -> None:
    organisation = Organisation.objects.filter(code=ORGANISATION).first()
    hr = get_user_model().objects.filter(username="hr1").first()
    if organisation is None or hr is None:
        return
    rewards = _rewards(organisation, result)
    _redemptions(organisation, rewards, hr, result)
    monthly = _prize_tables(organisation, result)
    last_month = month_start(month_start(organisation_today(organisation)) - timedelta(days=1))
    for table in monthly:
        had = PrizeAward.objects.filter(table=table, period_start=last_month).exists()
        awards = prizes_award_period(table=table, start=last_month, actor=hr)
        result.count("prizes won", bool(awards) and not had)
    first = (
        PrizeAward.objects.filter(table__in=monthly, period_start=last_month)
        .order_by("place", "pk")
        .first()
    )
    if first is not None and not PrizeAward.objects.filter(table__in=monthly, paid=True).exists():
        prize_award_mark_paid(award=first, user=hr)
