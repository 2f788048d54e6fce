"""Prize tables and the prizes won from them.

A prize table gives prizes for one period kind (month, quarter, year) and group (leaders,
members or everyone), either by rank (the laundry company's monthly top five per group at
100/80/60/40/20 yuan) or by threshold (the school's 1,500 / 3,000 / 5,000 points per term
for book vouchers of rising value). When the period closes the winners are computed from
the ranking (``points.services.prizes``); each prize won is a ``PrizeAward`` row that HR
marks as paid.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .ledger import PeriodKind
from .org import Member, Organisation, OrgUnit

#: The period kinds a prize table may use (closed months, and the quarters and years they
#: complete).
PRIZE_PERIOD_KINDS = (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR)


class PrizeBasis(models.TextChoices):
    RANK = "rank", _("by rank")
    THRESHOLD = "threshold", _("by threshold")


class PrizeGroup(models.TextChoices):
    """Who competes: values match ``points.selectors.ledger.RankGroup``; ``all`` is no
    group."""

    ALL = "all", _("everyone")
    LEADERS = "leaders", _("leaders")
    MEMBERS = "members", _("members (not leaders)")


class PrizeTable(models.Model):
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="prize_tables",
        verbose_name=_("organisation"),
    )
    name = models.CharField(_("name"), max_length=200)
    period_kind = models.CharField(
        _("period"),
        max_length=10,
        choices=[(k.value, k.label) for k in PRIZE_PERIOD_KINDS],
        default=PeriodKind.MONTH,
    )
    group = models.CharField(
        _("group"), max_length=10, choices=PrizeGroup.choices, default=PrizeGroup.ALL
    )
    basis = models.CharField(
        _("basis"), max_length=10, choices=PrizeBasis.choices, default=PrizeBasis.RANK
    )
    unit = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("scope"),
        help_text=_("Empty: the whole organisation. A unit includes its sub-units."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("prize table")
        verbose_name_plural = _("prize tables")
        ordering = ["organisation", "period_kind", "group", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_kind__in=PRIZE_PERIOD_KINDS), name="prizetable_period_kind"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PrizeTier(models.Model):
    """One line of a prize table: a place (by rank) or a minimum total (by threshold)."""

    table = models.ForeignKey(
        PrizeTable, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("prize table")
    )
    place = models.PositiveSmallIntegerField(
        pgettext_lazy("prize", "place"),
        null=True,
        blank=True,
        help_text=_("For a table by rank: 1 is the first."),
    )
    min_points = models.IntegerField(
        _("minimum points"),
        null=True,
        blank=True,
        help_text=_("For a table by threshold: the period's total that earns this prize."),
    )
    prize = models.CharField(_("prize"), max_length=200)
    amount = models.DecimalField(
        _("value (yuan)"), max_digits=10, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("prize")
        verbose_name_plural = _("prizes")
        ordering = ["table", "place", "min_points"]
        constraints = [
            models.CheckConstraint(
                condition=Q(place__isnull=True) ^ Q(min_points__isnull=True),
                name="prizetier_place_or_threshold",
                violation_error_message=_("Give either a place or a minimum total, not both."),
            ),
            models.CheckConstraint(
                condition=Q(place__isnull=True) | Q(place__gte=1), name="prizetier_place_positive"
            ),
            models.UniqueConstraint(fields=["table", "place"], name="prizetier_place_once"),
            models.UniqueConstraint(
                fields=["table", "min_points"], name="prizetier_threshold_once"
            ),
        ]

    def __str__(self) -> str:
        return self.prize


class PrizeAward(models.Model):
    """A prize won: who, from which table, for which period, at which place; HR pays it."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    table = models.ForeignKey(
        PrizeTable, on_delete=models.PROTECT, related_name="awards", verbose_name=_("prize table")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="prize_awards", verbose_name=_("member")
    )
    period_kind = models.CharField(_("period"), max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    place = models.PositiveSmallIntegerField(pgettext_lazy("prize", "place"), null=True, blank=True)
    total = models.IntegerField(_("points in the period"))
    prize = models.CharField(_("prize"), max_length=200)
    amount = models.DecimalField(
        _("value (yuan)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    paid = models.BooleanField(_("paid"), default=False)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("paid by"),
    )
    created_at = models.DateTimeField(_("awarded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("prize won")
        verbose_name_plural = _("prizes won")
        ordering = ["-period_start", "table", "place", "-total", "member"]
        constraints = [
            # Computed once per table and period: running the close twice awards once.
            models.UniqueConstraint(
                fields=["table", "period_start", "member"], name="prizeaward_once"
            ),
            models.CheckConstraint(
                condition=Q(paid=True, paid_at__isnull=False) | Q(paid=False, paid_at__isnull=True),
                name="prizeaward_paid_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "paid"], name="prizeaward_org_paid"),
            models.Index(fields=["member", "-period_start"], name="prizeaward_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.prize} ({self.period_start:%Y-%m})"
