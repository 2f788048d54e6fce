from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = _("Processes")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from flows.demo import seed_declarations, seed_notices
        from flows.demo_publicity import seed_publicity
        from points.demo.seed import register_demo

        register_demo(seed_declarations)
        register_demo(seed_notices)

        from flows.demo_history import seed_history

        register_demo(seed_history)  # before the publicity demo closes last month
        register_demo(seed_publicity)

        from flows.demo_shop import seed_shop

        register_demo(seed_shop)  # after the publicity demo: last month's ranking exists

        from flows.demo_imports import seed_imports

        register_demo(seed_imports)

        from flows.bench import bench_flows, bench_publicity_pdf
        from points.bench import register

        register(bench_flows)
        register(bench_publicity_pdf)

        from flows.bench_mypoints import bench_my_points

        register(bench_my_points)

        from flows.publicity_views import home_context
        from points.views import HOME_CONTEXT

        HOME_CONTEXT.append(home_context)
        from flows.flows import inbox_home_context

        HOME_CONTEXT.append(inbox_home_context)

        from flows.models import ImportKind, Ruling
        from points.audit_details import VALUE_LABELS

        VALUE_LABELS.update(ruling=dict(Ruling.choices), kind=dict(ImportKind.choices))
