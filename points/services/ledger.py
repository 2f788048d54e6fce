"""Posting to the ledger: the only way points change.

``ledger_post_batch`` posts many items in one transaction. It locks the accounts (and the
months) it touches, replays idempotently, refuses items that break a cap, a closed month or
a frozen account (with a reason; nothing is trimmed), adds leader co-awards as linked
entries, doubles false declarations, records vetoes, and keeps account and period totals
in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Model, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from points.models import (
    Account,
    AuditEvent,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    Organisation,
    PeriodTotal,
    RuleItem,
    Veto,
)
from points.periods import TOTAL_KINDS, month_start, organisation_today, period_start
from points.services.locks import accounts_lock, periods_lock

BATCH = 2000


class LedgerError(Exception):
    """Base of the ledger's refusals."""


class LedgerConflict(LedgerError):
    """The idempotency key exists with different content."""


class PostingRefused(LedgerError):
    """A single posting was refused (cap, closed month, frozen account ...)."""


@dataclass(frozen=True)
class PostingItem:
    """One thing to post. ``amount`` is signed (awards positive). For a false declaration it
    is the amount that was claimed; the ledger deducts double its size. For a reset, leave
    ``amount`` as None: the ledger clears whatever the account holds."""

    member_id: int
    idempotency_key: str
    effective_date: date
    amount: int | None
    kind: str = EntryKind.DAILY
    rule_item_id: int | None = None
    rule_points_min: int | None = None
    rule_points_max: int | None = None
    quantity: int = 1
    source: Model | None = None
    approved_by_id: int | None = None
    approved_at: datetime | None = None
    note: str = ""
    correction: bool = False
    reverses_id: int | None = None
    #: Only for reversals: the redeemable change to undo (clamped at zero when negative).
    redeemable_delta: int | None = None

    def fingerprint(self) -> str:
        source = (
            (ContentType.objects.get_for_model(self.source).pk, self.source.pk)
            if self.source is not None
            else None
        )
        content = [
            self.member_id,
            self.amount,
            self.kind,
            self.effective_date.isoformat(),
            self.rule_item_id,
            self.quantity,
            source,
            self.correction,
            self.reverses_id,
        ]
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()


@dataclass
class PostingResult:
    posted: list[LedgerEntry] = field(default_factory=list)
    existing: list[LedgerEntry] = field(default_factory=list)
    refused: list[tuple[PostingItem, str]] = field(default_factory=list)

    @property
    def entries(self) -> list[LedgerEntry]:
        """Posted and replayed entries, co-awards included."""
        return self.existing + self.posted


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class _Cap:
    day: dict[tuple[int, int, date], int] = field(default_factory=lambda: defaultdict(int))
    month: dict[tuple[int, int, date], int] = field(default_factory=lambda: defaultdict(int))


def _cap_usage(items: Sequence[PostingItem], rules: dict[int, RuleItem]) -> _Cap:
    """Net points already in the ledger per (member, rule, day) and (member, rule, month)
    for the capped rules and months of the batch."""
    usage = _Cap()
    capped = [
        i
        for i in items
        if i.rule_item_id in rules
        and (rules[i.rule_item_id].cap_per_day or rules[i.rule_item_id].cap_per_month)
    ]
    if not capped:
        return usage
    months = {month_start(i.effective_date) for i in capped}
    date_filter = Q()
    for month in months:
        next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        date_filter |= Q(effective_date__gte=month, effective_date__lt=next_month)
    rows = (
        LedgerEntry.objects.filter(
            member_id__in={i.member_id for i in capped},
            rule_item_id__in={i.rule_item_id for i in capped},
            kind__in=[EntryKind.DAILY, EntryKind.REVERSAL, EntryKind.CORRECTION],
        )
        .filter(date_filter)
        .values_list("member_id", "rule_item_id", "effective_date")
        .annotate(net=Sum("amount"))
        .order_by()
    )
    for member_id, rule_id, day, net in rows:
        usage.day[(member_id, rule_id, day)] += net
        usage.month[(member_id, rule_id, month_start(day))] += net
    return usage


