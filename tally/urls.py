from django.contrib import admin
from django.urls import include, path

from tally.portal.views import home

admin.site.site_header = "Tally — billing"
admin.site.site_title = "Tally"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("tally.accounts.urls")),
    path("console/", include("tally.console.urls")),
    path("", home, name="home"),
    path("", include("tally.portal.urls")),
]
