"""Template tags of the flows' pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.html import format_html

from flows import records
from flows.once import ONCE_FIELD, is_once_token, once_token
from flows.records import Record
from points.selectors import org

register = template.Library()


@register.simple_tag(takes_context=True)
def process_record(context: Any, process: Any) -> Record | None:
    """The record a process is about, as the request's user is shown it
    (flows/records.py), for ``{% record_card %}``."""
    return records.process_record(process, context["request"].user)


@register.simple_tag
def record_card(record: Record | None) -> str:
    """The record drawn as its card (its template escapes its text)."""
    if record is None:
        return ""
    return render_to_string(record.template, record.context)


@register.simple_tag
def person_name(user: Any) -> str:
    """A login's person by name (lists show people, not logins); empty for no login."""
    return org.person_name(user=user)


@register.simple_tag(takes_context=True)
def once_field(context: Any) -> str:
    """The hidden token of a form that starts something (``flows.once``): the one sent, when
    the page is drawn again with the form's errors, else a fresh one."""
    request = context.get("request")
    sent = request.POST.get(ONCE_FIELD, "") if request is not None else ""
    token = sent if is_once_token(sent) else once_token()
    return format_html('<input type="hidden" name="{}" value="{}">', ONCE_FIELD, token)
