"""A form that starts something, sent twice, acts once: a double tap on a phone, or the
form sent again after a slow answer, must not declare, award or spend twice.

The page carries a fresh token (``once_token``, in the hidden field ``ONCE_FIELD``). The
view asks ``sent_before`` first, before it reads or writes anything: a token already used
answers with the page the first sending went to. After its writes, in the same
transaction, the view calls ``record_sent``: the token's row (``IdempotencyKey``, as the
API's ``Idempotency-Key``) is unique per user, so of two sendings at once only one
commits. The other's writes are rolled back, and it answers as a repeat. A form sent
without a token (an old page) acts as before.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.translation import gettext as _

from flows.models import IdempotencyKey

ONCE_FIELD = "sent_once"
_TOKEN = re.compile(r"[0-9a-f]{32}")


def once_token() -> str:
    """The token of a form page, drawn afresh each time the page is drawn."""
    return uuid.uuid4().hex


def is_once_token(text: str) -> bool:
    return bool(_TOKEN.fullmatch(text))


def _key(request: HttpRequest, kind: str) -> str | None:
    token = request.POST.get(ONCE_FIELD, "")
    return f"web:{kind}:{token}" if is_once_token(token) else None


def _sender(request: HttpRequest) -> Any:
    return request.user  # logged in: the start pages need a login


def _repeat(request: HttpRequest, url: str) -> HttpResponseRedirect:
    messages.info(request, _("This form had already been sent: it was not sent again."))
    return HttpResponseRedirect(url)


def sent_before(request: HttpRequest, kind: str) -> HttpResponseRedirect | None:
    """The answer to a repeat of a form already acted on (the page the first sending went
    to, with a message saying so); None for a first sending."""
    key = _key(request, kind)
    if key is None:
        return None
    kept = IdempotencyKey.objects.filter(user=_sender(request), key=key).first()
    return None if kept is None else _repeat(request, kept.body["url"])


def record_sent(request: HttpRequest, kind: str, url: str) -> HttpResponseRedirect | None:
    """Record, as the last write of the view's transaction, that the form was acted on and
    went to ``url``. None when this sending is the first; when the same form was acted on
    meanwhile (two sendings at once), this sending's writes are rolled back and the answer
    is the repeat's."""
    key = _key(request, kind)
    if key is None:
        return None
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                user=_sender(request),
                key=key,
                fingerprint="",
                status_code=HttpResponseRedirect.status_code,
                body={"url": url},
            )
    except IntegrityError:
        kept = IdempotencyKey.objects.filter(user=_sender(request), key=key).first()
        transaction.set_rollback(True)  # the view's transaction: nothing of this sending
        return _repeat(request, kept.body["url"] if kept is not None else url)
    return None


def idempotency_keys_forget(*, days: int | None = None) -> int:
    """Forget the form tokens and API ``Idempotency-Key`` s older than ``days`` (the
    setting ``POINTS_IDEMPOTENCY_DAYS``, 30): a repeat is a matter of seconds or, for an
    API client retrying after an outage, of hours. Returns how many were forgotten."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    days = days if days is not None else settings.POINTS_IDEMPOTENCY_DAYS
    before = timezone.now() - timedelta(days=days)
    forgotten, _by_model = IdempotencyKey.objects.filter(created_at__lt=before).delete()
    return forgotten
