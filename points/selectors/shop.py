"""Reads of the points shop: what is on offer to whom."""

from __future__ import annotations

from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from points.models import Account, Member, Organisation, Reward


def redeemable_balance(*, member_id: int | None) -> int:
    """The member's redeemable points (0 without an account, or without a member)."""
    if member_id is None:
        return 0
    balance = Account.objects.filter(member_id=member_id).values_list("redeemable", flat=True)
    return balance.first() or 0


def _path_prefixes(path: str) -> list[str]:
    """ "/1/4/9/" → ["/1/", "/1/4/", "/1/4/9/"]: the paths of a unit and its ancestors."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def rewards_on_offer(*, organisation: Organisation, today: date) -> QuerySet[Reward]:
    """Active rewards of the organisation whose offer period contains ``today``."""
    return Reward.objects.filter(organisation=organisation, active=True).filter(
        Q(active_from__isnull=True) | Q(active_from__lte=today),
        Q(active_until__isnull=True) | Q(active_until__gte=today),
    )


def _eligible(member: Member, roles: set[str]) -> Q:
    """Rewards open to the member: no units or one that contains the member's unit (a unit
    includes its sub-units), and no roles or one the member holds."""
    units = Reward.units.through.objects.filter(reward_id=OuterRef("pk"))
    groups = Reward.roles.through.objects.filter(reward_id=OuterRef("pk"))
    in_unit = units.filter(orgunit__path__in=_path_prefixes(member.unit.path))
    in_role = groups.filter(group__name__in=sorted(roles))
    return (~Exists(units) | Exists(in_unit)) & (~Exists(groups) | Exists(in_role))


def rewards_for_member(*, member: Member, roles: set[str], today: date) -> QuerySet[Reward]:
    """Rewards on offer that the member may redeem, cheapest first (out of stock included:
    the shop shows them as such)."""
    return (
        rewards_on_offer(organisation=member.organisation, today=today)
        .filter(_eligible(member, roles))
        .order_by("points_cost", "name", "pk")
    )


def reward_refusal(*, reward: Reward, member: Member, roles: set[str], today: date) -> str | None:
    """Why the member may not redeem the reward now (offer and eligibility; stock and
    balance are decided under lock when redeeming), or None."""
    if reward.organisation_id != member.organisation_id or not reward.is_on_offer(today):
        return _("“%(reward)s” is not on offer.") % {"reward": reward.name}
    if not Reward.objects.filter(pk=reward.pk).filter(_eligible(member, roles)).exists():
        return _("“%(reward)s” is not offered to your unit or role.") % {"reward": reward.name}
    return None
