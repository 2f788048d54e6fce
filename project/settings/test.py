"""Test settings: the embedded default unless DATABASE_URL points at PostgreSQL."""

import atexit
import os
import shutil

from .base import *  # noqa: F403
from .base import BASE_DIR, env


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789abcdef"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
CELERY_TASK_ALWAYS_EAGER = not env("CELERY_BROKER_URL")
STATIC_ROOT = BASE_DIR / "var" / "test-static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
# The test client's login() authenticates without a request, which django-axes refuses;
# the lockout tests switch it on and log in through the form.
AXES_ENABLED = False
# Each test process its own forked-PDF slots, and a fixed number of them: the PDF-parts
# tests fork as they expect whatever the machine's cores and the other test processes do.
POINTS_PDF_FORK_SLOTS = 4
# Kept under var/ by process id: a process killed by a test (no atexit) leaves its
# directory behind, and the next test process removes those of processes that are gone.
_SLOT_ROOT = BASE_DIR / "var" / "test-pdf-slots"
_SLOT_ROOT.mkdir(parents=True, exist_ok=True)
for _left in _SLOT_ROOT.iterdir():
    if _left.name.isdecimal() and not _process_alive(int(_left.name)):
        shutil.rmtree(_left, ignore_errors=True)
POINTS_PDF_SLOT_DIR = str(_SLOT_ROOT / str(os.getpid()))
os.makedirs(POINTS_PDF_SLOT_DIR, mode=0o700, exist_ok=True)
atexit.register(shutil.rmtree, POINTS_PDF_SLOT_DIR, ignore_errors=True)
