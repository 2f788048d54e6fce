"""Celery tasks of the flows: thin, idempotent callers of services."""

from __future__ import annotations

from celery import shared_task

from flows.services import declaration_deadlines_run


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def declaration_deadlines() -> dict[str, int]:
    """Hourly: review reminders and escalations (safe to run twice)."""
    return declaration_deadlines_run()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notification_send(notification_id: int) -> bool:
    from flows.notifications import notification_send_one

    return notification_send_one(notification_id=notification_id)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notification_digests() -> int:
    """Daily: the digest e-mails."""
    from flows.notifications import notification_digests_send

    return notification_digests_send()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def close_publicity_windows() -> dict[str, int]:
    """Every 15 minutes: post the batches whose publicity window has ended (idempotent)."""
    from flows.publicity import publicity_close_due

    result = publicity_close_due()
    return {"summaries": result.summaries, "posted": result.posted, "held": result.held}


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def appeal_deadlines() -> dict[str, int]:
    """Hourly: remind HR and the committee of overdue appeals (once per step)."""
    from flows.publicity import appeal_deadlines_run

    return appeal_deadlines_run()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def import_job_run(job_id: int) -> str:
    """Run a confirmed bulk import: all its rows or none; a second run does nothing."""
    from flows.imports import import_job_run as run

    return str(run(job_id=job_id).status)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def forget_idempotency_keys() -> int:
    """Daily: forget form tokens and API Idempotency-Keys older than POINTS_IDEMPOTENCY_DAYS."""
    from flows.once import idempotency_keys_forget

    return idempotency_keys_forget()
