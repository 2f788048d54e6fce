"""Ids typed into requests (``?member=``, a ticked box, ``?unit=``)."""

from __future__ import annotations

from typing import Any

MAX_ID = 2**63 - 1  # the largest id PostgreSQL's and SQLite's integer keys hold


def id_from(text: Any) -> int | None:
    """A database id written in ASCII digits, else None: ``str.isdigit`` also takes "²"
    (which ``int`` refuses) and numbers too large for the database."""
    text = str(text).strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
