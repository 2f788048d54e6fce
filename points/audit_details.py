"""An audit event's details in words, for the audit log page: each key of the event's
``data`` under a translated label, each value formatted (record ids as ``#12``, lists
joined, yes/no, codes such as roles by name). Nothing is dropped: a key without a label
shows under its own name, and the page keeps the raw data for auditors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext, pgettext, pgettext_lazy

from points.roles import Role

#: The keys services write into ``AuditEvent.data``, in the order the page lists them.
DETAIL_LABELS = {
    # the records the event is about
    "declaration": pgettext_lazy("audit detail", "declaration"),
    "notice": pgettext_lazy("audit detail", "award notice"),
    "summary": pgettext_lazy("audit detail", "summary"),
    "item": pgettext_lazy("audit detail", "item"),
    "redemption": pgettext_lazy("audit detail", "redemption"),
    "reward": pgettext_lazy("audit detail", "reward"),
    "entry": pgettext_lazy("audit detail", "ledger entry"),
    "refund": pgettext_lazy("audit detail", "refund entry"),
    "job": pgettext_lazy("audit detail", "import"),
    "rule": pgettext_lazy("audit detail", "rule item"),
    "code": pgettext_lazy("audit detail", "rule code"),
    "table": pgettext_lazy("audit detail", "prize table"),
    "award": pgettext_lazy("audit detail", "prize award"),
    "user": pgettext_lazy("audit detail", "user"),
    "username": pgettext_lazy("audit detail", "username"),
    "members": pgettext_lazy("audit detail", "members"),
    "to": pgettext_lazy("audit detail", "escalated to"),
    # what was decided
    "ruling": pgettext_lazy("audit detail", "ruling"),
    "points": pgettext_lazy("audit detail", "points"),
    "amount": pgettext_lazy("audit detail", "points in all"),
    "adjusted": pgettext_lazy("audit detail", "adjusted points"),
    "round": pgettext_lazy("audit detail", "sign-off round"),
    "roles": pgettext_lazy("audit detail", "roles"),
    "active": pgettext_lazy("audit detail", "active"),
    "revoked": pgettext_lazy("audit detail", "revoked"),
    "left_on": pgettext_lazy("audit detail", "left on"),
    "period_start": pgettext_lazy("audit detail", "period start"),
    "prize": pgettext_lazy("audit detail", "prize"),
    "winners": pgettext_lazy("audit detail", "winners"),
    "vetoed_skipped": pgettext_lazy("audit detail", "skipped for a veto"),
    # imports and postings: counts and keys
    "kind": pgettext_lazy("audit detail", "kind"),
    "via": pgettext_lazy("audit detail", "sent as"),
    "items": pgettext_lazy("audit detail", "items"),
    "rows": pgettext_lazy("audit detail", "rows"),
    "bad rows": pgettext_lazy("audit detail", "bad rows"),
    "notices": pgettext_lazy("audit detail", "notices created"),
    "imported": pgettext_lazy("audit detail", "items imported"),
    "posted": pgettext_lazy("audit detail", "posted"),
    "replayed": pgettext_lazy("audit detail", "already posted"),
    "held": pgettext_lazy("audit detail", "held"),
    "refused": pgettext_lazy("audit detail", "refused"),
    "not_reversed": pgettext_lazy("audit detail", "not reversed"),
    "first_key": pgettext_lazy("audit detail", "first key"),
    "last_key": pgettext_lazy("audit detail", "last key"),
    # requests
    "method": pgettext_lazy("audit detail", "request"),
    "path": pgettext_lazy("audit detail", "address"),
    "ip": pgettext_lazy("audit detail", "IP address"),
    # reasons last: the longest text
    "findings": pgettext_lazy("audit detail", "findings"),
    "reason": pgettext_lazy("audit detail", "reason"),
}

#: Keys whose values are record ids (one, or a list): shown as ``#12``.
ID_KEYS = frozenset(
    {
        "declaration", "notice", "summary", "item", "redemption", "reward", "entry", "refund",
        "job", "rule", "table", "award", "user", "members", "to", "vetoed_skipped",
    }
)  # fmt: skip

#: Codes in words, by key: ``{key: {code: label}}``. Apps that write other codes add theirs
#: at start-up (flows: rulings, import kinds); points never imports them.
VALUE_LABELS: dict[str, Mapping[str, Any]] = {
    "roles": dict(Role.choices),
    "via": {
        "file": pgettext_lazy("audit detail", "an uploaded file"),
        "api": pgettext_lazy("audit detail", "the API"),
    },
}


@dataclass(frozen=True)
class Detail:
    key: str  # as stored, for auditors (the page shows it as the label's title)
    label: str
    text: str


def _separator() -> str:
    return pgettext("list separator", ", ")


def _id(value: Any) -> str:
    return f"#{value}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _plain(value: Any) -> str:
    """Any JSON value as short text: lists joined, objects as ``key: value``."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list):
        return _separator().join(_plain(part) for part in value)
    if isinstance(value, dict):
        return _separator().join(f"{key}: {_plain(part)}" for key, part in value.items())
    return str(value)


