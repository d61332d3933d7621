"""Billing runs: the operator starts one; the worker makes the drafts."""

import uuid
from datetime import date

from django.db import transaction

from tally.accounts.models import User
from tally.invoicing.models import BillingRun
from tally.invoicing.services import start_billing_run

from .submissions import claim


@transaction.atomic
def start_run(
    *, actor: User, month: date, client_ids: list[int] | None, today: date, key: uuid.UUID
) -> BillingRun:
    """Queue the month's run for the worker, once per submitted form."""
    claim(actor, key)
    return start_billing_run(actor=actor, month=month, client_ids=client_ids, today=today)
