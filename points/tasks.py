"""Celery tasks: thin, idempotent callers of services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from points.models import Organisation
from points.periods import month_start, organisation_today
from points.services.accounts import fixed_points_post_month


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def post_fixed_points_for_last_month() -> dict[str, int]:
    """Run on the 1st of each month: post the previous month's fixed points everywhere.
    Safe to run twice: each member's month has one idempotency key."""
    posted: dict[str, int] = {}
    for organisation in Organisation.objects.all():
        last_month = month_start(month_start(organisation_today(organisation)) - timedelta(days=1))
        result = fixed_points_post_month(organisation=organisation, month=last_month)
        posted[organisation.code] = len(result.posted)
    return posted


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def award_prizes_for_closed_months() -> dict[str, int]:
    """Daily: award the prize tables of closed months that have no winners yet (closing a
    month awards them already; this catches a close that happened some other way). Safe to
    run twice: each table and period is awarded once."""
    from points.services.prizes import prizes_award_closed_months

    return {
        organisation.code: prizes_award_closed_months(organisation=organisation)
        for organisation in Organisation.objects.all()
    }
