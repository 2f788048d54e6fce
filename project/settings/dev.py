"""The embedded default: SQLite, eager Celery, local files, console e-mail."""

from .base import *  # noqa: F403