def _joined(parts: list[str]) -> str:
    return _separator().join(parts) or "—"


def _pairs(value: Any, first: Callable[[Any], str]) -> str:
    """``[[a, why], …]``: each as ``a: why``."""
    if not isinstance(value, list):
        return _plain(value)
    return _joined(
        [
            f"{first(pair[0])}: {_plain(pair[1])}"
            if isinstance(pair, list) and len(pair) == 2
            else _plain(pair)
            for pair in value
        ]
    )


def _winners(value: Any) -> str:
    """``[[member id, place, prize], …]``."""
    if not isinstance(value, list):
        return _plain(value)
    place = pgettext("audit detail", "#%(member)s place %(place)s: %(prize)s")
    return _joined(
        [
            place % {"member": row[0], "place": row[1], "prize": row[2]}
            if isinstance(row, list) and len(row) == 3
            else _plain(row)
            for row in value
        ]
    )


def _adjusted(value: Any) -> str:
    """``{item id: points}``: each as ``#item → points``."""
    if not isinstance(value, dict):
        return _plain(value)
    return _joined([f"#{item} → {points}" for item, points in value.items()])


def _points(value: Any) -> str:
    """A rule's range ``[min, max]``, or one number."""
    if isinstance(value, list) and len(value) == 2:
        low, high = value
        return str(low) if low == high else f"{low}–{high}"
    return _plain(value)


FORMATS: dict[str, Callable[[Any], str]] = {
    "winners": _winners,
    "refused": lambda value: _pairs(value, str),
    "not_reversed": lambda value: _pairs(value, _id),
    "adjusted": _adjusted,
    "points": _points,
}


def _text(key: str, value: Any) -> str:
    if key in FORMATS:
        return FORMATS[key](value)
    if key in ID_KEYS and value not in (None, "", []):
        return _separator().join(map(_id, value)) if isinstance(value, list) else _id(value)
    words = VALUE_LABELS.get(key)
    if words:
        if isinstance(value, list):
            return _joined([str(words.get(part, part)) for part in value])
        if isinstance(value, str):
            return str(words.get(value, value)) or "—"
    return _plain(value)


def audit_details(data: Any) -> list[Detail]:
    """Each key of an event's data, labelled and formatted: the known keys in the order of
    ``DETAIL_LABELS``, the others after them by name under their own names."""
    if not isinstance(data, dict):
        return []
    order = {key: n for n, key in enumerate(DETAIL_LABELS)}
    keys = sorted(data, key=lambda key: (order.get(key, len(order)), str(key)))
    return [
        Detail(key=str(key), label=str(DETAIL_LABELS.get(key, key)), text=_text(key, data[key]))
        for key in keys
    ]


def audit_raw(data: Any) -> str:
    """The data as stored, as JSON (Chinese as it is), for the page's raw view."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True)
