"""Every API error is JSON of one shape, ``{"errors": [{"code", "message", "field"}]}``:
a stable machine code, a message in the caller's language, and the field concerned (null
for the request as a whole). Services raise Django's ``ValidationError`` and
``PermissionDenied``; they are answered here exactly like DRF's own exceptions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler
from viewflow.fsm import TransitionNotAllowed

NON_FIELD = "non_field_errors"


class Conflict(exceptions.APIException):
    """The request is valid but the object is not in a state that allows it (a task that
    is already done, an idempotency key reused with another body)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The object is not in a state that allows this.")
    default_code = "conflict"


def _flatten(detail: Any, field: str | None = None) -> list[dict[str, Any]]:
    """DRF's nested error detail as a flat list; nested fields are dotted (``items.0.points``)."""
    if isinstance(detail, dict):
        errors = []
        for key, value in detail.items():
            name = None if key in (NON_FIELD, "__all__") else str(key)
            errors += _flatten(value, f"{field}.{name}" if field and name else field or name)
        return errors
    if isinstance(detail, list):
        if detail and all(isinstance(item, dict) for item in detail):  # a list of sub-objects
            errors = []
            for index, item in enumerate(detail):
                errors += _flatten(item, f"{field}.{index}" if field else str(index))
            return errors
        return [error for item in detail for error in _flatten(item, field)]
    code = getattr(detail, "code", None) or "invalid"
    return [{"code": str(code), "message": str(detail), "field": field}]


def _from_django(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(
            {
                field: [
                    exceptions.ErrorDetail(message, code=e.code or "invalid")
                    for e in errors
                    for message in e.messages
                ]
                for field, errors in error.error_dict.items()
            }
        )
    return exceptions.ValidationError(
        [
            exceptions.ErrorDetail(message, code=e.code or "invalid")
            for e in error.error_list
            for message in e.messages
        ]
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = _from_django(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, TransitionNotAllowed):
        exc = Conflict(code="task_not_available")
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: a 500, logged by Django
    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
    else:
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        errors = [{"code": str(code), "message": str(detail), "field": None}]
    response.data = {"errors": errors}
    return response


def _json_error(status_code: int, code: str, message: str) -> Any:
    from django.http import JsonResponse

    body = {"errors": [{"code": code, "message": message, "field": None}]}
    return JsonResponse(body, status=status_code, json_dumps_params={"ensure_ascii": False})


def api_or_page_not_found(request: Any, exception: Exception) -> Any:
    """``handler404``: a path under /api/ that matches no route answers in the API's error
    shape (JSON), not with the HTML page."""
    from django.views.defaults import page_not_found

    if request.path_info.startswith("/api/"):
        return _json_error(404, "not_found", str(exceptions.NotFound.default_detail))
    return page_not_found(request, exception)


def api_or_server_error(request: Any) -> Any:
    """``handler500``: JSON under /api/, the HTML page elsewhere."""
    from django.views.defaults import server_error

    if request.path_info.startswith("/api/"):
        return _json_error(500, "server_error", str(exceptions.APIException.default_detail))
    return server_error(request)
