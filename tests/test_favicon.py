"""The admin's pages name no icon, so browsers asked for /favicon.ico and got a 404."""

from __future__ import annotations

from django.test import Client


def test_the_favicon_is_the_sites_for_anybody() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("/viewflow/img/favicon.png")
