"""factory_boy factories for the points domain."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from points.models import AuthorityTier, Member, Organisation, OrgUnit, RuleItem

TEST_PASSWORD = "test-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            obj.save()


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"org{n}")
    name = factory.Sequence(lambda n: f"组织{n}")


class AuthorityTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuthorityTier

    organisation = factory.SubFactory(OrganisationFactory)
    level = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"层级{n}")
    max_points = 20


class OrgUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgUnit

    organisation = factory.SubFactory(OrganisationFactory)
    code = factory.Sequence(lambda n: f"unit{n}")
    name = factory.Sequence(lambda n: f"部门{n}")
    parent = None


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    unit = factory.SubFactory(OrgUnitFactory)
    organisation = factory.SelfAttribute("unit.organisation")
    user = factory.SubFactory(UserFactory)
    employee_no = factory.Sequence(lambda n: f"E{n:05d}")
    name = factory.Sequence(lambda n: f"员工{n}")


class RuleItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RuleItem

    organisation = factory.SubFactory(OrganisationFactory)
    code = factory.Sequence(lambda n: f"R{n:03d}")
    name = factory.Sequence(lambda n: f"规则{n}")
    category = "discipline"
    kind = "deduction"
    points_min = 5
    points_max = 5


def idea_rule(organisation: Organisation) -> RuleItem:
    """合理化建议: an award rule of 10 to 100 points each, for any unit, with no evidence
    needed (the rule the race and phone tests declare)."""
    rule: RuleItem = RuleItemFactory(
        organisation=organisation, name="合理化建议", kind="award", points_min=10, points_max=100
    )
    return rule
