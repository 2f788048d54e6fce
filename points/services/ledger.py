"""Posting to the ledger: the only way points change.

``ledger_post_batch`` posts many items in one transaction. It locks the accounts (and the
months) it touches, replays idempotently, refuses items that break a cap, a closed month or
a frozen account (with a reason; nothing is trimmed), adds leader co-awards as linked
entries, doubles false declarations, records vetoes, and keeps account and period totals
in the same transaction.
"""

from __future__ import annotations

import gc
import hashlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Model, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from points.models import (
    AuditEvent,
    EntryKind,
    LedgerEntry,
    Organisation,
    Period,
    RuleItem,
    Veto,
)
from points.periods import month_start, organisation_today
from points.services import ledger_io
from points.services.locks import periods_lock

#: Leaves room for the ":coaward" suffix within the 200-character column.
MAX_KEY_LENGTH = 180


class Refusal(str):
    """Why the ledger refused an item: the translated reason, with a stable ``code``
    (``account_frozen``, ``period_closed``, ``correction_in_open_month``, ``vetoed``,
    ``insufficient_points``, ``over_daily_cap``, ``over_monthly_cap``) for programs."""

    code: str

    def __new__(cls, reason: str, code: str) -> Refusal:
        refusal = super().__new__(cls, reason)
        refusal.code = code
        return refusal


class LedgerError(Exception):
    """Base of the ledger's refusals; ``code`` names the refusal for programs."""

    def __init__(self, message: str, code: str = "ledger_refused") -> None:
        super().__init__(message)
        self.code = getattr(message, "code", code)


class LedgerConflict(LedgerError):
    """The idempotency key exists with different content."""


class PostingRefused(LedgerError):
    """A single posting was refused (cap, closed month, frozen account ...); the message
    is the item's ``Refusal`` and ``code`` its code."""

    def __init__(self, message: str, code: str = "posting_refused") -> None:
        super().__init__(message, code)


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

    def source_ref(self) -> tuple[int, Any] | None:
        if self.source is None:
            return None
        return ContentType.objects.get_for_model(type(self.source)).pk, self.source.pk

    def fingerprint(self) -> str:
        """A digest of what the entry says (not who approved it, nor when)."""
        content = (
            f"{self.member_id}|{self.amount}|{self.kind}|{self.effective_date.isoformat()}|"
            f"{self.rule_item_id}|{self.quantity}|{self.source_ref()}|{self.correction}|"
            f"{self.reverses_id}"
        )
        return hashlib.blake2b(content.encode(), digest_size=32).hexdigest()


