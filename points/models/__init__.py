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
    RankBucket,
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
from .prizes import PrizeAward, PrizeBasis, PrizeGroup, PrizeTable, PrizeTier
from .shop import Reward, RewardKind

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
    "PrizeAward",
    "PrizeBasis",
    "PrizeGroup",
    "PrizeTable",
    "PrizeTier",
    "RankBucket",
    "Reward",
    "RewardKind",
    "RuleCategory",
    "RuleItem",
    "RuleKind",
    "SummaryPeriod",
    "Veto",
]
