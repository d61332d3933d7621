"""Answering what a client told the 3PL about money, once per submitted form: apply the
credit it asked to have applied, or decline (the client reads why). Remittance advice is
answered by recording its payment (services.payments.record_received_payment), or, when
the payment is recorded already, by closing it as matched to that payment."""

import uuid

from django.db import transaction

from tally.accounts.models import User
from tally.actions.payments import apply_credit_on_request
from tally.clients.models import Client
from tally.errors import NotFound
from tally.payments.models import ClientNotice, Payment
from tally.payments.services import decline_notice, match_remittance

from .submissions import claim


def client_of_notice(notice_id: int) -> Client:
    client_id = (
        ClientNotice.objects.filter(pk=notice_id).values_list("client_id", flat=True).first()
    )
    if client_id is None:
        raise NotFound("request")
    return Client.objects.get(pk=client_id)


@transaction.atomic
def apply_requested_credit(*, actor: User, notice_id: int, key: uuid.UUID) -> ClientNotice:
    claim(actor, key)
    return apply_credit_on_request(
        actor=actor, client=client_of_notice(notice_id), notice_id=notice_id
    )


@transaction.atomic
def decline(*, actor: User, notice_id: int, reason: str, key: uuid.UUID) -> ClientNotice:
    claim(actor, key)
    return decline_notice(
        actor=actor, client=client_of_notice(notice_id), notice_id=notice_id, reason=reason
    )


@transaction.atomic
def match_to_payment(
    *, actor: User, notice_id: int, payment_id: int, key: uuid.UUID
) -> ClientNotice:
    """Close remittance advice as matched to a payment of its client recorded already (it
    was recorded without starting from the advice): done, naming the payment."""
    claim(actor, key)
    owner = client_of_notice(notice_id)
    payment = Payment.objects.filter(pk=payment_id, client=owner).first()
    if payment is None:
        raise NotFound("payment")
    return match_remittance(actor=actor, client=owner, notice_id=notice_id, payment=payment)
