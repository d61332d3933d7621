from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<int:dispute_id>/", views.dispute, name="dispute"),
    path("disputes/<int:dispute_id>/reply/", views.reply, name="reply"),
    path("disputes/<int:dispute_id>/notes/", views.note, name="note"),
    path("disputes/<int:dispute_id>/resolve/", views.resolve, name="resolve"),
]
