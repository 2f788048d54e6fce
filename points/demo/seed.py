"""A believable demo: a machine factory of about 200 people, and a small village.

Idempotent: every row is found by its natural key and only created when missing, so a
second run changes nothing. Rule items come from ``catalog_data`` (the domain documents).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from points.demo.catalog_data import FIXED_POINT_TABLE, RULES, RuleSpec
from points.models import (
    AuthorityTier,
    Education,
    FixedPointRule,
    Member,
    MemberKind,
    Organisation,
    OrgUnit,
    RuleItem,
)
from points.models.org import OrgUnitKind
from points.roles import Role
from points.services.org import organisation_create, role_grant

DEMO_PASSWORD = "jifen-demo-2026"  # noqa: S105 - printed for the demo logins on purpose

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强海燕红梅文斌晓东春燕国庆玉兰海波丽娟永刚志明金凤宏伟淑珍"  # noqa: E501

FACTORY_TIERS = [
    (1, "班组长", 20),
    (2, "部门经理", 50),
    (3, "车间主任/副总经理", 200),
    (4, "总经理", None),
]

# (code, name, kind, parent code, tier level, number of members besides the leader)
FACTORY_UNITS: list[tuple[str, str, str, str | None, int, int]] = [
    ("gm", "总经理室", OrgUnitKind.COMPANY, None, 4, 2),
    ("ws1", "装配车间", OrgUnitKind.WORKSHOP, "gm", 3, 3),
    ("ws1-a", "装配甲班", OrgUnitKind.TEAM, "ws1", 1, 26),
    ("ws1-b", "装配乙班", OrgUnitKind.TEAM, "ws1", 1, 26),
    ("ws2", "机加工车间", OrgUnitKind.WORKSHOP, "gm", 3, 3),
    ("ws2-a", "机加甲班", OrgUnitKind.TEAM, "ws2", 1, 24),
    ("ws2-b", "机加乙班", OrgUnitKind.TEAM, "ws2", 1, 24),
    ("qc", "质检部", OrgUnitKind.DEPARTMENT, "gm", 2, 14),
    ("eq", "设备部", OrgUnitKind.DEPARTMENT, "gm", 2, 14),
    ("wh", "仓储物流部", OrgUnitKind.DEPARTMENT, "gm", 2, 14),
    ("hr", "人力资源部", OrgUnitKind.DEPARTMENT, "gm", 2, 8),
    ("fin", "财务部", OrgUnitKind.DEPARTMENT, "gm", 2, 8),
    ("sales", "销售部", OrgUnitKind.DEPARTMENT, "gm", 2, 12),
]

VILLAGE_UNITS: list[tuple[str, str, str, str | None, int, int]] = [
    ("village", "示范村村委会", OrgUnitKind.VILLAGE, None, 2, 2),
    ("g1", "第一村民小组", OrgUnitKind.GROUP, "village", 1, 8),
    ("g2", "第二村民小组", OrgUnitKind.GROUP, "village", 1, 8),
]

POSITIONS_BY_KIND = {
    OrgUnitKind.TEAM: ["装配工", "钳工", "车工", "铣工", "焊工", "操作工"],
    OrgUnitKind.WORKSHOP: ["计划员", "统计员", "工艺员"],
    OrgUnitKind.DEPARTMENT: ["专员", "主管", "工程师", "文员"],
    OrgUnitKind.COMPANY: ["总经理助理", "秘书"],
}
TITLES = ["", "", "初级职称", "中级职称", "高级职称"]
SKILLS = ["", "初级工", "中级工", "高级工", "技师", "高级技师"]

#: The demo logins, one per role (username, role, description).
DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("member", Role.MEMBER, "装配甲班 员工"),
    ("leader", Role.LEADER, "装配甲班 班组长"),
    ("recorder", Role.RECORDER, "装配车间 记录员"),
    ("hr1", Role.HR, "人力资源部"),
    ("hr2", Role.HR, "人力资源部"),
    ("committee1", Role.COMMITTEE, "考核管理委员会"),
    ("committee2", Role.COMMITTEE, "考核管理委员会"),
    ("committee3", Role.COMMITTEE, "考核管理委员会"),
    ("admin", Role.ADMIN, "系统管理员"),
]


@dataclass
class SeedResult:
    created: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, created: bool) -> None:
        if created:
            self.created[what] = self.created.get(what, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created)


class _Seeder:
    def __init__(self) -> None:
        self.result = SeedResult()
        self.rng = random.Random(20261122)  # noqa: S311 - demo data, not security
        self.password_hash = make_password(DEMO_PASSWORD)
        self.user_model = get_user_model()

    def user(self, username: str, full_name: str) -> Any:
        user, created = self.user_model.objects.get_or_create(
            username=username,
            defaults={"first_name": full_name, "password": self.password_hash},
        )
        self.result.count("users", created)
        return user

    def organisation(self, code: str, name: str, **policy: Any) -> Organisation:
        organisation = Organisation.objects.filter(code=code).first()
        if organisation is None:
            organisation = organisation_create(code=code, name=name, **policy)
            self.result.count("organisations", True)
        return organisation

    def tiers(self, organisation: Organisation, tiers: list[tuple[int, str, int | None]]) -> None:
        for level, name, max_points in tiers:
            _, created = AuthorityTier.objects.get_or_create(
                organisation=organisation,
                level=level,
                defaults={"name": name, "max_points": max_points},
            )
            self.result.count("authority tiers", created)

    def units(
        self, organisation: Organisation, specs: list[tuple[str, str, str, str | None, int, int]]
    ) -> dict[str, OrgUnit]:
        units: dict[str, OrgUnit] = {}
        for code, name, kind, parent_code, tier_level, _size in specs:
            unit = OrgUnit.objects.filter(organisation=organisation, code=code).first()
            if unit is None:
                unit = OrgUnit.objects.create(
                    organisation=organisation,
                    code=code,
                    name=name,
                    kind=kind,
                    parent=units[parent_code] if parent_code else None,
                    authority_tier=AuthorityTier.objects.get(
                        organisation=organisation, level=tier_level
                    ),
                )
                self.result.count("org units", True)
            units[code] = unit
        return units

    def name(self) -> str:
        surname = self.rng.choice(SURNAMES)
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))
        return surname + given

    def member(
        self,
        organisation: Organisation,
        unit: OrgUnit,
        employee_no: str,
        *,
        username: str | None = None,
        kind: str = MemberKind.PERSON,
        name: str | None = None,
        position: str | None = None,
    ) -> Member:
        # Draw the random attributes even when the member exists, so that every run makes
        # the same choices for every later member.
        drawn_name = self.name()
        positions = POSITIONS_BY_KIND.get(unit.kind, ["村民"])  # type: ignore[call-overload]
        attributes = {
            "name": name or drawn_name,
            "kind": kind,
            "unit": unit,
            "position": position or self.rng.choice(positions),
            "education": self.rng.choice([e for e in Education.values if e]),
            "title": self.rng.choice(TITLES),
            "skill_level": self.rng.choice(SKILLS),
            "hire_date": date(2026, 1, 1) - timedelta(days=self.rng.randrange(30, 365 * 25)),
        }
        member = Member.objects.filter(organisation=organisation, employee_no=employee_no).first()
        if member is None:
            user = self.user(username or employee_no.lower(), str(attributes["name"]))
            member = Member.objects.create(
                organisation=organisation, employee_no=employee_no, user=user, **attributes
            )
            self.result.count("members", True)
        return member

    def set_leader(self, unit: OrgUnit, member: Member) -> None:
        if unit.leader_id is None:
            unit.leader = member
            unit.save()

    def rules(self, organisation: Organisation, specs: list[RuleSpec]) -> None:
        for spec in specs:
            fields = {k: v for k, v in spec.items() if k not in {"code", "source"}}
            fields["leader_coaward_ratio"] = Decimal(spec["leader_coaward_ratio"])
            fields["description"] = f"来源：{spec['source']}"
            _, created = RuleItem.objects.get_or_create(
                organisation=organisation, code=spec["code"], defaults=fields
            )
            self.result.count("rule items", created)

    def fixed_table(self, organisation: Organisation) -> None:
        """The demo fixed point table (values from catalog_data; education mapped to the
        member field's codes, the unit heads' position "负责人" paid as a team leader)."""
        education = {
            "研究生": "postgraduate",
            "本科": "bachelor",
            "大专": "college",
            "中专/高中": "senior",
            "初中及以下": "junior",
        }
        rows = [("education", education[k], v) for k, v in FIXED_POINT_TABLE["education"].items()]
        rows += [("title", k, v) for k, v in FIXED_POINT_TABLE["title"].items() if v]
        rows += [("skill", k, v) for k, v in FIXED_POINT_TABLE["skill"].items()]
        rows += [("position", "负责人", FIXED_POINT_TABLE["position"]["组长"])]
        rows += [("seniority", "", FIXED_POINT_TABLE["seniority_per_year"]["points"])]
        for factor, value, points in rows:
            if not value and factor != "seniority":
                continue
            _, created = FixedPointRule.objects.get_or_create(
                organisation=organisation,
                factor=factor,
                value=value,
                defaults={"points": points},
            )
            self.result.count("fixed point rules", created)

    def grant(self, username: str, role: str) -> None:
        user = self.user_model.objects.get(username=username)
        if not user.groups.filter(name=role).exists():
            role_grant(user=user, role=role)
            self.result.count("role grants", True)

    # --- the two demo organisations -------------------------------------------------------

    def factory(self) -> None:
        organisation = self.organisation("demo-factory", "示范机械厂")
        self.tiers(organisation, FACTORY_TIERS)
        units = self.units(organisation, FACTORY_UNITS)
        number = 0
        named = {"ws1-a": ("leader", "member"), "hr": ("hr1", "hr2")}
        for code, _name, _kind, _parent, _tier, size in FACTORY_UNITS:
            unit = units[code]
            number += 1
            leader_username = named.get(code, (None,))[0]
            leader = self.member(
                organisation,
                unit,
                f"E{number:04d}",
                username=leader_username,
                position="负责人",
            )
            self.set_leader(unit, leader)
            for index in range(size):
                number += 1
                username = None
                if code in named and index == 0:
                    username = named[code][1]
                self.member(organisation, unit, f"E{number:04d}", username=username)
        extra = [
            ("recorder", "ws1", "记录员"),
            ("committee1", "gm", "考核管理委员会主任"),
            ("committee2", "qc", "考核管理委员会委员"),
            ("committee3", "fin", "考核管理委员会委员"),
            ("admin", "gm", "系统管理员"),
        ]
        for username, unit_code, position in extra:
            number += 1
            self.member(
                organisation,
                units[unit_code],
                f"E{number:04d}",
                username=username,
                position=position,
            )
        for username, role, _description in DEMO_LOGINS:
            if role not in (Role.MEMBER, Role.LEADER):
                self.grant(username, role)
        self.rules(organisation, [r for r in RULES if not r["source"].startswith("004 village")])
        self.fixed_table(organisation)

    def village(self) -> None:
        organisation = self.organisation(
            "demo-village", "示范村", summary_period="quarter", publicity_window_days=7
        )
        self.tiers(organisation, [(1, "村民小组长", 20), (2, "村两委", None)])
        units = self.units(organisation, VILLAGE_UNITS)
        number = 0
        for code, _name, _kind, _parent, _tier, size in VILLAGE_UNITS:
            number += 1
            leader = self.member(
                organisation,
                units[code],
                f"V{number:04d}",
                username=f"village{number}",
                position="组长" if code != "village" else "村支书",
            )
            self.set_leader(units[code], leader)
            for _index in range(size):
                number += 1
                person = self.member(organisation, units[code], f"V{number:04d}")
                # Each villager is also the accountable person of their household.
                household_no = f"H{number:04d}"
                if not Member.objects.filter(
                    organisation=organisation, employee_no=household_no
                ).exists():
                    Member.objects.create(
                        organisation=organisation,
                        employee_no=household_no,
                        name=f"{person.name}户",
                        kind=MemberKind.HOUSEHOLD,
                        unit=person.unit,
                        user=person.user,
                    )
                    self.result.count("members", True)
        shop = Member.objects.filter(organisation=organisation, employee_no="U0001").first()
        if shop is None:
            owner = Member.objects.get(organisation=organisation, employee_no="V0003")
            Member.objects.create(
                organisation=organisation,
                employee_no="U0001",
                name="示范村便民超市",
                kind=MemberKind.UNIT,
                unit=units["g1"],
                user=owner.user,
            )
            self.result.count("members", True)
        self.rules(organisation, [r for r in RULES if r["source"].startswith("004 village")])


#: Further demo builders, registered by other apps (flows adds declarations at every step);
#: each is given the result to count what it created, and must be idempotent too.
DEMO_EXTENSIONS: list[Callable[[SeedResult], None]] = []


def register_demo(builder: Callable[[SeedResult], None]) -> Callable[[SeedResult], None]:
    if builder not in DEMO_EXTENSIONS:
        DEMO_EXTENSIONS.append(builder)
    return builder


@transaction.atomic
def demo_seed() -> SeedResult:
    seeder = _Seeder()
    seeder.factory()
    seeder.village()
    for builder in DEMO_EXTENSIONS:
        builder(seeder.result)
    return seeder.result
