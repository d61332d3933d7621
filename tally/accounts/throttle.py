"""Sign-in throttling: per (email, address) pair and per address, never per email alone.

- A pair — one email tried from one address — may fail `PAIR.limit` times within
  `PAIR.window`; then it waits `PAIR.first_wait`, doubling with each further lockout up to
  `PAIR.max_wait`. Someone guessing one account's password is slowed to a crawl, while the
  account's owner, signing in from their own address, is not affected.
- An address may fail `ADDRESS.limit` times within `ADDRESS.window` across all emails
  (password spraying); then every sign-in from it waits, escalating the same way.
- There is deliberately no lock keyed on the email alone: it would let anyone anywhere
  lock a real user out by typing their email with wrong passwords.

Throttled attempts are refused before the password is checked. Unknown emails are counted
exactly like known ones, so the throttle reveals nothing about which accounts exist.
A successful sign-in clears its pair; a completed password reset clears every pair of the
account. Lockouts are forgotten after a quiet day (`FORGET_AFTER`).

Password-reset requests are budgeted the same way (`count_reset_request`): per address
(`RESET_ADDRESS`: someone walking a list of emails is told to wait) and per mailbox
(`RESET_EMAIL`: after a few reset emails within the hour, more requests get the usual
answer but send nothing, so nobody can flood a person's inbox, and the answer still says
nothing about whether the account exists). A budget on the email alone is safe here: it
limits emails sent, never signing in.

Counts live in the database (`LoginThrottle`), not a per-process cache, so they hold
across every worker. Stale rows are removed by `tally purge-login-throttle`.
"""

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import LoginThrottle, ThrottleScope


@dataclass(frozen=True)
class Rule:
    limit: int
    window: timedelta
    first_wait: timedelta
    max_wait: timedelta

    def wait_for(self, lockouts: int) -> timedelta:
        return min(self.first_wait * 2 ** max(lockouts - 1, 0), self.max_wait)


PAIR = Rule(
    limit=5,
    window=timedelta(minutes=15),
    first_wait=timedelta(minutes=5),
    max_wait=timedelta(hours=1),
)
ADDRESS = Rule(
    limit=50,
    window=timedelta(minutes=15),
    first_wait=timedelta(minutes=15),
    max_wait=timedelta(hours=1),
)
RESET_EMAIL = Rule(
    limit=3,
    window=timedelta(hours=1),
    first_wait=timedelta(hours=1),
    max_wait=timedelta(hours=4),
)
RESET_ADDRESS = Rule(
    limit=20,
    window=timedelta(minutes=15),
    first_wait=timedelta(minutes=15),
    max_wait=timedelta(hours=1),
)
FORGET_AFTER = timedelta(days=1)

RULES = {
    ThrottleScope.PAIR: PAIR,
    ThrottleScope.ADDRESS: ADDRESS,
    ThrottleScope.RESET_EMAIL: RESET_EMAIL,
    ThrottleScope.RESET_ADDRESS: RESET_ADDRESS,
}


def now() -> datetime:
    """The throttle's clock (tests move it)."""
    return timezone.now()


def normalize_email(value: str) -> str:
    """Accounts are stored with lower-case emails; sign-in matches them the same way."""
    return value.strip().lower()


