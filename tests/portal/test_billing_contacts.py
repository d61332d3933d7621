"""Who receives the client's invoices and reminders: seen by every client user, kept by
the client's account admin, never another client's."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role, User
from tally.audit.models import AuditAction, AuditEvent
from tally.clients.models import BillingContact
from tally.portal import queries

pytestmark = pytest.mark.django_db

PAGE = reverse("portal:billing_contacts")
ADD = reverse("portal:add_contact")


def browser_for(user: User) -> HttpClient:
    browser = HttpClient()
    browser.force_login(user)
    return browser


@pytest.fixture
def admin(acme) -> User:
    return User.objects.create_user(
        "admin@acme.example",
        "pw-long-enough-2026",
        role=Role.CLIENT_USER,
        client=acme,
        is_client_admin=True,
    )


@pytest.fixture
def clerk(acme) -> User:
    return User.objects.create_user(
        "clerk@acme.example", "pw-long-enough-2026", role=Role.CLIENT_USER, client=acme
    )


def emails(client) -> list[str]:
    return sorted(BillingContact.objects.filter(client=client).values_list("email", flat=True))


def test_every_client_user_sees_their_own_clients_contacts_only(acme, globex, clerk):
    page = browser_for(clerk).get(PAGE).content.decode()
    assert "ap@acme.example" in page and "ap@globex.example" not in page
    assert "Add someone" not in page and "Remove" not in page
    assert [c.email for c in queries.billing_contacts(acme.pk)] == ["ap@acme.example"]


def test_the_admin_adds_a_contact_and_it_is_audited(acme, admin):
    browser = browser_for(admin)
    response = browser.post(
        ADD, {"name": "Dana Payables", "email": "Dana@Acme.example"}, follow=True
    )
    assert (
        "dana@acme.example will receive your invoices and reminders." in response.content.decode()
    )
    assert emails(acme) == ["ap@acme.example", "dana@acme.example"]
    event = AuditEvent.objects.get(action=AuditAction.BILLING_CONTACT_ADDED)
    assert event.actor_id == admin.pk and event.client_id == acme.pk


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("ap@acme.example", "That address already receives them."),
        ("not-an-email", "Enter a valid email address."),
    ],
)
def test_a_bad_contact_is_refused_next_to_its_field(acme, admin, email, error):
    response = browser_for(admin).post(ADD, {"name": "Someone", "email": email})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_email-error"' in page and error in page
    assert 'value="Someone"' in page  # nothing typed is lost
    assert emails(acme) == ["ap@acme.example"]


def test_a_clerk_who_is_not_the_admin_cannot_add(acme, clerk):
    response = browser_for(clerk).post(ADD, {"name": "Mallory", "email": "mallory@evil.example"})
    assert response.status_code == 422
    assert "account admin" in response.content.decode()
    assert emails(acme) == ["ap@acme.example"]


def test_the_admin_removes_a_contact_but_never_the_last(acme, admin):
    browser = browser_for(admin)
    browser.post(ADD, {"name": "Dana", "email": "dana@acme.example"})
    ap = BillingContact.objects.get(client=acme, email="ap@acme.example")
    response = browser.post(reverse("portal:remove_contact", args=[ap.pk]), follow=True)
    assert "ap@acme.example will no longer receive them." in response.content.decode()
    assert emails(acme) == ["dana@acme.example"]
    dana = BillingContact.objects.get(client=acme, email="dana@acme.example")
    response = browser.post(reverse("portal:remove_contact", args=[dana.pk]), follow=True)
    assert "The last billing contact stays" in response.content.decode()
    assert emails(acme) == ["dana@acme.example"]
    assert AuditEvent.objects.filter(action=AuditAction.BILLING_CONTACT_REMOVED).count() == 1


def test_another_clients_contact_is_a_404(acme, globex, admin):
    theirs = BillingContact.objects.get(client=globex)
    browser = browser_for(admin)
    browser.post(ADD, {"name": "Dana", "email": "dana@acme.example"})
    response = browser.post(reverse("portal:remove_contact", args=[theirs.pk]))
    assert response.status_code == 404
    assert emails(globex) == ["ap@globex.example"]


def test_an_operator_gets_a_404_on_the_clients_contact_page(operator):
    assert browser_for(operator).get(PAGE).status_code == 404


def test_only_a_client_user_can_be_a_client_admin(operator):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=operator.pk).update(is_client_admin=True)
