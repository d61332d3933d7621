from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Tally — billing"
admin.site.site_title = "Tally"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Until the client portal lands, the start page is the operator's read-only admin.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
