"""Who reaches the console: operators and platform owners; a client user finds nothing."""

import re
import uuid
from datetime import date

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, reverse

from tally.accounts.models import Role
from tally.console import urls as console_urls
from tally.disputes.attachments import Upload
from tally.disputes.services import post_dispute_message
from tally.payments.services import report_payment
from tests.factories import draft_invoice, make_user, pay

pytestmark = pytest.mark.django_db


def _patterns(patterns, prefix=""):
    """Every console URL pattern, as (route, view), however deeply included."""
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


@pytest.fixture
def samples(dispute, acme, acme_user, billing_run, operator) -> dict[str, object]:
    """An object for each kind of id a console URL takes, by the parameter's name."""
    draft = draft_invoice(acme, picks=2, period=(date(2026, 9, 1), date(2026, 9, 30)))
    reply = post_dispute_message(
        actor=operator,
        client=acme,
        dispute_id=dispute.pk,
        body="The manifest, attached.",
        attachments=[Upload("manifest.csv", b"order,shipped\nSO-1,2026-11-03\n")],
    )
    return {
        "attachment_id": reply.attachments.get().pk,
        "dispute_id": dispute.pk,
        "invoice_id": draft.pk,
        "line_id": draft.lines.values_list("id", flat=True).first(),
        "run_id": billing_run.pk,
        "payment_id": pay(acme, 100, auto_allocate=False).payment.pk,
        "kind": "remittance",  # a queue of client notices (slug)
        "notice_id": report_payment(
            actor=acme_user,
            client=acme,
            amount_minor=100,
            currency="USD",
            paid_on=date(2026, 11, 20),
            method="ach",
            reference="",
            invoice_ids=[],
            key=uuid.uuid4(),
            today=date(2026, 11, 25),
        ).notice.pk,
    }


def console_urls_for(samples: dict[str, object]) -> list[str]:
    """Every console URL, its parameters filled in: a new page is in this list by itself
    (a new kind of parameter needs its sample in `samples`)."""
    root = reverse("console:home")
    urls = []
    for route, _view in _patterns(console_urls.urlpatterns):
        assert not route.startswith("^"), f"{route}: a regex route; fill it in here"

        for name in re.findall(r"<int:(\w+)>", route):
            assert name in samples, f"{route}: add a sample {name} to `samples`"
        filled = re.sub(
            r"<(?:(\w+):)?(\w+)>",
            lambda m: str(
                samples[m.group(2)] if m.group(1) == "int" else samples.get(m.group(2), "x")
            ),
            route,
        )
        urls.append(root + filled)
    return urls


def test_the_enumeration_finds_every_console_page(dispute, samples):
    urls = console_urls_for(samples)
    assert urls[0] == reverse("console:home") == "/console/"
    assert len(urls) == len(console_urls.urlpatterns) >= 6
    assert f"/console/disputes/{dispute.pk}/resolve/" in urls
    assert f"/console/payments/{samples['payment_id']}/refund/" in urls
    assert all(url.startswith("/console/") for url in urls)


def test_a_client_user_gets_404_on_every_console_url_whatever_the_method(acme_browser, samples):
    for url in console_urls_for(samples):
        for method in ("get", "post"):
            response = getattr(acme_browser, method)(url)
            assert response.status_code == 404, (method, url, response.status_code)


def test_a_client_user_gets_404_even_with_a_valid_csrf_token(acme_user, samples):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(acme_user)
    http.get("/")  # a CSRF cookie
    token = http.cookies["csrftoken"].value if "csrftoken" in http.cookies else ""
    for url in console_urls_for(samples):
        response = http.post(url, {"csrfmiddlewaretoken": token, "body": "hi"})
        assert response.status_code in (403, 404), url
        assert response.status_code != 200


def test_an_anonymous_visitor_is_sent_to_sign_in_from_every_console_url(client, samples):
    for url in console_urls_for(samples):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.PLATFORM_OWNER])
def test_operators_and_platform_owners_open_every_console_page(role, dispute, samples):
    http = HttpClient()
    http.force_login(make_user(role=role))
    for url in console_urls_for(samples):
        response = http.get(url, follow=True)
        # The pages answer; the forms' URLs accept POST only.
        assert response.status_code in (200, 405), (url, response.status_code)
    assert http.get(f"/console/disputes/{dispute.pk}/").status_code == 200


def test_an_inactive_operator_is_not_let_in(dispute):
    user = make_user(role=Role.OPERATOR)
    http = HttpClient()
    http.force_login(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert http.get("/console/disputes/").status_code in (302, 404)


def test_a_missing_dispute_is_a_404_for_an_operator(ops, dispute):
    assert ops.get(f"/console/disputes/{dispute.pk + 999}/").status_code == 404
    assert ops.post(f"/console/disputes/{dispute.pk + 999}/reply/", {}).status_code == 404


def test_every_console_view_accepts_only_its_methods(ops, dispute):
    base = f"/console/disputes/{dispute.pk}"
    assert ops.post("/console/disputes/").status_code == 405
    assert ops.post(f"{base}/").status_code == 405
    for action in ("reply", "notes", "resolve"):
        assert ops.get(f"{base}/{action}/").status_code == 405


def test_console_forms_refuse_a_post_without_csrf(operator, dispute):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(operator)
    for action in ("reply", "notes", "resolve"):
        response = http.post(f"/console/disputes/{dispute.pk}/{action}/", {"body": "hi"})
        assert response.status_code == 403


def test_operators_land_on_the_console_and_client_users_on_the_portal(ops, acme_browser):
    landing = ops.get("/")
    assert landing.status_code == 302 and landing["Location"] == reverse("console:home")
    overview = ops.get(landing["Location"])
    assert overview.status_code == 200 and "console/overview.html" in [
        t.name for t in overview.templates
    ]
    assert acme_browser.get("/").status_code == 200
