"""Helpers for the sign-in tests."""

import re
from html.parser import HTMLParser

from django.urls import reverse

PASSWORD = "correct-horse-battery"  # tests.factories.make_user's default
HOME_ADDRESS = "198.51.100.20"  # the real user's address
ATTACKER = "203.0.113.66"


def sign_in(browser, email, password, address=HOME_ADDRESS, **data):
    return browser.post(
        reverse("accounts:login"),
        {"username": email, "password": password, **data},
        REMOTE_ADDR=address,
    )


def fail(browser, email, times, address=ATTACKER):
    for i in range(times):
        response = sign_in(browser, email, f"wrong-guess-{i}", address)
        assert response.status_code == 200


def signed_in(browser) -> bool:
    return "_auth_user_id" in browser.session


def comparable(response, *typed: str) -> str:
    """The page with what legitimately differs between two requests blanked out: the
    per-request CSRF token and the email the person typed."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', html)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": ""', html)
    for text in typed:
        html = html.replace(text, "«typed»")
    return html


class _Fields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs: list[str] = []
        self.labels: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") != "hidden":
            self.inputs.append(a.get("id") or "")
        if tag == "label" and a.get("for"):
            self.labels.append(a["for"])


def unlabelled_inputs(response) -> list[str]:
    parser = _Fields()
    parser.feed(response.content.decode())
    assert parser.inputs, "no visible inputs on the page"
    return [i for i in parser.inputs if not i or i not in parser.labels]
