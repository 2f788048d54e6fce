"""Roles are Django groups. This module is the one place that says what each role may do.

The README's "Roles and permissions" table is written from ``ROLE_PERMISSIONS``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MEMBER = "member", _("member")
    LEADER = "leader", _("leader")
    RECORDER = "recorder", _("recorder")
    HR = "hr", _("HR")
    COMMITTEE = "committee", _("committee")
    ADMIN = "admin", _("administrator")


_VIEW_CATALOG = ["points.view_ruleitem", "points.view_orgunit", "viewflow.view_process"]

#: Model permissions each role's group holds. Object-level scope (own organisation, own
#: unit subtree, never one's own declaration) is checked by the views and services on top.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.MEMBER: [*_VIEW_CATALOG],
    Role.LEADER: [*_VIEW_CATALOG, "points.view_member"],
    Role.RECORDER: [*_VIEW_CATALOG, "points.view_member"],
    Role.HR: [
        *_VIEW_CATALOG,
        "points.view_member",
        "points.add_member",
        "points.change_member",
        "points.add_orgunit",
        "points.change_orgunit",
        "points.view_policy",
        "points.view_authoritytier",
        "points.view_historicalruleitem",
        # The points shop and prize tables (the admin, scoped to the organisation).
        "points.view_reward",
        "points.add_reward",
        "points.change_reward",
        "points.view_prizetable",
        "points.add_prizetable",
        "points.change_prizetable",
        "points.view_prizetier",
        "points.add_prizetier",
        "points.change_prizetier",
        "points.delete_prizetier",
        "points.view_prizeaward",
    ],
    Role.COMMITTEE: [
        *_VIEW_CATALOG,
        "points.view_member",
        "points.view_policy",
        "points.view_historicalruleitem",
    ],
    Role.ADMIN: [
        "viewflow.view_process",
        "points.view_organisation",
        "points.view_policy",
        "points.change_policy",
        "points.view_authoritytier",
        "points.add_authoritytier",
        "points.change_authoritytier",
        "points.delete_authoritytier",
        "points.view_orgunit",
        "points.add_orgunit",
        "points.change_orgunit",
        "points.delete_orgunit",
        "points.view_member",
        "points.add_member",
        "points.change_member",
        "points.view_ruleitem",
        "points.add_ruleitem",
        "points.change_ruleitem",
        "points.view_historicalruleitem",
    ],
}

#: Roles whose users may open the Django admin (scoped to their own organisation).
STAFF_ROLES = frozenset({Role.HR, Role.ADMIN})

#: Roles derived from the data rather than granted by hand.
DERIVED_ROLES = frozenset({Role.MEMBER, Role.LEADER})
