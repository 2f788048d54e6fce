"""Close every publicity window that has ended: post its unchallenged and ruled items."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from flows.publicity import publicity_close_due


class Command(BaseCommand):
    help = "Post the batches whose publicity window has ended (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = publicity_close_due()
        self.stdout.write(
            f"closed {result.summaries} windows: posted {result.posted} items, "
            f"refused {result.refused}, held under appeal {result.held}"
        )
