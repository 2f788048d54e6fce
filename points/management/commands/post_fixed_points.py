from typing import Any

from django.core.management.base import BaseCommand, CommandError

from points.models import Organisation
from points.periods import parse_month
from points.services.accounts import fixed_points_post_month


class Command(BaseCommand):
    help = "Post the month's fixed points for every organisation (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--organisation", help="organisation code (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            month = parse_month(options["month"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        organisations = Organisation.objects.all()
        if options["organisation"]:
            organisations = organisations.filter(code=options["organisation"])
            if not organisations.exists():
                raise CommandError(f"no organisation has the code {options['organisation']!r}")
        for organisation in organisations:
            result = fixed_points_post_month(organisation=organisation, month=month)
            self.stdout.write(
                f"{organisation.code} {month:%Y-%m}: {len(result.posted)} posted, "
                f"{result.already_posted} already posted, {len(result.refused)} refused"
            )
            for item, reason in result.refused:
                self.stderr.write(f"  refused {item.idempotency_key}: {reason}")
