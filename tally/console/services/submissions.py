"""A console form runs its work once, however often it is submitted.

A form carries a one-time key (`new_key`) drawn when the page was rendered; the first
submission claims it in the same transaction as the service's work, so a double click or
a resent request changes nothing the second time (`AlreadySubmitted`), and a refused
submission leaves the key unclaimed for the corrected form.

A claimed key is kept for `KEEP_FOR`, then purged (`purge_submissions`, daily by the
worker and `tally purge-form-submissions`): a browser resends a form within minutes, not
months, and a payment keeps its own idempotency key besides.
"""

import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from tally.accounts.models import User

from ..models import FormSubmission


class AlreadySubmitted(Exception):
    """This form was submitted before; its work is done (or under way) already."""


def new_key() -> str:
    return uuid.uuid4().hex


def claim(actor: User, key: uuid.UUID) -> None:
    """Claim a form's key inside the caller's transaction, or raise AlreadySubmitted.

    A second submission racing the first waits on the unique index until the first
    commits (then finds the key taken) or rolls back (then claims it itself).
    """
    try:
        with transaction.atomic():
            FormSubmission.objects.create(key=key, user=actor)
    except IntegrityError:
        raise AlreadySubmitted() from None


KEEP_FOR = timedelta(days=30)


def purge_submissions(older_than: timedelta = KEEP_FOR) -> int:
    """Forget the keys claimed more than `older_than` ago; how many were forgotten. Twice
    deletes nothing more."""
    deleted, _ = FormSubmission.objects.filter(
        submitted_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
