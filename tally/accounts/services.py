"""Every write to accounts. Sign-in counters are written by tally.accounts.throttle."""

from collections.abc import Iterable
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from tally.audit.models import AuditAction
from tally.audit.services import record
from tally.errors import NotFound

from . import throttle
from .models import SignInSession, User


def _end_sessions(keys: Iterable[str]) -> None:
    """Delete the Django sessions themselves: the browsers holding them are signed out on
    their next request, whatever the session backend."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store().delete(key)


def _end_all_but(user: User, keep: str | None) -> list[str]:
    sessions = SignInSession.objects.filter(user=user).exclude(session_key=keep or "")
    keys = list(sessions.values_list("session_key", flat=True))
    sessions.delete()
    _end_sessions(keys)
    return keys


def reset_password(*, actor: User, user: User, password: str) -> User:
    """Set a new password from a password-reset link (already validated by the form).

    Every session opened with the old password ends: the change of session auth hash
    would refuse them on their next request anyway, and ending them here keeps the list
    of signed-in browsers true. The account's sign-in throttles are lifted: whoever
    holds the mailbox has proved they are the owner.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        record(actor=actor, action=AuditAction.USER_PASSWORD_RESET, obj=locked)
        throttle.clear_account(locked.email)
        _end_all_but(locked, keep=None)
    return locked


def change_password(*, user: User, password: str, current_session: str) -> User:
    """Change a signed-in user's password (the form has checked the old one and the
    validators). Every other browser signed in to the account is signed out; this one
    stays, once the view has given it the new session auth hash."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        ended = _end_all_but(locked, keep=current_session)
        record(
            actor=locked,
            action=AuditAction.USER_PASSWORD_CHANGED,
            obj=locked,
            after={"other_sessions_ended": len(ended)},
        )
    return locked


def record_sign_in(
    *, user: User, session_key: str, user_agent: str, ip_address: str | None
) -> SignInSession:
    """Name a new session (on Django's `user_logged_in`): the account page lists it."""
    session, _ = SignInSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "signed_in_at": timezone.now(),
            "user_agent": user_agent[:300],
            "ip_address": ip_address,
        },
    )
    return session


def forget_sign_in(session_key: str | None) -> None:
    """An ordinary sign-out (Django's `user_logged_out`): nothing to audit."""
    if session_key:
        SignInSession.objects.filter(session_key=session_key).delete()


def renamed_session(old_key: str | None, new_key: str | None) -> None:
    """Django gave the browser a new session key (a password change cycles it)."""
    if old_key and new_key and old_key != new_key:
        SignInSession.objects.filter(session_key=old_key).update(session_key=new_key)


def end_session(*, user: User, session_id: int, current_session: str) -> SignInSession:
    """Sign out one of the user's other browsers. Another user's session, or one that has
    already ended, is not found; this browser signs out with "Sign out" instead."""
    with transaction.atomic():
        session = (
            SignInSession.objects.select_for_update()
            .filter(user=user, pk=session_id)
            .exclude(session_key=current_session)
            .first()
        )
        if session is None:
            raise NotFound("no such session")
        record(
            actor=user,
            action=AuditAction.USER_SESSION_ENDED,
            obj=user,
            after={"signed_in_at": session.signed_in_at.isoformat(), "ip": session.ip_address},
        )
        session.delete()
        _end_sessions([session.session_key])
    return session


def end_other_sessions(*, user: User, current_session: str) -> int:
    """Sign out every browser of the user's but this one."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        ended = _end_all_but(locked, keep=current_session)
        if ended:
            record(
                actor=locked,
                action=AuditAction.USER_SESSION_ENDED,
                obj=locked,
                after={"sessions_ended": len(ended)},
            )
    return len(ended)


def purge_ended_sessions(now: datetime | None = None) -> int:
    """Drop expired Django sessions and the names of sessions that no longer exist (run
    daily by the worker): nothing else ever deletes an expired session."""
    now = now or timezone.now()
    Session.objects.filter(expire_date__lte=now).delete()
    gone, _ = SignInSession.objects.exclude(
        session_key__in=Session.objects.values("session_key")
    ).delete()
    return gone
