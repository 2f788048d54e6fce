"""Every string is translated into Simplified Chinese, and the compiled catalogue is current."""

from __future__ import annotations

from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parents[1] / "project" / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    po = polib.pofile(str(LOCALE / "django.po"))
    assert len(po) > 100
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []


def test_compiled_catalogue_matches_the_source() -> None:
    po = {
        (e.msgid, e.msgstr or str(e.msgstr_plural))
        for e in polib.pofile(str(LOCALE / "django.po"))
        if not e.obsolete
    }
    mo = {
        (e.msgid, e.msgstr or str(e.msgstr_plural)) for e in polib.mofile(str(LOCALE / "django.mo"))
    }
    assert po - mo == set(), "run: .venv/bin/python manage.py compilemessages --ignore=.venv"
