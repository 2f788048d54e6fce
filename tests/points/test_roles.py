"""Roles are groups with the permissions written in points.roles (and the README)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from points.roles import ROLE_PERMISSIONS, Role
from points.services.org import role_grant, role_revoke
from tests.conftest import Org

pytestmark = pytest.mark.django_db


def test_each_role_group_has_exactly_its_permissions(db: object) -> None:
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(perms), role


def test_readme_documents_every_role_permission() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    readme = readme.split("## Roles and permissions", 1)[1].split("\n## ", 1)[0]
    for role, perms in ROLE_PERMISSIONS.items():
        assert f"| {role} |" in readme, role
        line = next(line for line in readme.splitlines() if line.startswith(f"| {role} |"))
        for perm in perms:
            assert perm.split(".")[1] in line, (role, perm)


def test_hr_and_admin_are_staff_others_are_not(org: Org) -> None:
    assert org.hr.user.is_staff and org.admin.user.is_staff
    assert not org.worker_a1.user.is_staff and not org.committee.user.is_staff


def test_granting_and_revoking_a_role(org: Org) -> None:
    user = org.worker_b.user
    role_grant(user=user, role=Role.COMMITTEE)
    assert user.groups.filter(name="committee").exists()
    role_revoke(user=user, role=Role.COMMITTEE)
    assert not user.groups.filter(name="committee").exists()
    with pytest.raises(ValueError):
        role_grant(user=user, role=Role.LEADER)  # derived from the tree, not granted


def test_member_who_leaves_loses_the_member_role(org: Org) -> None:
    member = org.worker_b
    member.status = "left"
    member.save()
    assert not member.user.groups.filter(name="member").exists()
