"""The flow every posted console form follows.

`operator_console` comes first on every view, before the method check: a client user gets
a 404 whatever the method, never a 405 that would say the page exists.
"""

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from tally.errors import DomainError

from ..forms.common import KeyedForm
from ..services.submissions import AlreadySubmitted


def add_domain_errors(
    form: KeyedForm, error: DomainError, fields: Mapping[str, str] | None = None
) -> None:
    """A service's refusal, each problem next to its field (`fields` maps a service's field
    name to the form's), the rest above the form; as sentences."""
    fields = fields or {}
    if not error.problems:
        form.add_error(None, _sentence(error.message))
        return
    for problem in error.problems:
        field = fields.get(problem.field or "", problem.field)
        form.add_error(field if field in form.fields else None, _sentence(problem.message))


def _sentence(message: str) -> str:
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else f"{message}."


def submit(
    request: HttpRequest,
    *,
    form: KeyedForm,
    act: Callable[[dict[str, Any]], object],
    done: Callable[[], HttpResponse],
    again: Callable[[KeyedForm], HttpResponse],
    message: str,
    refused: Callable[[KeyedForm, DomainError], None] = add_domain_errors,
) -> HttpResponse:
    """One posted form: the service runs once per key; a refusal comes back as errors on
    the form (`again`, rendered with status 422), success as a message and `done` (a
    redirect, so a reload posts nothing)."""
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except AlreadySubmitted:
            pass  # the first submission did it; answer as it was answered
        except DomainError as e:
            refused(form, e)
        if not form.errors:
            messages.success(request, message)
            return done()
    response = again(form)
    response.status_code = 422
    return response
