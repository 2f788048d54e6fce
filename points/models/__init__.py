from .catalog import RuleCategory, RuleItem, RuleKind
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
    "AuthorityTier",
    "CommitteeQuorum",
    "Education",
    "Member",
    "MemberKind",
    "MemberStatus",
    "OrgUnit",
    "Organisation",
    "Policy",
    "RuleCategory",
    "RuleItem",
    "RuleKind",
    "SummaryPeriod",
]
