"""Every string is translated into Simplified Chinese, and the compiled catalogue is current."""

from __future__ import annotations

from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "project" / "locale" / "zh_Hans" / "LC_MESSAGES"
VENDOR = ROOT / "project" / "locale_vendor" / "zh_Hans" / "LC_MESSAGES"


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


def test_viewflow_strings_have_a_current_chinese_catalogue() -> None:
    po = polib.pofile(str(VENDOR / "django.po"))
    assert len(po) > 80 and po.untranslated_entries() == []
    mo = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(VENDOR / "django.mo"))}
    assert all(mo.get((e.msgctxt, e.msgid)) == e.msgstr for e in po)
