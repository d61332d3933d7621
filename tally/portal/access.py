"""Who is the client: resolved once, from the signed-in user, never from the request."""

import functools
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils import timezone

from tally.errors import NotFound
from tally.web import viewer_locale

from . import queries


@dataclass(frozen=True)
class Portal:
    """The signed-in client user's view of the world, handed to every portal view."""

    client: queries.ClientHeader
    today: date
    locale: str

    @property
    def client_id(self) -> int:
        return self.client.id


# The client's name, currency, time zone and address, as every portal page shows them: read
# once per HEADER_SECONDS per process rather than in a client scope of its own on every
# request. Keyed by the client the signed-in user belongs to, so nothing crosses clients;
# an edit to the client shows within that time.
HEADER_SECONDS = 30.0
_headers: dict[int, tuple[float, queries.ClientHeader]] = {}


def client_header(client_id: int) -> queries.ClientHeader:
    now = time.monotonic()
    cached = _headers.get(client_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    header = queries.client_header(client_id)
    _headers[client_id] = (now + HEADER_SECONDS, header)
    return header


def forget_client_headers() -> None:
    _headers.clear()


class SpelledDifferently(Exception):
    """The client's invoice, asked for under another spelling of its number."""

    def __init__(self, spelled: str, printed: str) -> None:
        self.spelled, self.printed = spelled, printed


class InvoiceNumberConverter:
    """An invoice number in a URL: `INV-` and ASCII digits, nothing else (Django anchors
    the pattern at both ends, so no trailing newline, no other script's digits)."""

    regex = "INV-[0-9]{1,18}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class CreditNoteNumberConverter:
    """A credit note number in a URL: `CN-` and ASCII digits, nothing else."""

    regex = "CN-[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value[3:])

    def to_url(self, value: str) -> str:
        return value


def client_portal(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Only client users; the client comes from their account. Anything not theirs is a 404."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        client_id = getattr(user, "client_id", None)
        if client_id is None:
            raise Http404("the client portal is for client users")
        header = client_header(client_id)
        tz = zoneinfo.ZoneInfo(header.time_zone)
        portal = Portal(
            client=header, today=timezone.now().astimezone(tz).date(), locale=viewer_locale(request)
        )
        with timezone.override(tz):
            try:
                return view(request, portal, *args, **kwargs)
            except NotFound as e:
                raise Http404(e.message) from None
            except SpelledDifferently as e:
                if request.method not in ("GET", "HEAD"):
                    raise Http404("no such invoice") from None
                path = request.get_full_path().replace(f"/{e.spelled}/", f"/{e.printed}/", 1)
                return HttpResponseRedirect(path)

    return wrapper
