import hashlib

import pytest
from django.core.exceptions import FieldError

from tally.accounts.models import Role
from tally.audit.models import AuditEvent
from tally.disputes.models import Dispute
from tally.disputes.queries import dispute_detail
from tally.disputes.services import open_dispute
from tally.errors import DomainError, NotFound
from tally.internal_notes.models import InternalNote
from tally.internal_notes.queries import notes_for_dispute
from tally.internal_notes.services import add_internal_note
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispute(invoice, acme_user):
    return open_dispute(
        actor=acme_user, client=invoice.client, invoice_id=invoice.pk, reason="Labels doubled"
    )


def test_operators_and_platform_owners_add_notes_the_console_reads_in_order(dispute, operator):
    owner = make_user(Role.PLATFORM_OWNER)
    add_internal_note(actor=operator, dispute_id=dispute.pk, body="  Check dock 2 scanner  ")
    add_internal_note(actor=owner, dispute_id=dispute.pk, body="Goodwill up to $25 is fine")
    notes = notes_for_dispute(dispute.pk)
    assert [(n.author_email, n.body, n.dispute_id) for n in notes] == [
        (operator.email, "Check dock 2 scanner", dispute.pk),
        (owner.email, "Goodwill up to $25 is fine", dispute.pk),
    ]
    assert notes_for_dispute(dispute.pk + 1000) == []


def test_a_client_user_gets_not_found_even_on_their_own_dispute(dispute, acme_user):
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound) as err:
        add_internal_note(actor=acme_user, dispute_id=dispute.pk, body="Psst")
    assert str(err.value) == "not_found: dispute not found"
    assert not InternalNote.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_client_users_answer_is_the_same_for_a_missing_dispute(dispute, acme_user, operator):
    answers = []
    for dispute_id in (dispute.pk, dispute.pk + 1000):
        with pytest.raises(NotFound) as err:
            add_internal_note(actor=acme_user, dispute_id=dispute_id, body="x")
        answers.append(str(err.value))
    with pytest.raises(NotFound) as err:
        add_internal_note(actor=operator, dispute_id=dispute.pk + 1000, body="x")
    answers.append(str(err.value))
    assert len(set(answers)) == 1


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
def test_a_note_needs_a_body_of_bounded_length(dispute, operator, body):
    with pytest.raises(DomainError) as err:
        add_internal_note(actor=operator, dispute_id=dispute.pk, body=body)
    assert err.value.code == "invalid_note" and [p.field for p in err.value.problems] == ["body"]
    assert not InternalNote.objects.exists()


def test_adding_a_note_is_audited_under_the_disputes_client_without_its_words(dispute, operator):
    note = add_internal_note(
        actor=operator, dispute_id=dispute.pk, body="Scanner offline, OPS-1182"
    )
    event = AuditEvent.objects.get(action="internal_note.added")
    assert (event.object_type, event.object_id, event.client_id, event.actor_id) == (
        "internal_notes.internalnote",
        str(note.pk),
        dispute.client_id,
        operator.pk,
    )
    assert "OPS-1182" not in event.data
    assert hashlib.sha256(b"Scanner offline, OPS-1182").hexdigest() in event.data


def test_nothing_on_a_dispute_leads_to_its_internal_notes(dispute, operator):
    add_internal_note(actor=operator, dispute_id=dispute.pk, body="Secret disposition")
    visible = [
        f.name
        for f in Dispute._meta.get_fields()
        if getattr(f, "related_model", None) is InternalNote
    ]
    assert visible == []
    # Django keeps a hidden reverse relation for its own bookkeeping; it has no accessor.
    hidden = [
        f
        for f in Dispute._meta.get_fields(include_hidden=True)
        if getattr(f, "related_model", None) is InternalNote
    ]
    assert all(f.hidden and f.get_accessor_name() == "+" for f in hidden)
    assert not [name for name in dir(dispute) if "internal" in name.lower()]
    with pytest.raises(FieldError):
        Dispute.objects.filter(internalnote__body="Secret disposition").exists()
    assert "Secret disposition" not in repr(dispute_detail(dispute.pk))