def _cap_refusal(item: PostingItem, rule: RuleItem, usage: _Cap, amount: int) -> str | None:
    day_key = (item.member_id, rule.pk, item.effective_date)
    month_key = (item.member_id, rule.pk, month_start(item.effective_date))
    if rule.cap_per_day and abs(usage.day[day_key] + amount) > rule.cap_per_day:
        return _(
            "Over the daily cap of %(cap)s points for “%(rule)s” on %(day)s (already %(used)s)."
        ) % {
            "cap": rule.cap_per_day,
            "rule": rule.name,
            "day": item.effective_date,
            "used": abs(usage.day[day_key]),
        }
    if rule.cap_per_month and abs(usage.month[month_key] + amount) > rule.cap_per_month:
        return _(
            "Over the monthly cap of %(cap)s points for “%(rule)s” in %(month)s (already %(used)s)."
        ) % {
            "cap": rule.cap_per_month,
            "rule": rule.name,
            "month": month_key[2].strftime("%Y-%m"),
            "used": abs(usage.month[month_key]),
        }
    usage.day[day_key] += amount
    usage.month[month_key] += amount
    return None


def _existing_entries(keys: list[str]) -> dict[str, LedgerEntry]:
    found: dict[str, LedgerEntry] = {}
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        for entry in LedgerEntry.objects.filter(idempotency_key__in=chunk):
            found[entry.idempotency_key] = entry
    return found


def _write_totals(
    organisation: Organisation, entries: list[LedgerEntry], accounts: dict[int, Account]
) -> None:
    """Account totals (absolute values: the rows are locked) and period totals (upserts)."""
    deltas: dict[tuple[int, str, date], int] = defaultdict(int)
    for entry in entries:
        if entry.amount == 0:
            continue
        for kind in TOTAL_KINDS:
            deltas[(entry.member_id, kind, period_start(kind, entry.booked_on))] += entry.amount
    table = PeriodTotal._meta.db_table
    rows = [(organisation.pk, m, k, s.isoformat(), d) for (m, k, s), d in deltas.items() if d]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (organisation_id, member_id, period_kind, period_start, "  # noqa: S608
                f"total) VALUES {values} ON CONFLICT (member_id, period_kind, period_start) "
                f"DO UPDATE SET total = {table}.total + excluded.total",
                [value for row in chunk for value in row],
            )
        changed = [a for a in accounts.values() if getattr(a, "_changed", False)]
        account_table = Account._meta.db_table
        for start in range(0, len(changed), 500):
            accounts_chunk = changed[start : start + 500]
            values = ", ".join(
                [
                    "(CAST(%s AS BIGINT), CAST(%s AS INTEGER), CAST(%s AS INTEGER), "
                    "CAST(%s AS BOOLEAN))"
                ]
                * len(accounts_chunk)
            )
            cursor.execute(
                f"WITH v(id, lifetime_total, redeemable, flagged) AS (VALUES {values}) "  # noqa: S608
                f"UPDATE {account_table} SET lifetime_total = v.lifetime_total, "
                f"redeemable = v.redeemable, flagged_for_review = v.flagged "
                f"FROM v WHERE {account_table}.id = v.id",
                [
                    value
                    for a in accounts_chunk
                    for value in (a.pk, a.lifetime_total, a.redeemable, a.flagged_for_review)
                ],
            )


def _apply(account: Account, amount: int, redeemable_delta: int) -> None:
    account.lifetime_total += amount
    account.redeemable += redeemable_delta
    if account.lifetime_total <= 0:
        account.flagged_for_review = True
    account._changed = True  # type: ignore[attr-defined]


def _deduct_redeemable(account: Account, amount: int) -> int:
    """A negative amount takes from the redeemable balance, never below zero."""
    if amount >= 0:
        return amount
    return -min(-amount, account.redeemable)


