"""API test helpers: ``api(member)`` is a DRF client authenticated with that member's
token (in English unless ``lang`` says otherwise); ``errors(response)`` lists the codes."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from points.models import Member

V1 = "/api/v1/"


@pytest.fixture
def api():  # type: ignore[no-untyped-def]
    def _api(member: Member | None = None, lang: str = "en") -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE=lang)
        if member is not None:
            token, _created = Token.objects.get_or_create(user=member.user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return _api


def codes(response: Any) -> list[str]:
    """The error codes of a JSON error response, in order."""
    return [error["code"] for error in response.json()["errors"]]


def fields(response: Any) -> list[str | None]:
    return [error["field"] for error in response.json()["errors"]]
