"""``/api/v1/`` (the resources), ``/api/schema/`` (OpenAPI 3) and ``/api/docs/`` (Swagger UI,
served from our own static files)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from flows.api import catalog, declarations, ledger, publicity, shop


class Router(DefaultRouter):
    """JSON only: no ``.json`` format-suffix twins of every route."""

    include_root_view = True
    include_format_suffixes = False


router = Router()
MODULES = (catalog, declarations, publicity, ledger, shop)
for module in MODULES:
    module.register(router)

v1: list[Any] = [
    path("tokens/", catalog.TokenView.as_view(), name="token"),
    *(pattern for module in MODULES[1:] for pattern in module.urlpatterns),
    path("", include(router.urls)),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
]
