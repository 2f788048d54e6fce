"""Accounts, the append-only ledger, periods and period totals.

Invariants (DESIGN.md, "The ledger"):

1. Entries are append-only: no ORM path updates or deletes one, and on PostgreSQL a trigger
   rejects UPDATE and DELETE. A mistake is corrected by a reversal that names the entry it
   reverses (unique: never twice).
2. Every entry carries a unique idempotency key derived from its source.
3. Points are integers. ``amount`` counts towards totals and rankings; ``redeemable_delta``
   is what the entry did to the spendable balance (a deduction never takes it below zero,
   and the entry records how much it actually took).
4. Account and period totals equal the sums of the entries (``manage.py points_verify``).
   Period totals are kept for months, quarters and years (``STORED_KINDS``); a week's
   figures are summed from the entries when asked for.
5. Closed months accept no entries; a late correction is booked in the open month and names
   the month it corrects.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .catalog import RuleItem
from .org import Member, Organisation


class AppendOnlyError(Exception):
    """Raised by any attempt to change or remove a ledger entry."""


class EntryKind(models.TextChoices):
    BASE = "base", _("base points")
    FIXED = "fixed", _("fixed points")
    DAILY = "daily", _("daily points")
    COAWARD = "coaward", _("leader co-award")
    FALSE_DECLARATION = "false_declaration", _("false declaration")
    REVERSAL = "reversal", _("reversal")
    CORRECTION = "correction", _("correction")
    REDEMPTION = "redemption", _("redemption")
    RESET = "reset", _("reset")


class PeriodKind(models.TextChoices):
    WEEK = "week", _("week")
    MONTH = "month", _("month")
    QUARTER = "quarter", _("quarter")
    YEAR = "year", _("year")


#: The period kinds whose totals are kept in ``PeriodTotal`` and ``RankBucket``. A week's
#: totals are summed from the entries when asked for (the ``entry_org_booked`` index):
#: keeping them too would make every posting upsert a third more total rows.
STORED_KINDS = (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR)


class Account(models.Model):
    """A member's points. Totals are kept in the same transaction as the entries."""

    member = models.OneToOneField(
        Member, on_delete=models.PROTECT, related_name="account", verbose_name=_("member")
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    lifetime_total = models.IntegerField(_("lifetime total"), default=0)
    redeemable = models.IntegerField(_("redeemable balance"), default=0)
    frozen = models.BooleanField(_("frozen"), default=False)
    flagged_for_review = models.BooleanField(
        _("flagged for HR review"),
        default=False,
        help_text=_("Set when the balance falls to zero or below."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(redeemable__gte=0), name="account_redeemable_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "-lifetime_total"], name="account_org_lifetime"),
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.lifetime_total}"


class LedgerQuerySet(models.QuerySet[Any]):
    """Append-only rows: no update, delete, bulk update or upsert."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries are append-only: post a reversal instead")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("update_conflicts"):
            raise AppendOnlyError("ledger entries are append-only: no upserts")
        return super().bulk_create(objs, *args, **kwargs)

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("ledger entries are append-only: post a reversal instead")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries are append-only: post a reversal instead")


class LedgerEntry(models.Model):
    """One point change. Never updated, never deleted."""

    # Indexes are few on purpose: every one costs each posting. Foreign keys covered by a
    # composite or partial index below, or only checked on rare deletions, have none.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        verbose_name=_("member"),
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EntryKind.choices)
    amount = models.IntegerField(_("points"))
    redeemable_delta = models.IntegerField(_("change to the redeemable balance"))
    rule_item = models.ForeignKey(
        RuleItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rule item"),
        db_index=False,
    )
    rule_points_min = models.IntegerField(_("rule's points then (minimum)"), null=True, blank=True)
    rule_points_max = models.IntegerField(_("rule's points then (maximum)"), null=True, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    in_period_totals = models.BooleanField(
        _("counts in period totals"),
        default=True,
        db_default=True,
        help_text=_("Resets (and their reversals) clear balances, not what a period earned."),
    )
    effective_date = models.DateField(_("date of the event"))
    booked_on = models.DateField(
        _("booked on"), help_text=_("The date whose periods this entry counts in.")
    )
    corrects_month = models.DateField(
        _("corrects month"), null=True, blank=True, help_text=_("First day of the month.")
    )
    source_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    source_id = models.BigIntegerField(null=True, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    # Unique through ``entry_idempotency_key`` below: one index that serves equality and
    # prefix (LIKE) lookups, where ``unique=True`` would add a second, pattern-ops index.
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    fingerprint = models.CharField(max_length=64)
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        verbose_name=_("reverses"),
        db_index=False,
    )
    linked_to = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="linked_entries",
        verbose_name=_("linked to"),
        db_index=False,
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
        db_index=False,
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("posted at"), auto_now_add=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger")
        ordering = ["-booked_on", "-id"]
        indexes = [
            models.Index(fields=["member", "-booked_on", "-id"], name="entry_member_booked"),
            # Covers a week's totals and rankings (summed from the entries) and raw sums
            # over a period: every column such a query reads is in the index.
            models.Index(
                fields=["organisation", "booked_on", "member", "amount", "in_period_totals"],
                name="entry_org_booked",
            ),
            models.Index(
                fields=["member", "rule_item", "effective_date"],
                name="entry_member_rule_day",
                condition=Q(rule_item__isnull=False),
            ),
            models.Index(
                fields=["source_type", "source_id"],
                name="entry_source",
                condition=Q(source_id__isnull=False),
            ),
            models.Index(
                fields=["linked_to"], name="entry_linked_to", condition=Q(linked_to__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                name="entry_idempotency_key",
                opclasses=["varchar_pattern_ops"],
                violation_error_message=_("This idempotency key is already in the ledger."),
            ),
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="entry_reversed_once",
                violation_error_message=_("This entry has already been reversed."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="reversal") | Q(reverses__isnull=False),
                name="entry_reversal_names_its_entry",
            ),
            models.CheckConstraint(
                condition=~Q(kind="correction") | Q(corrects_month__isnull=False),
                name="entry_correction_names_its_month",
            ),
        ]

    def __str__(self) -> str:
        """As the audit log and the admin name it: "#5738 兑换 +0 (2026-11-30)"."""
        return f"#{self.pk} {self.get_kind_display()} {self.amount:+d} ({self.booked_on})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("ledger entries are append-only: post a reversal instead")
        kwargs["force_insert"] = True  # never an UPDATE, even with an explicit primary key
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries are append-only: post a reversal instead")

    @property
    def spends_only(self) -> bool:
        """A change of the redeemable balance alone (a redemption, its refund, a reset):
        pages show ``redeemable_delta`` for it, not the ranking points' 0."""
        return self.amount == 0 and self.redeemable_delta != 0

    @property
    def change_shown(self) -> int:
        """The number a statement line shows: the points, or for ``spends_only`` entries
        the change of the redeemable balance."""
        return self.redeemable_delta if self.spends_only else self.amount


class Period(models.Model):
    """A month of an organisation; a closed month accepts no entries."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="periods")
    month = models.DateField(_("month"), help_text=_("First day of the month."))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("month")
        verbose_name_plural = _("months")
        ordering = ["organisation", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "month"], name="period_month_unique"),
            models.CheckConstraint(condition=Q(month__day=1), name="period_month_is_first_day"),
        ]

    def __str__(self) -> str:
        return self.month.strftime("%Y-%m")

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class PeriodTotal(models.Model):
    """A member's total for one month, quarter or year: what rankings read."""

    # Two indexes only (the key and the ranking): each posting updates these rows.
    pk = models.CompositePrimaryKey("member", "period_kind", "period_start")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="period_totals", db_index=False
    )
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    total = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("period total")
        verbose_name_plural = _("period totals")
        indexes = [
            models.Index(
                fields=["organisation", "period_kind", "period_start", "-total", "member"],
                name="period_total_ranking",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_kind__in=STORED_KINDS), name="period_total_stored_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.period_kind} {self.period_start} {self.total}"


#: Width of a rank bucket, in points. See ``RankBucket``.
RANK_BUCKET_WIDTH = 10


class RankBucket(models.Model):
    """How many members' totals fall in [bucket × width, (bucket + 1) × width) for one
    period: a histogram kept with the totals, so a member's rank is the sum of the buckets
    above theirs plus a count inside their own bucket, however low they rank."""

    pk = models.CompositePrimaryKey("organisation", "period_kind", "period_start", "bucket")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    bucket = models.IntegerField()
    members = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("rank bucket")
        verbose_name_plural = _("rank buckets")
        constraints = [
            models.CheckConstraint(
                condition=Q(period_kind__in=STORED_KINDS), name="rank_bucket_stored_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_kind} {self.period_start} {self.bucket}: {self.members}"


class Veto(models.Model):
    """A one-vote-veto violation: the member still accrues points but is barred from
    rewards and redemption for the month, quarter and year it falls in."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="vetoes")
    month = models.DateField(_("month"))
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="veto")
    rule_item = models.ForeignKey(RuleItem, on_delete=models.PROTECT, related_name="+")

    objects = LedgerQuerySet.as_manager()  # lifted only by reversing its entry

    class Meta:
        verbose_name = _("veto")
        verbose_name_plural = _("vetoes")
        indexes = [models.Index(fields=["member", "month"], name="veto_member_month")]

    def __str__(self) -> str:
        return f"{self.member} {self.month:%Y-%m}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("vetoes are lifted by reversing their entry")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("vetoes are lifted by reversing their entry")
