"""Login protection: django-axes locks a username after five failed logins (logged in the
audit log; an admin unlocks it), the session key rotates on login, and logout ends the
session for good."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from points.models import AuditEvent
from tests.conftest import Org
from tests.factories import TEST_PASSWORD

LOGIN = "/accounts/login/"


def _attempt(client: Client, username: str, password: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": password})


def test_five_failures_lock_the_account_and_an_admin_unlocks_it(org: Org, settings: Any) -> None:
    settings.AXES_ENABLED = True
    username = org.worker_a1.user.username
    client = Client()
    for _ in range(4):
        response = _attempt(client, username, "wrong")
        assert response.status_code == 200  # the form again, with its error
    assert not AuditEvent.objects.filter(action="auth.lockout").exists()
    locked = _attempt(client, username, "wrong")  # the fifth
    assert locked.status_code == 429
    assert "locked-out" in locked.content.decode()
    # Now even the right password is refused, from any client.
    again = _attempt(Client(), username, TEST_PASSWORD)
    assert again.status_code == 429 and "_auth_user_id" not in again.wsgi_request.session
    events = AuditEvent.objects.filter(action="auth.lockout")  # each refused attempt
    assert events.count() == 2
    assert {(e.member, e.data["username"]) for e in events} == {(org.worker_a1, username)}
    # Other accounts are not affected.
    assert _attempt(Client(), org.worker_b.user.username, TEST_PASSWORD).status_code == 302

    # An administrator unlocks the account in the admin (axes' access attempts).
    admin = get_user_model().objects.create_superuser("root", password=TEST_PASSWORD)
    staff = Client()
    staff.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    from axes.models import AccessAttempt

    attempts = list(AccessAttempt.objects.filter(username=username).values_list("pk", flat=True))
    assert attempts
    response = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302
    assert _attempt(Client(), username, TEST_PASSWORD).status_code == 302


def test_a_success_before_the_limit_resets_the_count(org: Org, settings: Any) -> None:
    settings.AXES_ENABLED = True
    username = org.worker_a1.user.username
    for _ in range(4):
        _attempt(Client(), username, "wrong")
    assert _attempt(Client(), username, TEST_PASSWORD).status_code == 302
    for _ in range(4):
        _attempt(Client(), username, "wrong")
    assert _attempt(Client(), username, TEST_PASSWORD).status_code == 302


def test_the_session_key_rotates_on_login(org: Org) -> None:
    client = Client()
    session = client.session
    session["seen"] = True
    session.save()
    client.cookies["sessionid"] = session.session_key
    before = session.session_key
    assert _attempt(client, org.worker_a1.user.username, TEST_PASSWORD).status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()


def test_logout_invalidates_the_session(org: Org) -> None:
    client = Client()
    assert _attempt(client, org.worker_a1.user.username, TEST_PASSWORD).status_code == 302
    key = client.cookies["sessionid"].value
    assert client.get("/points/rule_catalog/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies["sessionid"] = key  # the old cookie, kept by an attacker
    response = replay.get("/points/rule_catalog/")
    assert response.status_code == 302 and LOGIN in response["Location"]
