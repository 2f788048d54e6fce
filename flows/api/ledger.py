"""API resources: (being written)."""

from __future__ import annotations

from typing import Any

#: Extra paths under /api/v1/ that are not router viewsets.
urlpatterns: list[Any] = []


def register(router: Any) -> None:
    """Register this module's viewsets on the v1 router."""
