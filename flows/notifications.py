"""Notifications: each event is stored, then mailed after commit by a Celery task, or, for
users who chose the daily digest, gathered into one e-mail a day."""

from __future__ import annotations

from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.models import Notification, NotificationFrequency, NotificationPreference


def notify(*, user: Any, subject: str, body: str) -> Notification | None:
    """Record an event for ``user``; mail it after commit unless they take the digest."""
    if user is None:
        return None
    if not user.email:  # kept for the record; nothing to send
        return Notification.objects.create(
            user=user, subject=subject[:200], body=body, sent_at=timezone.now()
        )
    notification = Notification.objects.create(user=user, subject=subject[:200], body=body)
    frequency = (
        NotificationPreference.objects.filter(user=user).values_list("frequency", flat=True).first()
        or NotificationFrequency.EACH
    )
    if frequency == NotificationFrequency.EACH:
        from flows.tasks import notification_send

        transaction.on_commit(lambda: notification_send.delay(notification.pk))
    return notification


def notification_send_one(*, notification_id: int) -> bool:
    """Mail one notification once (safe to run twice)."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("user")
            .filter(pk=notification_id, sent_at__isnull=True)
            .first()
        )
        if notification is None:
            return False
        if notification.user.email:
            send_mail(notification.subject, notification.body, None, [notification.user.email])
        notification.sent_at = timezone.now()
        notification.save(update_fields=["sent_at"])
        return True


def notification_digests_send() -> int:
    """One e-mail per digest user with everything unsent; returns how many were mailed."""
    mailed = 0
    users = (
        Notification.objects.filter(
            sent_at__isnull=True,
            user__notification_preference__frequency=NotificationFrequency.DIGEST,
        )
        .values_list("user_id", flat=True)
        .distinct()
    )
    for user_id in list(users):
        with transaction.atomic():
            pending = list(
                Notification.objects.select_for_update()
                .select_related("user")
                .filter(user_id=user_id, sent_at__isnull=True)
                .order_by("created_at")
            )
            if not pending:
                continue
            user = pending[0].user
            if user.email:
                body = "\n\n".join(f"{n.subject}\n{n.body}" for n in pending)
                send_mail(
                    _("Your daily points digest (%(count)s events)") % {"count": len(pending)},
                    body,
                    None,
                    [user.email],
                )
                mailed += 1
            Notification.objects.filter(pk__in=[n.pk for n in pending]).update(
                sent_at=timezone.now()
            )
    return mailed
