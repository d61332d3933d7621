"""The console's URLs, grouped by part of the operator's work. Every view is wrapped in
`operator_console` (tests/console/test_access.py enumerates this list)."""

from django.urls import path

from .views import disputes, overview

app_name = "console"

urlpatterns = [
    path("", overview.home, name="home"),
    # The dispute desk
    path("disputes/", disputes.disputes, name="disputes"),
    path("disputes/<int:dispute_id>/", disputes.dispute, name="dispute"),
    path("disputes/<int:dispute_id>/reply/", disputes.reply, name="reply"),
    path("disputes/<int:dispute_id>/notes/", disputes.note, name="note"),
    path("disputes/<int:dispute_id>/resolve/", disputes.resolve, name="resolve"),
]
