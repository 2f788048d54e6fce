"""Login is required for every page, except the REST API, which authenticates by itself
(a token or the session) and answers an anonymous caller with 401 JSON, not a redirect."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest

API_PREFIX = "/api/"


class LoginRequiredMiddleware(DjangoLoginRequired):
    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> Any:
        if request.path_info.startswith(API_PREFIX):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class AuditDenialsMiddleware:
    """Every refused request (a 403 from any view, the API, CSRF or a permission check)
    writes an audit row: who asked for what, and when."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        if response.status_code == 403:
            from points.services.audit import audit_denial

            reason = ""
            data = getattr(response, "data", None)
            if isinstance(data, dict) and data.get("errors"):
                reason = data["errors"][0].get("message", "")
            audit_denial(request=request, reason=reason)
        return response


class SiteForEveryPageMiddleware:
    """Pages outside the viewflow Site's URLs (the reports, the notification settings, the
    evidence download's 403) are drawn by the same base template, which takes the theme
    and the menu from ``request.resolver_match.site``: give them our Site too, so that no
    page loses the colours or the way back. The admin and the API have their own look."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> None:
        match = request.resolver_match
        if match is None or getattr(match, "site", None) is not None:
            return
        if request.path_info.startswith((API_PREFIX, "/admin/")):
            return
        from project.site import site

        match.site = site  # type: ignore[attr-defined]
