"""Choice lists narrower than what their field accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.forms.models import ModelChoiceIterator
from django.utils.functional import cached_property


class Offered(ModelChoiceIterator):
    """A choice list narrower than what its field accepts (the field accepts more so that
    it can say why a choice may not be used, or finds the rest by search), read only when
    the list is drawn."""

    def __init__(self, field: forms.ModelChoiceField, offered: Callable[[], Any]) -> None:
        self.field = field
        self.offered = offered

    @cached_property
    def queryset(self) -> Any:  # type: ignore[override]
        return self.offered()
