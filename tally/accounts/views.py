"""Sign in, sign out, and reset a forgotten password — Django's own views, configured.

The pages are Jinja2 templates (`accounts/jinja2/registration/`), the emails plain-text
Django templates (`accounts/templates/registration/`). They have names of their own
(registration/reset_password_*): the admin app, listed first in INSTALLED_APPS, ships
registration/password_reset_*.html, which Django's engine would find first.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tally.errors import NotFound

from . import queries, services, throttle
from .forms import ChangePasswordForm, NewPasswordForm, ResetRequestForm, SignInForm
from .models import User


class SignInView(auth_views.LoginView):
    """Django's LoginView: on success `login()` gives the browser a new session key
    (no session fixation); the backend throttles; the form gives one answer for every
    refusal."""

    form_class = SignInForm
    template_name = "registration/login.html"


class SignOutView(auth_views.LogoutView):
    """Django's LogoutView (POST only), and a word on the sign-in page it leads to: without
    it, a clerk who signed out on a shared computer could not tell that it worked."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have been signed out.")
        return response


@method_decorator(never_cache, name="dispatch")  # the page carries a CSRF token
class ResetPasswordView(auth_views.PasswordResetView):
    """Asks for an email and always answers the same way, whether or not it has an account;
    only an active account with a password gets a link. Requests are budgeted per address
    (over it: "try again later", 429) and per mailbox (over it: the same answer, no email)."""

    template_name = "registration/reset_password_form.html"
    form_class = ResetRequestForm
    email_template_name = "registration/reset_password_email.txt"
    subject_template_name = "registration/reset_password_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: ResetRequestForm) -> HttpResponse:  # type: ignore[override]
        decision = throttle.count_reset_request(
            form.cleaned_data["email"], throttle.client_address(self.request)
        )
        if decision.refused:
            wait = throttle.minutes(decision.wait)
            form.add_error(
                None,
                "Too many reset requests from your network. "
                f"Try again in {wait} minute{'s' if wait != 1 else ''}.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        if not decision.send:
            return HttpResponseRedirect(self.get_success_url())
        self.extra_email_context = {
            "operator_name": settings.TALLY_OPERATOR_NAME,
            "valid_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
        }
        return super().form_valid(form)


class ResetPasswordSentView(auth_views.PasswordResetDoneView):
    template_name = "registration/reset_password_sent.html"


class ResetPasswordConfirmView(auth_views.PasswordResetConfirmView):
    """The emailed link: Django swaps the token in the URL for one in the session before
    showing the form, so the token never leaks through a Referer header."""

    template_name = "registration/reset_password_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")


class ResetPasswordCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/reset_password_complete.html"


def _account_page(
    request: HttpRequest, form: ChangePasswordForm, status: int = 200
) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    return render(
        request,
        "accounts/account.html",
        {
            "form": form,
            "sessions": queries.signed_in_sessions(user, request.session.session_key),
        },
        status=status,
    )


@never_cache
@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """One's own account: the password, and the browsers signed in to it."""
    assert isinstance(request.user, User)
    return _account_page(request, ChangePasswordForm(request.user))


@never_cache
@login_required
@require_POST
def change_password(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    form = ChangePasswordForm(request.user, request.POST)
    if not form.is_valid():
        return _account_page(request, form, status=422)
    current = request.session.session_key or ""
    user = services.change_password(
        user=form.user, password=form.cleaned_data["new_password1"], current_session=current
    )
    update_session_auth_hash(request, user)  # this browser stays signed in, under a new key
    services.renamed_session(current, request.session.session_key)
    messages.success(
        request, "Your password has been changed. Every other browser has been signed out."
    )
    return redirect("accounts:account")


@login_required
@require_POST
def end_session(request: HttpRequest, session_id: int) -> HttpResponse:
    assert isinstance(request.user, User)
    try:
        ended = services.end_session(
            user=request.user,
            session_id=session_id,
            current_session=request.session.session_key or "",
        )
    except NotFound as missing:
        raise Http404("no such session") from missing
    device = queries.describe_device(ended.user_agent)
    messages.success(request, f"{device} has been signed out.")
    return redirect("accounts:account")


@login_required
@require_POST
def end_other_sessions(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    count = services.end_other_sessions(
        user=request.user, current_session=request.session.session_key or ""
    )
    messages.success(
        request,
        f"{count} other browser{'s' if count != 1 else ''} signed out."
        if count
        else "No other browser was signed in.",
    )
    return redirect("accounts:account")
