"""Who may use the console: operators and platform owners. Everyone else is told nothing.

A client user gets the same 404 as a page that does not exist, on every console URL
(tests/console/test_access.py enumerates them from the URLconf); an anonymous visitor is
sent to sign in, as on the portal.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from tally.accounts.models import User
from tally.errors import NotFound
from tally.web import viewer_locale


@dataclass(frozen=True)
class Console:
    """The signed-in operator's view of the world, handed to every console view."""

    user: User
    today: date
    locale: str


def is_console_user(user: object) -> bool:
    return isinstance(user, User) and user.is_active and user.is_operator


def operator_console(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Only operators and platform owners; a NotFound from a service is a 404."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_console_user(user):
            raise Http404("no such page")
        assert isinstance(user, User)
        console = Console(user=user, today=timezone.localdate(), locale=viewer_locale(request))
        try:
            return view(request, console, *args, **kwargs)
        except NotFound as e:
            raise Http404(e.message) from None

    return wrapper
