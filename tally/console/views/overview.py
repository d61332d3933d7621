"""Where operators land after signing in."""

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from ..access import Console, operator_console


@operator_console
@require_GET
def home(request: HttpRequest, console: Console) -> HttpResponseBase:
    """The dispute desk, until the overview lands."""
    return redirect("console:disputes")
