"""A form that starts something, sent twice, acts once: a double tap on a phone, or the
form sent again after a slow answer, must not declare, award or spend twice.

The page carries a fresh token (``once_token``, in the hidden field ``ONCE_FIELD``). The
token and what the form says (``request_fingerprint``, as for the API's keys) make a key,
kept as an ``IdempotencyKey`` row (as the API's ``Idempotency-Key``), unique per user. A view,
inside the start page's transaction:

1. ``Once.repeat()`` first, before it reads or writes anything: a key already kept
   answers with the page the first sending went to, and a message saying so;
2. ``Once.claim()`` after the form is valid and before the first write, in the same
   savepoint as the writes: of two sendings at once, the second waits on the key's unique
   index until the first commits, and then answers as a repeat without writing anything
   (no second process, no evidence files, no "out of stock" for what it just bought). A
   refusal after the claim (the service's ``ValidationError``) rolls the claim back with
   the savepoint, so the corrected form acts;
3. ``Once.done(url, said)`` after the writes: where the repeat is sent, and what it is
   told of the first sending.

The same token with a changed form (the page reached again with Back, then edited) is a
new sending. A form sent without a token (an old page) acts as before.
"""

from __future__ import annotations

import hashlib
import json
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


def request_fingerprint(request: Any) -> str:
    """What a request says (a Django or a REST framework request): its method, path and
    body, JSON canonically, form fields sorted, files by content. The API's
    ``Idempotency-Key`` and the forms' tokens are kept with it."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.content_type and request.content_type.startswith("application/json"):
        try:
            body: Any = json.loads(request.body or b"null")
        except ValueError:
            body = request.body.decode(errors="replace")
        digest.update(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
    else:
        for key in sorted(request.POST):
            digest.update(f"{key}={request.POST.getlist(key)}\n".encode())
        for key in sorted(request.FILES):
            for upload in request.FILES.getlist(key):
                file_digest = hashlib.sha256()
                for chunk in upload.chunks():
                    file_digest.update(chunk)
                upload.seek(0)
                digest.update(f"{key}:{file_digest.hexdigest()}\n".encode())
    return digest.hexdigest()


class Once:
    """The once-only guard of one POST of a start page (see the module's docstring).
    ``fallback``: where a repeat goes if the first sending's page is not known."""

    def __init__(self, request: HttpRequest, kind: str, fallback: str) -> None:
        self.request = request
        self.fallback = fallback
        token = request.POST.get(ONCE_FIELD, "")
        self.key: str | None = None
        if is_once_token(token):
            # the page's token, and what the form says: the page sent again with other
            # content (after Back) is another sending; its csrf and once tokens are the
            # page's, the same in both sendings of a double tap
            self.fingerprint = request_fingerprint(request)
            self.key = f"web:{kind}:{token}:{self.fingerprint[:20]}"
        self._row: IdempotencyKey | None = None

    def _kept(self) -> IdempotencyKey | None:
        user: Any = self.request.user  # logged in: the start pages need a login
        return IdempotencyKey.objects.filter(user=user, key=self.key).first()

    def _repeat(self, kept: IdempotencyKey | None) -> HttpResponseRedirect:
        """Where the first went, with one message (a page shows the last only): this was
        not sent again, and what the first sending's page said (in a double tap the
        browser shows the repeat's answer, not the first's)."""
        body = kept.body if kept is not None and isinstance(kept.body, dict) else {}
        already = _("This form had already been sent: it was not sent again.")
        said = body.get("said")
        messages.info(self.request, f"{already} {said}" if said else already)
        return HttpResponseRedirect(body.get("url") or self.fallback)

    def repeat(self) -> HttpResponseRedirect | None:
        """The answer to a repeat of a form already acted on; None for a first sending."""
        if self.key is None:
            return None
        kept = self._kept()
        return None if kept is None else self._repeat(kept)

    def claim(self) -> HttpResponseRedirect | None:
        """Take the key before the first write (see the module's docstring); the answer to
        a repeat when another sending holds it."""
        if self.key is None:
            return None
        try:
            with transaction.atomic():
                self._row = IdempotencyKey.objects.create(
                    user=self.request.user,  # type: ignore[misc]  # logged in
                    key=self.key,
                    fingerprint=self.fingerprint,
                    status_code=HttpResponseRedirect.status_code,
                    body={},
                )
        except IntegrityError:
            return self._repeat(self._kept())
        return None

    def done(self, url: str, said: str = "") -> None:
        """The page this sending went to and what it said there, for its repeats."""
        if self._row is not None:
            body = {"url": url, "said": str(said)}
            IdempotencyKey.objects.filter(pk=self._row.pk).update(body=body)


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
