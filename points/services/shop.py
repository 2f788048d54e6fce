"""Writes of the points shop: the reward row is the one that decides a redemption.

Lock order, shared with every service that spends or refunds: the redemption, then the
reward (here), then the accounts and months (``points.services.ledger``). A request locks
the reward first, so concurrent requests for the last items queue on that row and each sees
the stock the previous one left.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from points.models import Reward


def reward_lock(*, reward_id: int) -> Reward | None:
    """The reward, locked (``SELECT … FOR UPDATE``) until the transaction ends."""
    return Reward.objects.select_for_update().filter(pk=reward_id).first()


def reward_stock_take(*, reward: Reward) -> None:
    """Take one item. The update only matches while stock is left (and a check constraint
    stops it going below zero whatever the caller did)."""
    taken = Reward.objects.filter(pk=reward.pk, stock__gte=1).update(
        stock=F("stock") - 1, updated_at=timezone.now()
    )
    if not taken:
        raise ValidationError(_("“%(reward)s” is out of stock.") % {"reward": reward.name})


def reward_stock_return(*, reward: Reward) -> None:
    """Put one item back (a refused or cancelled redemption)."""
    Reward.objects.filter(pk=reward.pk).update(stock=F("stock") + 1, updated_at=timezone.now())
