"""The OpenAPI schema documents every error an operation can answer with, in the one
error shape of ``flows.api.errors``, so clients (and schemathesis) can rely on it."""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "stable machine code"},
                    "message": {"type": "string", "description": "in the caller's language"},
                    "field": {
                        "type": "string",
                        "nullable": True,
                        "description": "the field concerned; null for the whole request",
                    },
                },
                "required": ["code", "message", "field"],
            },
        }
    },
    "required": ["errors"],
}

#: status → description; 409 only where a state or an idempotency key can conflict.
ERRORS = {
    "400": "Bad input: every problem with its code and field.",
    "401": "Not authenticated: send `Authorization: Token <key>` or log in.",
    "403": "Not allowed for this user or object.",
    "404": "Not found, or not visible to this user.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "The object's state (or an Idempotency-Key) conflicts with the request.",
    "415": "Unsupported media type.",
    "429": "Too many requests.",
}
READ_ONLY_ERRORS = ("401", "403", "404", "405", "406", "429")


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: add the Error component and its responses."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = READ_ONLY_ERRORS if method == "get" else tuple(ERRORS)
            parameters = operation.get("parameters", [])
            if method == "get" and any(p.get("in") == "query" for p in parameters):
                codes = (*codes, "400")  # a bad filter or page
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": ERRORS[code], "content": reference})
    return result
