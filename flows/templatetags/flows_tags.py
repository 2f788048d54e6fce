"""Template tags of the flows' pages."""

from __future__ import annotations

from typing import Any

from django import template

from flows.inbox import SUBJECTS

register = template.Library()


@register.simple_tag
def task_subject(task: Any) -> str:
    """What a task is about, as its flow's task lists say it (flows/inbox.py); empty for a
    flow without subjects. Escaped when drawn."""
    subjects = SUBJECTS.get(task.flow_task.flow_class)
    return subjects([task.process_id]).get(task.process_id, "") if subjects else ""
