"""The audit log: who did what, when. Append-only, like the ledger."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .ledger import AppendOnlyError
from .org import Member, Organisation


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the audit log is append-only")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("the audit log is append-only")


#: What each action code means, for the audit log page (the code stays in the row).
ACTION_LABELS = {
    "declaration.submit": _("declaration submitted"),
    "declaration.resubmit": _("declaration resubmitted"),
    "declaration.approve": _("declaration approved"),
    "declaration.reject": _("declaration rejected"),
    "declaration.return": _("declaration returned for revision"),
    "declaration.escalate": _("declaration escalated"),
    "declaration.escalate_overdue": _("overdue review escalated"),
    "declaration.withdraw": _("declaration withdrawn"),
    "notice.issue": _("notice issued"),
    "notice.sign": _("notice signed"),
    "notice.reject": _("notice rejected"),
    "notice.escalate": _("notice passed to the next level to sign"),
    "summary.open": _("summary opened"),
    "summary.exclude": _("item excluded from a summary"),
    "summary.submit": _("summary submitted for sign-off"),
    "summary.sign": _("summary signed"),
    "summary.reject": _("summary rejected"),
    "summary.returned": _("summary returned"),
    "summary.published": _("summary published"),
    "summary.post": _("summary posted to the ledger"),
    "appeal.lodge": _("appeal lodged"),
    "appeal.reexamine": _("appeal re-examined"),
    "appeal.rule": _("appeal ruled"),
    "redemption.request": _("redemption requested"),
    "redemption.approve": _("redemption approved"),
    "redemption.reject": _("redemption rejected"),
    "redemption.fulfil": _("redemption fulfilled"),
    "redemption.cancel": _("redemption withdrawn"),
    "ledger.post": _("points posted"),
    "ledger.reverse": _("entry reversed"),
    "period.close": _("month closed"),
    "prizes.award": _("prizes awarded"),
    "prizes.paid": _("prize paid"),
    "import.upload": _("import uploaded"),
    "import.confirm": _("import confirmed"),
    "import.events": _("events imported"),
    "import.attendance": _("attendance imported"),
    "catalog.create": _("rule item created"),
    "catalog.change": _("rule item changed"),
    "catalog.delete": _("rule item deleted"),
    "member.leave": _("member left"),
    "role.grant": _("roles granted"),
    "role.revoke": _("roles revoked"),
    "auth.lockout": _("login locked out"),
    "api.token_revoke": _("API token revoked"),
    "permission.denied": _("access refused"),
}


class AuditEvent(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=60, db_index=True)
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the audit log is append-only")

    @property
    def action_label(self) -> str:
        """The action in words (``ACTION_LABELS``), or its code if it has none."""
        return str(ACTION_LABELS.get(self.action, self.action))
