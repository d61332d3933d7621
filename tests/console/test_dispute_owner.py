"""Who works a dispute: an operator takes it, gives it back, or takes it over from another;
the desk shows the owner and lists mine, unowned or all."""

import uuid
from datetime import date

import pytest
from django.test import Client as HttpClient

from tally.accounts.models import Role
from tally.audit.models import AuditAction, AuditEvent
from tally.console.queries.disputes import DeskOwner, dispute_desk
from tally.disputes.models import Dispute
from tally.disputes.services import open_dispute, release_dispute, take_dispute
from tally.errors import DomainError
from tests.factories import issued_invoice, make_user

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 3)


def key() -> str:
    return uuid.uuid4().hex


def take_url(dispute) -> str:
    return f"/console/disputes/{dispute.pk}/take/"


def browser(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


@pytest.fixture
def alice(db):
    user = make_user(Role.OPERATOR, email="alice@northwind.example")
    user.full_name = "Alice Moreau"
    user.save()
    return user


@pytest.fixture
def bob(db):
    user = make_user(Role.OPERATOR, email="bob@northwind.example")
    user.full_name = "Bob Okafor"
    user.save()
    return user


def test_an_operator_takes_an_unowned_dispute_and_it_is_audited(alice, dispute):
    http = browser(alice)
    response = http.post(take_url(dispute), {"key": key(), "from_owner": ""})
    assert response.status_code == 302
    assert response["Location"] == f"/console/disputes/{dispute.pk}/#owner"
    dispute.refresh_from_db()
    assert dispute.owner_id == alice.pk and dispute.owned_since is not None
    [event] = AuditEvent.objects.filter(action=AuditAction.DISPUTE_TAKEN)
    assert event.actor_id == alice.pk
    assert '"owner_id":null' in event.data.replace(" ", "")
    page = http.get(response["Location"]).content.decode()
    assert "You took the dispute on" in page and "You own this dispute" in page
    assert "Give it back" in page


def test_another_operator_takes_it_over_with_a_note_of_who_had_it(alice, bob, dispute):
    take_dispute(actor=alice, client=dispute.client, dispute_id=dispute.pk, from_owner_id=None)
    page = browser(bob).get(f"/console/disputes/{dispute.pk}/").content.decode()
    assert "Owned by <strong>Alice Moreau</strong>" in page
    assert "Take it over from Alice Moreau" in page
    http = browser(bob)
    response = http.post(take_url(dispute), {"key": key(), "from_owner": alice.pk})
    assert response.status_code == 302
    page = http.get(response["Location"]).content.decode()
    assert "You took the dispute on" in page and "over from Alice Moreau." in page
    assert "taken over from Alice Moreau" in page
    dispute.refresh_from_db()
    assert (dispute.owner_id, dispute.previous_owner_id) == (bob.pk, alice.pk)
    [_, over] = AuditEvent.objects.filter(action=AuditAction.DISPUTE_TAKEN).order_by("id")
    assert over.actor_id == bob.pk and '"taken_over":true' in over.data.replace(" ", "")


def test_taking_a_dispute_someone_took_meanwhile_is_refused_naming_them(alice, bob, dispute):
    page_key = key()  # Bob's page showed nobody as the owner
    take_dispute(actor=alice, client=dispute.client, dispute_id=dispute.pk, from_owner_id=None)
    response = browser(bob).post(take_url(dispute), {"key": page_key, "from_owner": ""})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Alice Moreau has taken this dispute meanwhile. Reload to see who has it now." in html
    # The page, read again, offers to take it over from her.
    assert "Take it over from Alice Moreau" in html
    dispute.refresh_from_db()
    assert dispute.owner_id == alice.pk


def test_the_owner_gives_it_back_and_nobody_else_can(alice, bob, dispute):
    take_dispute(actor=alice, client=dispute.client, dispute_id=dispute.pk, from_owner_id=None)
    with pytest.raises(DomainError) as refused:
        release_dispute(actor=bob, client=dispute.client, dispute_id=dispute.pk)
    assert refused.value.code == "not_dispute_owner"
    response = browser(alice).post(f"/console/disputes/{dispute.pk}/give-back/", {"key": key()})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.owner_id is None and dispute.previous_owner_id == alice.pk
    assert AuditEvent.objects.filter(action=AuditAction.DISPUTE_RELEASED).count() == 1
    page = browser(bob).get(f"/console/disputes/{dispute.pk}/").content.decode()
    assert "Nobody owns this dispute." in page and "given back by Alice Moreau" in page


def test_a_client_user_cannot_take_a_dispute(acme_user, dispute):
    with pytest.raises(DomainError) as refused:
        take_dispute(
            actor=acme_user, client=dispute.client, dispute_id=dispute.pk, from_owner_id=None
        )
    assert refused.value.code == "forbidden"


def test_a_resolved_dispute_cannot_be_taken(alice, dispute):
    Dispute.objects.filter(pk=dispute.pk).update(
        status="resolved", resolution="upheld", resolved_at="2026-12-01T10:00:00Z"
    )
    with pytest.raises(DomainError) as refused:
        take_dispute(actor=alice, client=dispute.client, dispute_id=dispute.pk, from_owner_id=None)
    assert refused.value.code == "dispute_resolved"


def test_the_desk_lists_mine_unowned_or_all_and_shows_the_owner(alice, bob, acme, acme_user):
    disputes = []
    for n in range(3):
        invoice = issued_invoice(acme, picks=5 + n)
        disputes.append(
            open_dispute(actor=acme_user, client=acme, invoice_id=invoice.pk, reason=f"#{n}")
        )
    take_dispute(actor=alice, client=acme, dispute_id=disputes[0].pk, from_owner_id=None)
    take_dispute(actor=bob, client=acme, dispute_id=disputes[1].pk, from_owner_id=None)

    def listed(owner, who=alice):
        desk = dispute_desk(TODAY, owner=owner, operator_id=who.pk)
        return [row.id for row in desk.rows], desk.total

    ids = [d.pk for d in disputes]
    assert listed(DeskOwner.ALL) == (ids, 3)
    assert listed(DeskOwner.MINE) == ([ids[0]], 1)
    assert listed(DeskOwner.MINE, bob) == ([ids[1]], 1)
    assert listed(DeskOwner.UNOWNED) == ([ids[2]], 1)

    http = browser(alice)
    html = http.get("/console/disputes/").content.decode()
    assert "Bob Okafor" in html and "<strong>You</strong>" in html
    assert html.count("Unowned</span>") == 1
    assert 'aria-current="page">All</a>' in html
    mine = http.get("/console/disputes/?owner=mine").content.decode()
    assert "1 open dispute of yours" in mine and 'aria-current="page">Mine</a>' in mine
    unowned = http.get("/console/disputes/?owner=unowned").content.decode()
    assert "1 open dispute nobody has taken" in unowned
    assert http.get("/console/disputes/?owner=nonsense").status_code == 200


def test_take_from_the_desk_goes_back_to_the_desk_as_it_was(alice, dispute):
    response = browser(alice).post(
        take_url(dispute),
        {"key": key(), "from_owner": "", "next": "desk", "back": "?owner=unowned"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/disputes/?owner=unowned"
    # Only a query string is followed: never another site.
    response = browser(alice).post(
        take_url(dispute), {"key": key(), "from_owner": "", "next": "desk", "back": "//evil"}
    )
    assert response["Location"] == "/console/disputes/"


def test_the_desk_pages_keep_the_owner_filter(alice, acme, acme_user):
    for n in range(3):
        invoice = issued_invoice(acme, picks=5 + n)
        open_dispute(actor=acme_user, client=acme, invoice_id=invoice.pk, reason=f"#{n}")
    desk = dispute_desk(TODAY, limit=2, owner=DeskOwner.UNOWNED, operator_id=alice.pk)
    assert len(desk.rows) == 2 and desk.next_cursor
    nxt = dispute_desk(
        TODAY, cursor=desk.next_cursor, limit=2, owner=DeskOwner.UNOWNED, operator_id=alice.pk
    )
    assert len(nxt.rows) == 1