@transaction.atomic
def ledger_post_batch(
    *,
    organisation: Organisation,
    items: Sequence[PostingItem],
    actor: Any = None,
    today: date | None = None,
) -> PostingResult:
    """Post ``items`` in one transaction; see the module docstring."""
    result = PostingResult()
    if not items:
        return result
    keys = [item.idempotency_key for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate idempotency keys in one batch")
    today = today or organisation_today(organisation)
    policy = organisation.policy

    members = Member.objects.select_related("unit__leader").in_bulk(
        {item.member_id for item in items}
    )
    if len(members) != len({i.member_id for i in items}) or any(
        m.organisation_id != organisation.pk for m in members.values()
    ):
        raise ValueError("every member must exist and belong to the organisation")
    leaders = {
        m.pk: m.unit.leader
        for m in members.values()
        if m.unit.leader_id
        and m.unit.leader_id != m.pk
        and m.unit.leader.status == MemberStatus.ACTIVE  # type: ignore[union-attr]
    }
    accounts = accounts_lock(
        organisation=organisation,
        member_ids={*members, *(leader.pk for leader in leaders.values() if leader)},
    )

    # Idempotent replay: same key and content returns the entry; other content is a conflict.
    existing = _existing_entries(keys)
    fresh: list[PostingItem] = []
    for item in items:
        entry = existing.get(item.idempotency_key)
        if entry is None:
            fresh.append(item)
        elif entry.fingerprint != item.fingerprint():
            raise LedgerConflict(
                _("The idempotency key “%(key)s” was already used for different content.")
                % {"key": item.idempotency_key}
            )
        else:
            result.existing.append(entry)
    if not fresh:
        return result

    rules = RuleItem.objects.in_bulk({i.rule_item_id for i in fresh if i.rule_item_id})
    booked = {
        item.idempotency_key: today if item.correction else item.effective_date for item in fresh
    }
    periods = periods_lock(
        organisation=organisation, months={month_start(d) for d in booked.values()}
    )
    usage = _cap_usage(fresh, rules)
    source_types: dict[type, ContentType] = {}
    now = timezone.now()
    entries: list[LedgerEntry] = []
    coawards: list[tuple[LedgerEntry, Member, int]] = []
    for item in fresh:
        account = accounts[item.member_id]
        booked_on = booked[item.idempotency_key]
        rule = rules.get(item.rule_item_id) if item.rule_item_id else None
        refusal = None
        if account.frozen:
            refusal = _("The account of %(member)s is frozen.") % {
                "member": members[item.member_id].name
            }
        elif periods[month_start(booked_on)].is_closed:
            refusal = _("%(month)s is closed; post a correction in the open month.") % {
                "month": month_start(booked_on).strftime("%Y-%m")
            }
        elif item.correction and month_start(item.effective_date) == month_start(today):
            refusal = _("A correction must name an earlier month than the open one.")
        if refusal:
            result.refused.append((item, refusal))
            continue

        amount, kind = item.amount, item.kind
        if kind == EntryKind.RESET:
            amount = -account.lifetime_total
            redeemable_delta = -account.redeemable
        elif kind == EntryKind.FALSE_DECLARATION:
            amount = -2 * abs(amount or 0)
            redeemable_delta = _deduct_redeemable(account, amount)
        elif kind == EntryKind.REDEMPTION:
            cost = abs(amount or 0)
            if cost > account.redeemable:
                result.refused.append(
                    (
                        item,
                        _("Not enough points: %(cost)s needed, %(balance)s redeemable.")
                        % {"cost": cost, "balance": account.redeemable},
                    )
                )
                continue
            redeemable_delta = -cost
            amount = -cost if policy.redemption_lowers_ranking else 0
        elif kind == EntryKind.REVERSAL:
            amount = amount or 0
            undo = item.redeemable_delta if item.redeemable_delta is not None else amount
            redeemable_delta = _deduct_redeemable(account, undo)
        else:
            amount = amount or 0
            redeemable_delta = _deduct_redeemable(account, amount)

        if rule is not None and kind in (EntryKind.DAILY, EntryKind.CORRECTION):
            refusal = _cap_refusal(item, rule, usage, amount)
            if refusal:
                result.refused.append((item, refusal))
                continue

        source_type = None
        if item.source is not None:
            model = type(item.source)
            if model not in source_types:
                source_types[model] = ContentType.objects.get_for_model(model)
            source_type = source_types[model]
        entry = LedgerEntry(
            organisation=organisation,
            member_id=item.member_id,
            kind=kind,
            amount=amount,
            redeemable_delta=redeemable_delta,
            rule_item=rule,
            rule_points_min=item.rule_points_min
            if item.rule_points_min is not None
            else (rule.points_min if rule else None),
            rule_points_max=item.rule_points_max
            if item.rule_points_max is not None
            else (rule.points_max if rule else None),
            quantity=item.quantity,
            effective_date=item.effective_date,
            booked_on=booked_on,
            corrects_month=month_start(item.effective_date) if item.correction else None,
            source_type=source_type,
            source_id=item.source.pk if item.source is not None else None,
            idempotency_key=item.idempotency_key,
            fingerprint=item.fingerprint(),
            reverses_id=item.reverses_id,
            approved_by_id=item.approved_by_id,
            approved_at=item.approved_at or now,
            note=item.note[:500],
        )
        _apply(account, amount, redeemable_delta)
        entries.append(entry)
        leader = leaders.get(item.member_id)
        if (
            rule is not None
            and leader is not None
            and rule.leader_coaward_ratio
            and kind in (EntryKind.DAILY, EntryKind.FALSE_DECLARATION)
        ):
            share = _round(Decimal(amount) * rule.leader_coaward_ratio)
            if share:
                coawards.append((entry, leader, share))

    LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)
    linked: list[LedgerEntry] = []
    for entry, leader, share in coawards:
        account = accounts[leader.pk]
        if account.frozen:
            continue
        redeemable_delta = _deduct_redeemable(account, share)
        _apply(account, share, redeemable_delta)
        linked.append(
            LedgerEntry(
                organisation=organisation,
                member=leader,
                kind=EntryKind.COAWARD,
                amount=share,
                redeemable_delta=redeemable_delta,
                rule_item=entry.rule_item,
                rule_points_min=entry.rule_points_min,
                rule_points_max=entry.rule_points_max,
                effective_date=entry.effective_date,
                booked_on=entry.booked_on,
                corrects_month=entry.corrects_month,
                source_type=entry.source_type,
                source_id=entry.source_id,
                idempotency_key=f"{entry.idempotency_key}:coaward",
                fingerprint=entry.fingerprint,
                linked_to=entry,
                approved_by_id=entry.approved_by_id,
                approved_at=entry.approved_at,
                note=entry.note,
            )
        )
    LedgerEntry.objects.bulk_create(linked, batch_size=BATCH)
    posted = entries + linked

    Veto.objects.bulk_create(
        [
            Veto(
                member_id=e.member_id,
                month=month_start(e.effective_date),
                entry=e,
                rule_item=e.rule_item,
            )
            for e in entries
            if e.rule_item is not None and e.rule_item.veto and e.amount < 0
        ]
    )
    _write_totals(organisation, posted, accounts)
    AuditEvent.objects.create(
        organisation=organisation,
        actor=actor if getattr(actor, "pk", None) else None,
        action="ledger.post",
        object_repr=_("%(count)s entries") % {"count": len(posted)},
        data={
            "posted": len(posted),
            "replayed": len(result.existing),
            "refused": [[i.idempotency_key, reason] for i, reason in result.refused],
            "first_key": posted[0].idempotency_key if posted else None,
            "last_key": posted[-1].idempotency_key if posted else None,
        },
    )
    result.posted = posted
    return result


