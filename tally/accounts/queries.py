"""Reads of accounts: the browsers a user is signed in on."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.sessions.models import Session
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import SignInSession, User


@dataclass(frozen=True)
class SignedIn:
    id: int
    signed_in_at: datetime
    device: str
    ip_address: str | None
    current: bool


# Enough of a user agent to tell one's own browsers apart, first match wins: "Firefox on
# Windows". Not a parser of every agent; an unknown one shows as "Unknown browser".
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_device(user_agent: str) -> str:
    browser = next((name for mark, name in BROWSERS if mark in user_agent), "Unknown browser")
    system = next((name for mark, name in SYSTEMS if mark in user_agent), "")
    return f"{browser} on {system}" if system else browser


def signed_in_sessions(user: User, current_session: str | None) -> list[SignedIn]:
    """The user's live sessions, this one first, then the latest sign-in first. A session
    that has expired is left out even before the daily purge removes it."""
    live = Session.objects.filter(
        session_key=OuterRef("session_key"), expire_date__gt=timezone.now()
    )
    rows = (
        SignInSession.objects.filter(user=user)
        .filter(Exists(live))
        .order_by("-signed_in_at", "-id")
        .values_list("id", "session_key", "signed_in_at", "user_agent", "ip_address")
    )
    sessions = [
        SignedIn(id, at, describe_device(agent), ip, key == current_session)
        for id, key, at, agent, ip in rows
    ]
    return sorted(sessions, key=lambda s: not s.current)
