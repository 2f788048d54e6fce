"""Form widgets shared by the pages' forms and filters."""

from __future__ import annotations

from typing import Any

from django import forms

#: The only format an ``<input type="date">`` reads and writes, whatever the UI language.
ISO_DATE = "%Y-%m-%d"


class IsoDateInput(forms.DateInput):
    """A browser's date picker (``<input type="date">``). Its value must be ISO
    (2026-11-30): a plain ``DateInput`` writes the locale's first input format (zh-hans:
    2026/11/30), which the browser rejects, leaving the field empty."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_DATE)
