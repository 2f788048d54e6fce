"""viewflow registers its Process and Task admins for anyone with the model's view
permission, which every role holds (viewflow's own pages need it) and which would show
every organisation's processes. Here they are for superusers only; everyone else works
through the scoped flow pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from viewflow.workflow.admin import ProcessAdmin, TaskAdmin
from viewflow.workflow.models import Process, Task


class _SuperusersOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class SuperuserProcessAdmin(_SuperusersOnly, ProcessAdmin):  # type: ignore[misc]
    pass


class SuperuserTaskAdmin(_SuperusersOnly, TaskAdmin):  # type: ignore[misc]
    pass


for model, model_admin in ((Process, SuperuserProcessAdmin), (Task, SuperuserTaskAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
