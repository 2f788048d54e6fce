from .audit import AuditEvent
from .catalog import RuleCategory, RuleItem, RuleKind
from .fixed import Attendance, FixedPointFactor, FixedPointRule
from .ledger import (
    Account,
    AppendOnlyError,
    EntryKind,
    LedgerEntry,
    Period,
    PeriodKind,
    PeriodTotal,
    Veto,
)
from .org import (
    AuthorityTier,
    CommitteeQuorum,
    Education,
    Member,
    MemberKind,
    MemberStatus,
    Organisation,
    OrgUnit,
    Policy,
    SummaryPeriod,
)

__all__ = [
    "Account",
    "AppendOnlyError",
    "Attendance",
    "AuditEvent",
    "AuthorityTier",
    "CommitteeQuorum",
    "Education",
    "EntryKind",
    "FixedPointFactor",
    "FixedPointRule",
    "LedgerEntry",
    "Member",
    "MemberKind",
    "MemberStatus",
    "OrgUnit",
    "Organisation",
    "Period",
    "PeriodKind",
    "PeriodTotal",
    "Policy",
    "RuleCategory",
    "RuleItem",
    "RuleKind",
    "SummaryPeriod",
    "Veto",
]
