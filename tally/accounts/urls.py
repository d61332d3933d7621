from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path("password/", views.change_password, name="change_password"),
    path("sessions/<int:session_id>/end/", views.end_session, name="end_session"),
    path("sessions/end-others/", views.end_other_sessions, name="end_other_sessions"),
    path("login/", views.SignInView.as_view(), name="login"),
    # Django 5's LogoutView accepts POST only: a link or an image cannot sign anyone out.
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("password-reset/", views.ResetPasswordView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.ResetPasswordSentView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        views.ResetPasswordConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", views.ResetPasswordCompleteView.as_view(), name="password_reset_complete"),
]
