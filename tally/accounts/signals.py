"""Sign-in and sign-out name and forget the browser's session (accounts.SignInSession)."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from . import services, throttle


@receiver(user_logged_in, dispatch_uid="tally.accounts.record_sign_in")
def _signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Django's test client `force_login` signs in without a request's session key.
    if request is None or not getattr(request, "session", None):
        return
    key = request.session.session_key
    if key is None:
        return
    address = request.META.get("REMOTE_ADDR") or None
    services.record_sign_in(
        user=user,
        session_key=key,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=address if throttle.client_address(request) != "unknown" else None,
    )


@receiver(user_logged_out, dispatch_uid="tally.accounts.forget_sign_in")
def _signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and getattr(request, "session", None):
        services.forget_sign_in(request.session.session_key)
