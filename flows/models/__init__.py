from .api import IdempotencyKey
from .declarations import (
    AwardNotice,
    Declaration,
    DeclarationItem,
    DeclarationStatus,
    Evidence,
    NoticeItem,
    NoticeStatus,
    Notification,
    NotificationFrequency,
    NotificationPreference,
)
from .imports import ImportJob, ImportJobNotice, ImportKind, ImportStatus
from .publicity import (
    Appeal,
    AppealStatus,
    ItemStatus,
    Ruling,
    SignOff,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from .redemption import Redemption, RedemptionStatus

__all__ = [
    "Appeal",
    "AppealStatus",
    "AwardNotice",
    "Declaration",
    "DeclarationItem",
    "DeclarationStatus",
    "Evidence",
    "IdempotencyKey",
    "ImportJob",
    "ImportJobNotice",
    "ImportKind",
    "ImportStatus",
    "ItemStatus",
    "NoticeItem",
    "NoticeStatus",
    "Notification",
    "NotificationFrequency",
    "NotificationPreference",
    "Redemption",
    "RedemptionStatus",
    "Ruling",
    "SignOff",
    "Summary",
    "SummaryItem",
    "SummaryStatus",
]
