"""Every write to accounts. Sign-in counters are written by tally.accounts.throttle."""

from django.db import transaction

from tally.audit.models import AuditAction
from tally.audit.services import record

from . import throttle
from .models import User


def reset_password(*, actor: User, user: User, password: str) -> User:
    """Set a new password from a password-reset link (already validated by the form).

    Changing the password changes the session auth hash, so every session opened with the
    old password ends. The account's sign-in throttles are lifted: whoever holds the
    mailbox has proved they are the owner.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        record(actor=actor, action=AuditAction.USER_PASSWORD_RESET, obj=locked)
        throttle.clear_account(locked.email)
    return locked
