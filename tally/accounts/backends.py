"""Email-and-password sign-in, throttled (see tally.accounts.throttle).

Throttling lives in the authentication backend rather than in one form, so every way in
that checks a password — the sign-in page, the admin's login page, any future API login —
is counted and refused alike.
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from . import throttle
from .models import User


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        email = throttle.normalize_email(username)
        if request is None:
            # Called from code, not from the network (a script, the test client's login):
            # there is no address to count against.
            return super().authenticate(None, username=email, password=password)
        address = throttle.client_address(request)
        # Counted before the password is looked at, so concurrent guesses cannot slip
        # under the limit together.
        admission = throttle.admit(email, address)
        if admission is None:
            # Refused before the password is looked at; PermissionDenied stops
            # django.contrib.auth.authenticate from asking any other backend.
            raise PermissionDenied("sign-in throttled")
        # For an unknown email ModelBackend still runs the password hasher once, so unknown
        # and wrong-password take about the same time.
        user = super().authenticate(request, username=email, password=password)
        if user is not None:
            throttle.record_success(email, address, admission)
        return user

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )
