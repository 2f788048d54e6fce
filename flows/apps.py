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
        register_demo(seed_publicity)

        from flows.bench import bench_flows, bench_publicity_pdf
        from points.bench import register

        register(bench_flows)
        register(bench_publicity_pdf)

        from flows.publicity_views import home_context
        from points.views import HOME_CONTEXT

        HOME_CONTEXT.append(home_context)
