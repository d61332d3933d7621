"""The desk after the client writes: back to "our turn", with what is new, in its place in
the queue (oldest dispute first)."""

import uuid
from datetime import date

import pytest

from tally.console.queries.disputes import Turn, dispute_desk
from tally.console.services.disputes import reply_to_dispute
from tally.disputes.services import open_dispute, post_dispute_message
from tests.factories import issued_invoice

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 3)


def test_a_client_message_after_our_reply_puts_the_dispute_back_to_our_turn_in_its_place(
    acme, acme_user, operator
):
    disputes = [
        open_dispute(
            actor=acme_user,
            client=acme,
            invoice_id=issued_invoice(acme, picks=3 + n).pk,
            reason=f"Dispute {n}",
        )
        for n in range(3)
    ]
    oldest = disputes[0]

    def rows():
        return [(r.id, r.turn, r.news) for r in dispute_desk(TODAY).rows]

    ids = [d.pk for d in disputes]
    assert rows() == [(pk, Turn.OPERATOR, "New dispute") for pk in ids]
    assert dispute_desk(TODAY).waiting == 3

    reply_to_dispute(actor=operator, dispute_id=oldest.pk, body="Checking.", key=uuid.uuid4())
    assert rows()[0] == (oldest.pk, Turn.CLIENT, None)
    assert dispute_desk(TODAY).waiting == 2

    post_dispute_message(actor=acme_user, client=acme, dispute_id=oldest.pk, body="And?")
    assert rows() == [
        (oldest.pk, Turn.OPERATOR, "New message from the client"),
        (ids[1], Turn.OPERATOR, "New dispute"),
        (ids[2], Turn.OPERATOR, "New dispute"),
    ]
    assert dispute_desk(TODAY).waiting == 3


def test_the_desk_says_what_is_new(ops, acme, acme_user, operator, dispute):
    reply_to_dispute(actor=operator, dispute_id=dispute.pk, body="Checking.", key=uuid.uuid4())
    post_dispute_message(actor=acme_user, client=acme, dispute_id=dispute.pk, body="And?")
    html = ops.get("/console/disputes/").content.decode()
    assert "Our turn" in html and "New message from the client" in html