def ledger_post(
    *, organisation: Organisation, item: PostingItem, actor: Any = None, today: date | None = None
) -> LedgerEntry:
    """Post one item; raise ``PostingRefused`` with the reason if it is refused."""
    result = ledger_post_batch(organisation=organisation, items=[item], actor=actor, today=today)
    if result.refused:
        raise PostingRefused(result.refused[0][1])
    return result.entries[0]


@transaction.atomic
def ledger_reverse(
    *, entry: LedgerEntry, reason: str, actor: Any = None, today: date | None = None
) -> list[LedgerEntry]:
    """Reverse an entry and its linked co-awards with new entries that name them. A
    reversal lands in the open month; it names the month it corrects when that differs."""
    organisation = entry.organisation
    today = today or organisation_today(organisation)
    targets = [entry, *entry.linked_entries.all()]
    already = set(
        LedgerEntry.objects.filter(reverses__in=targets).values_list("reverses_id", flat=True)
    )
    if entry.kind == EntryKind.REVERSAL:
        raise LedgerError(_("A reversal cannot itself be reversed; post a correction."))
    if entry.pk in already:
        raise LedgerError(_("This entry has already been reversed."))
    items = [
        PostingItem(
            member_id=target.member_id,
            idempotency_key=f"reversal:{target.pk}",
            effective_date=target.effective_date,
            amount=-target.amount,
            kind=EntryKind.REVERSAL,
            rule_item_id=target.rule_item_id,
            rule_points_min=target.rule_points_min,
            rule_points_max=target.rule_points_max,
            quantity=target.quantity,
            approved_by_id=getattr(actor, "pk", None),
            note=reason,
            correction=month_start(target.booked_on) != month_start(today),
            reverses_id=target.pk,
            redeemable_delta=-target.redeemable_delta,
        )
        for target in targets
        if target.pk not in already
    ]
    result = ledger_post_batch(organisation=organisation, items=items, actor=actor, today=today)
    if result.refused:
        raise PostingRefused(result.refused[0][1])
    AuditEvent.objects.create(
        organisation=organisation,
        actor=actor if getattr(actor, "pk", None) else None,
        action="ledger.reverse",
        member=entry.member,
        object_repr=str(entry)[:200],
        data={"entry": entry.pk, "reason": reason},
    )
    return result.entries


def entries_for_source(*, source: Model) -> Iterable[LedgerEntry]:
    return LedgerEntry.objects.filter(
        source_type=ContentType.objects.get_for_model(type(source)), source_id=source.pk
    )