class PostingResult:
    """What a batch did: new entries, idempotent replays and refusals with reasons."""

    def __init__(self) -> None:
        self.existing: list[LedgerEntry] = []
        self.refused: list[tuple[PostingItem, Refusal]] = []
        #: Items a caller left out because they were posted before (e.g. fixed points).
        self.already_posted = 0
        self._rows: list[ledger_io.EntryRow] = []
        self._posted: list[LedgerEntry] | None = None

    @property
    def posted_count(self) -> int:
        return len(self._rows)

    @property
    def posted(self) -> list[LedgerEntry]:
        """The new entries, co-awards included (built on first use: the hot path of a large
        batch never needs model instances)."""
        if self._posted is None:
            self._posted = [row.as_entry() for row in self._rows]
        return self._posted

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
        )
        .filter(
            Q(kind__in=[EntryKind.DAILY, EntryKind.CORRECTION])
            | Q(kind=EntryKind.REVERSAL, reverses__kind__in=[EntryKind.DAILY, EntryKind.CORRECTION])
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


def _balances_as_of(resets: Sequence[PostingItem]) -> dict[tuple[int, date], tuple[int, int]]:
    """(lifetime, redeemable) of each reset member up to and including the reset's date."""
    held: dict[tuple[int, date], tuple[int, int]] = {}
    for day in {item.effective_date for item in resets}:
        members = [item.member_id for item in resets if item.effective_date == day]
        for member_id, amount, redeemable in (
            LedgerEntry.objects.filter(member_id__in=members, booked_on__lte=day)
            .values("member_id")
            .annotate(a=Sum("amount"), r=Sum("redeemable_delta"))
            .values_list("member_id", "a", "r")
            .order_by()
        ):
            held[(member_id, day)] = (amount or 0, redeemable or 0)
    return held


def _vetoed_for_redemption(redemptions: Sequence[PostingItem]) -> set[int]:
    """Members with a standing veto in the year of their redemption."""
    vetoed: set[int] = set()
    for year in {item.effective_date.year for item in redemptions}:
        members = [i.member_id for i in redemptions if i.effective_date.year == year]
        vetoed |= set(
            Veto.objects.filter(
                member_id__in=members,
                entry__effective_date__year=year,
                entry__reversals__isnull=True,
            ).values_list("member_id", flat=True)
        )
    return vetoed


def _cap_refusal(item: PostingItem, rule: RuleItem, usage: _Cap, amount: int) -> Refusal | None:
    day_key = (item.member_id, rule.pk, item.effective_date)
    month_key = (item.member_id, rule.pk, month_start(item.effective_date))
    if rule.cap_per_day and abs(usage.day[day_key] + amount) > rule.cap_per_day:
        return Refusal(
            _("Over the daily cap of %(cap)s points for “%(rule)s” on %(day)s (already %(used)s).")
            % {
                "cap": rule.cap_per_day,
                "rule": rule.name,
                "day": item.effective_date,
                "used": abs(usage.day[day_key]),
            },
            "over_daily_cap",
        )
    if rule.cap_per_month and abs(usage.month[month_key] + amount) > rule.cap_per_month:
        return Refusal(
            _(
                "Over the monthly cap of %(cap)s points for “%(rule)s” in %(month)s "
                "(already %(used)s)."
            )
            % {
                "cap": rule.cap_per_month,
                "rule": rule.name,
                "month": month_key[2].strftime("%Y-%m"),
                "used": abs(usage.month[month_key]),
            },
            "over_monthly_cap",
        )
    usage.day[day_key] += amount
    usage.month[month_key] += amount
    return None


def _write_totals(
    organisation: Organisation,
    rows: list[ledger_io.EntryRow],
    balances: dict[int, ledger_io.Balance],
) -> None:
    """Account totals (absolute values: the rows are locked) and period totals (upserts)."""
    by_day: dict[tuple[int, date], int] = defaultdict(int)
    for row in rows:
        if row.amount and row.in_period_totals:
            by_day[(row.member_id, row.booked_on)] += row.amount
    ledger_io.upsert_period_totals(organisation.pk, by_day)
    ledger_io.update_balances([b for b in balances.values() if b.changed])


def _apply(balance: ledger_io.Balance, amount: int, redeemable_delta: int) -> None:
    balance.lifetime_total += amount
    balance.redeemable += redeemable_delta
    if balance.lifetime_total <= 0:
        balance.flagged_for_review = True
    balance.changed = True


def _deduct_redeemable(balance: ledger_io.Balance, amount: int) -> int:
    """A negative amount takes from the redeemable balance, never below zero."""
    if amount >= 0:
        return amount
    return -min(-amount, balance.redeemable)


def _refusal(
    item: PostingItem, balance: ledger_io.Balance, period: Period, today: date, name: str
) -> Refusal | None:
    if balance.frozen:
        return Refusal(
            _("The account of %(member)s is frozen.") % {"member": name}, "account_frozen"
        )
    if period.is_closed:
        return Refusal(
            _("%(month)s is closed; post a correction in the open month.")
            % {"month": period.month.strftime("%Y-%m")},
            "period_closed",
        )
    if item.correction and month_start(item.effective_date) == month_start(today):
        return Refusal(
            _("A correction must name an earlier month than the open one."),
            "correction_in_open_month",
        )
    return None


#: Batches of at least this many items pause the cyclic garbage collector (``_gc_paused``).
GC_PAUSE_MIN_ITEMS = 1000


@contextmanager
def _gc_paused(size: int) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large batch runs. The batch's rows
    die by reference counting, but allocating them triggers full collections, each a walk
    over every object in the process: about a tenth of a 10,000-item batch's time."""
    if size < GC_PAUSE_MIN_ITEMS or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def ledger_post_batch(
    *,
    organisation: Organisation,
    items: Sequence[PostingItem],
    actor: Any = None,
    today: date | None = None,
) -> PostingResult:
    """Post ``items`` in one transaction; see the module docstring."""
    with _gc_paused(len(items)):
        return _post_batch(organisation=organisation, items=items, actor=actor, today=today)


@transaction.atomic
def _post_batch(
    *,
    organisation: Organisation,
    items: Sequence[PostingItem],
    actor: Any,
    today: date | None,
) -> PostingResult:
    result = PostingResult()
    if not items:
        return result
    keys = [item.idempotency_key for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate idempotency keys in one batch")
    for item in items:
        if not item.idempotency_key or len(item.idempotency_key) > MAX_KEY_LENGTH:
            raise ValueError(f"idempotency keys are 1 to {MAX_KEY_LENGTH} characters")
        if item.kind == EntryKind.CORRECTION and not item.correction:
            raise ValueError("a correction item needs correction=True")
        if (item.kind == EntryKind.REVERSAL) != (item.reverses_id is not None):
            raise ValueError("a reversal, and only a reversal, names the entry it reverses")
    today = today or organisation_today(organisation)
    policy = organisation.policy

    members = ledger_io.member_facts(item.member_id for item in items)
    if len(members) != len({i.member_id for i in items}) or any(
        m.organisation_id != organisation.pk for m in members.values()
    ):
        raise ValueError("every member must exist and belong to the organisation")
    balances = ledger_io.lock_balances(
        organisation.pk, {*members, *(m.leader_id for m in members.values() if m.leader_id)}
    )

    # Idempotent replay: same key and content returns the entry; other content is a conflict.
    existing = ledger_io.existing_keys(keys)
    fresh: list[tuple[PostingItem, str]] = []
    replayed: list[int] = []
    for item in items:
        fingerprint = item.fingerprint()
        found = existing.get(item.idempotency_key)
        if found is None:
            fresh.append((item, fingerprint))
        elif found[1] != fingerprint:
            raise LedgerConflict(
                _("The idempotency key “%(key)s” was already used for different content.")
                % {"key": item.idempotency_key}
            )
        else:
            replayed.append(found[0])
    if replayed:
        by_id = LedgerEntry.objects.in_bulk(replayed)
        result.existing = [by_id[pk] for pk in replayed]
    if not fresh:
        return result

    rules = RuleItem.objects.in_bulk({i.rule_item_id for i, _f in fresh if i.rule_item_id})
    periods = periods_lock(
        organisation=organisation,
        months={month_start(today if i.correction else i.effective_date) for i, _f in fresh},
    )
    usage = _cap_usage([i for i, _f in fresh], rules)
    as_of = _balances_as_of([i for i, _f in fresh if i.kind == EntryKind.RESET])
    reversed_flags = dict(
        LedgerEntry.objects.filter(
            pk__in=[i.reverses_id for i, _f in fresh if i.reverses_id]
        ).values_list("pk", "in_period_totals")
    )
    vetoed = _vetoed_for_redemption([i for i, _f in fresh if i.kind == EntryKind.REDEMPTION])
    now = timezone.now()
    rows: list[ledger_io.EntryRow] = []
    coawards: list[tuple[ledger_io.EntryRow, int, int]] = []
    for item, fingerprint in fresh:
        balance = balances[item.member_id]
        booked_on = today if item.correction else item.effective_date
        refusal = _refusal(
            item, balance, periods[month_start(booked_on)], today, members[item.member_id].name
        )
        if refusal:
            result.refused.append((item, refusal))
            continue
        rule = rules.get(item.rule_item_id) if item.rule_item_id else None
        amount, kind = item.amount or 0, item.kind
        in_period_totals = True
        if kind == EntryKind.RESET:
            # Clear what the account held on the reset's date; later points stay.
            held, held_redeemable = as_of.get((item.member_id, item.effective_date), (0, 0))
            amount = -held
            redeemable_delta = -min(max(held_redeemable, 0), balance.redeemable)
            in_period_totals = False
        elif kind == EntryKind.FALSE_DECLARATION:
            amount = -2 * abs(amount)
            redeemable_delta = _deduct_redeemable(balance, amount)
        elif kind == EntryKind.REDEMPTION:
            cost = abs(amount)
            if item.member_id in vetoed:
                result.refused.append(
                    (
                        item,
                        Refusal(
                            _("%(member)s is barred from redemption this year by a one-vote veto.")
                            % {"member": members[item.member_id].name},
                            "vetoed",
                        ),
                    )
                )
                continue
            if cost > balance.redeemable:
                result.refused.append(
                    (
                        item,
                        Refusal(
                            _("Not enough points: %(cost)s needed, %(balance)s redeemable.")
                            % {"cost": cost, "balance": balance.redeemable},
                            "insufficient_points",
                        ),
                    )
                )
                continue
            redeemable_delta = -cost
            amount = -cost if policy.redemption_lowers_ranking else 0
        elif kind == EntryKind.REVERSAL:
            in_period_totals = reversed_flags.get(item.reverses_id, True)
            undo = item.redeemable_delta if item.redeemable_delta is not None else amount
            redeemable_delta = _deduct_redeemable(balance, undo)
        else:
            redeemable_delta = _deduct_redeemable(balance, amount)
        if rule is not None and kind in (EntryKind.DAILY, EntryKind.CORRECTION):
            refusal = _cap_refusal(item, rule, usage, amount)
            if refusal:
                result.refused.append((item, refusal))
                continue

        source = item.source_ref()
        row = ledger_io.EntryRow(
            organisation_id=organisation.pk,
            member_id=item.member_id,
            kind=kind,
            amount=amount,
            redeemable_delta=redeemable_delta,
            rule_item_id=rule.pk if rule else None,
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
            source_type_id=source[0] if source else None,
            source_id=source[1] if source else None,
            idempotency_key=item.idempotency_key,
            fingerprint=fingerprint,
            reverses_id=item.reverses_id,
            approved_by_id=item.approved_by_id,
            approved_at=item.approved_at or now,
            note=item.note[:500],
            created_at=now,
            in_period_totals=in_period_totals,
        )
        _apply(balance, amount, redeemable_delta)
        rows.append(row)
        leader_id = members[item.member_id].leader_id
        if (
            rule is not None
            and leader_id is not None
            and rule.leader_coaward_ratio
            and kind in (EntryKind.DAILY, EntryKind.FALSE_DECLARATION)
        ):
            share = _round(Decimal(amount) * rule.leader_coaward_ratio)
            if share:
                coawards.append((row, leader_id, share))

    ledger_io.insert_entries(rows)
    linked: list[ledger_io.EntryRow] = []
    for row, leader_id, share in coawards:
        balance = balances[leader_id]
        if balance.frozen:
            continue
        redeemable_delta = _deduct_redeemable(balance, share)
        _apply(balance, share, redeemable_delta)
        linked.append(
            replace(
                row,
                id=None,
                member_id=leader_id,
                kind=EntryKind.COAWARD,
                amount=share,
                redeemable_delta=redeemable_delta,
                reverses_id=None,
                linked_to_id=row.id,
                idempotency_key=f"{row.idempotency_key}:coaward",
            )
        )
    ledger_io.insert_entries(linked)
    posted = rows + linked

    vetoes = [r for r in rows if r.rule_item_id and rules[r.rule_item_id].veto and r.amount < 0]
    Veto.objects.bulk_create(
        Veto(
            member_id=r.member_id,
            month=month_start(r.effective_date),
            entry_id=r.id or 0,
            rule_item_id=r.rule_item_id or 0,
        )
        for r in vetoes
    )
    _write_totals(organisation, posted, balances)
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
    result._rows = posted
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
            correction=month_start(target.effective_date) != month_start(today),
            reverses_id=target.pk,
            redeemable_delta=-target.redeemable_delta,
        )
        for target in targets
        if target.pk not in already
    ]
    result = ledger_post_batch(organisation=organisation, items=items, actor=actor, today=today)
    # The reversal of the entry itself must post; a co-award whose leader has since left
    # (frozen account) stays as it is, and the audit row says so.
    main = [reason for item, reason in result.refused if item.reverses_id == entry.pk]
    if main:
        raise PostingRefused(main[0])
    AuditEvent.objects.create(
        organisation=organisation,
        actor=actor if getattr(actor, "pk", None) else None,
        action="ledger.reverse",
        member=entry.member,
        object_repr=str(entry)[:200],
        data={
            "entry": entry.pk,
            "reason": reason,
            "not_reversed": [[i.reverses_id, why] for i, why in result.refused],
        },
    )
    return result.entries
