"""What every page shares: security headers, the page context (`operator_name`), the
viewer's locale and files to download."""

from collections.abc import Callable
from typing import TypeVar

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    """A strict Content-Security-Policy and friends, on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.user.is_authenticated if hasattr(request, "user") else False:
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


def context(request: HttpRequest) -> dict[str, object]:
    return {"operator_name": settings.TALLY_OPERATOR_NAME}


# The locales pages format money and dates in; the viewer's browser picks among them.
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "ja_JP", "en_CA", "fr_CA", "es_ES"]


def viewer_locale(request: HttpRequest) -> str:
    """The locale the viewer's browser asks for (Accept-Language), among `LOCALES`."""
    header = request.headers.get("Accept-Language", "")
    wanted = [
        part.split(";")[0].strip().replace("-", "_") for part in header.split(",") if part.strip()
    ]
    try:
        found = Locale.negotiate(wanted, LOCALES)
    except (UnknownLocaleError, ValueError):
        found = None
    return str(found) if found else "en_US"


R = TypeVar("R", bound=HttpResponseBase)


def save_as(response: R, filename: str) -> R:
    """`response` as a file to save, never shown inline, under `filename` (from stored
    data, never the URL; quoted by Django, so no name can break the header)."""
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    """`content` as a file to save under `filename` (`save_as`)."""
    return save_as(HttpResponse(content, content_type=content_type), filename)
