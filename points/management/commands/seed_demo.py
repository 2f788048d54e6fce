from typing import Any

from django.core.management.base import BaseCommand

from points.demo.seed import DEMO_LOGINS, DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Build the demo factory and village (idempotent) and print one login per role."

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed()
        if result.changed:
            for what, count in sorted(result.created.items()):
                self.stdout.write(f"created {count} {what}")
        else:
            self.stdout.write("demo data already present: nothing changed")
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, description in DEMO_LOGINS:
            self.stdout.write(f"  {role:<10} {username:<11} {description}")