def client_address(request: HttpRequest | None) -> str:
    """The address a request came from, as the throttle counts it.

    Taken from REMOTE_ADDR. A deployment behind a reverse proxy or load balancer must set
    REMOTE_ADDR from the header its trusted proxy writes (and only from that), or every
    request will appear to come from the proxy and share one address's budget. Never trust
    X-Forwarded-For straight from the client: it would let an attacker pick a fresh
    address per attempt.

    An IPv6 client is counted by its /64, the block a single subscriber usually holds.
    """
    raw = (request.META.get("REMOTE_ADDR") if request is not None else None) or ""
    try:
        ip = ipaddress.ip_address(raw.strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _digest(*parts: str) -> str:
    return salted_hmac(
        "tally.accounts.throttle", "\x00".join(parts), algorithm="sha256"
    ).hexdigest()


def _keys(email: str, address: str) -> list[tuple[str, str, str]]:
    """(scope, key, account) for the two counters a sign-in attempt touches, in lock order."""
    email = normalize_email(email)
    return [
        (ThrottleScope.PAIR, _digest("pair", email, address), _digest("account", email)),
        (ThrottleScope.ADDRESS, _digest("address", address), ""),
    ]


def _wait(until: datetime | None, at: datetime) -> int:
    return max(0, math.ceil((until - at).total_seconds())) if until else 0


def wait_seconds(email: str, address: str) -> int:
    """How long this email from this address must wait before the password is even checked."""
    at = now()
    condition = Q()
    for scope, key, _ in _keys(email, address):
        condition |= Q(scope=scope, key=key)
    until = LoginThrottle.objects.filter(condition, locked_until__gt=at).aggregate(
        until=Max("locked_until")
    )["until"]
    return _wait(until, at)


def record_failure(email: str, address: str) -> int:
    """Count one failed sign-in against its pair and its address.

    Returns the wait now in force (0 when none).
    """
    return _count(_keys(email, address))


@dataclass(frozen=True)
class Admission:
    """A sign-in attempt let through to its password check, already counted."""

    at: datetime
    locked_address: bool  # counting this attempt is what locked its address


def admit(email: str, address: str) -> Admission | None:
    """Count a sign-in attempt as a failure *before* its password is checked; None, and
    nothing counted, when its pair or its address must wait.

    Checking first and counting after would let concurrent attempts all pass the check
    before any of them is counted (one per worker at each lockout). Counted first, under
    the counters' row locks, at most `limit` passwords are checked per window. A correct
    password then takes its count back (`record_success`).
    """
    at = now()
    with transaction.atomic():
        rows = [_claim(scope, key, account, at) for scope, key, account in _keys(email, address)]
        if any(row.locked_until and row.locked_until > at for row in rows):
            return None
        locked = [_add_failure(row, RULES[ThrottleScope(row.scope)], at) for row in rows]
    return Admission(at=at, locked_address=locked[1])


def _claim(scope: str, key: str, account: str, at: datetime) -> LoginThrottle:
    """The counter row, created if new, locked until the transaction ends. The insert
    cannot race, so concurrent attempts from several workers all find the same row."""
    LoginThrottle.objects.bulk_create(
        [
            LoginThrottle(
                scope=scope, key=key, account=account, window_started_at=at, last_failure_at=at
            )
        ],
        ignore_conflicts=True,
    )
    return LoginThrottle.objects.select_for_update().get(scope=scope, key=key)


def _add_failure(row: LoginThrottle, rule: Rule, at: datetime) -> bool:
    """Count one failure on a claimed row and save it; True when it locks the counter."""
    if at - row.last_failure_at > FORGET_AFTER:
        row.lockouts = 0
    if at - row.window_started_at > rule.window:
        row.failures = 0
        row.window_started_at = at
    row.failures += 1
    row.last_failure_at = at
    locks = row.failures >= rule.limit
    if locks:
        row.lockouts += 1
        row.locked_until = at + rule.wait_for(row.lockouts)
        row.failures = 0
        row.window_started_at = at
    row.save()
    return locks


def _count(keys: list[tuple[str, str, str]]) -> int:
    """Count one attempt against each counter; returns the longest wait now in force."""
    at = now()
    longest = 0
    with transaction.atomic():
        for scope, key, account in keys:
            row = _claim(scope, key, account, at)
            if row.locked_until and row.locked_until > at:
                # A request that raced past the check: already waiting, not extended.
                longest = max(longest, _wait(row.locked_until, at))
                continue
            if _add_failure(row, RULES[ThrottleScope(scope)], at):
                longest = max(longest, _wait(row.locked_until, at))
    return longest


@dataclass(frozen=True)
class ResetDecision:
    send: bool  # email the link (when the account exists)
    wait: int  # seconds this address must wait; 0 unless refused

    @property
    def refused(self) -> bool:
        return self.wait > 0


def count_reset_request(email: str, address: str) -> ResetDecision:
    """Count a password-reset request and decide what becomes of it.

    Refused (with a wait to show) while the address is over its budget; otherwise counted
    against the address and the mailbox, and sent unless the mailbox had already had its
    share of reset emails. Unknown emails are counted exactly like known ones.
    """
    at = now()
    by_address = (ThrottleScope.RESET_ADDRESS, _digest("reset-address", address), "")
    by_email = (ThrottleScope.RESET_EMAIL, _digest("reset-email", normalize_email(email)), "")
    locks = dict(
        LoginThrottle.objects.filter(
            Q(scope=by_address[0], key=by_address[1]) | Q(scope=by_email[0], key=by_email[1]),
            locked_until__gt=at,
        ).values_list("scope", "locked_until")
    )
    if ThrottleScope.RESET_ADDRESS in locks:
        return ResetDecision(send=False, wait=_wait(locks[ThrottleScope.RESET_ADDRESS], at))
    _count([by_address, by_email])
    return ResetDecision(send=ThrottleScope.RESET_EMAIL not in locks, wait=0)


def record_success(email: str, address: str, admission: Admission) -> None:
    """A correct password clears its pair, and takes back the count `admit` put on its
    address (the address's earlier failures stay: spraying continues)."""
    pair, by_address = _keys(email, address)
    LoginThrottle.objects.filter(scope=pair[0], key=pair[1]).delete()
    with transaction.atomic():
        row = (
            LoginThrottle.objects.select_for_update()
            .filter(scope=by_address[0], key=by_address[1])
            .first()
        )
        if row is None:
            return
        if admission.locked_address and row.locked_until and row.locked_until > admission.at:
            # This attempt's count locked the address; it was not a failure after all.
            row.locked_until = None
            row.lockouts = max(0, row.lockouts - 1)
            row.failures = ADDRESS.limit - 1
        elif row.failures > 0 and row.window_started_at <= admission.at:
            row.failures -= 1
        else:
            return
        row.save()


def clear_account(email: str) -> None:
    """After a password reset: the owner proved control of the mailbox; lift its pairs."""
    LoginThrottle.objects.filter(
        scope=ThrottleScope.PAIR, account=_digest("account", normalize_email(email))
    ).delete()


def purge(older_than: timedelta = FORGET_AFTER) -> int:
    """Delete counters with no failure for `older_than` and no lock in force."""
    at = now()
    deleted, _ = (
        LoginThrottle.objects.filter(last_failure_at__lt=at - older_than)
        .exclude(locked_until__gt=at)
        .delete()
    )
    return deleted


def minutes(seconds: int) -> int:
    """A wait as the whole minutes shown to people (never 'try again in 0 minutes')."""
    return max(1, math.ceil(seconds / 60))
