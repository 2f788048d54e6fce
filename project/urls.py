from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language
from viewflow.contrib.auth import AuthViewset

from flows.member_search import member_search
from flows.views import evidence_download, notification_preferences
from project.site import site


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): the site's."""

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("viewflow/img/favicon.png")


urlpatterns = [
    path("favicon.ico", login_not_required(FaviconView.as_view())),
    path("accounts/", AuthViewset(with_profile_view=False).urls),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("evidence/<int:pk>/", evidence_download, name="evidence_download"),
    path("notifications/", notification_preferences, name="notification_preferences"),
    path("members/search/", member_search, name="member_search"),
    path("reports/", include("points.urls")),
    path("api/", include("flows.api.urls")),
    path("", site.urls),
]

handler404 = "flows.api.errors.api_or_page_not_found"
handler500 = "flows.api.errors.api_or_server_error"
