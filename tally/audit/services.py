"""Appending to the audit trail. Called inside the transaction of the change it records."""

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    def default(o: Any) -> str:
        if isinstance(o, datetime | date):
            return o.isoformat()
        return str(o)

    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
    )


def chain_hash(
    prev_hash: str,
    event_id: int,
    occurred_at: str,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    client_id: int | None,
    data: str,
) -> str:
    material = canonical_json(
        [
            prev_hash,
            event_id,
            occurred_at,
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            client_id,
            data,
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in user, or the system (a command, a scheduler)."""

    id: int | None
    label: str

    @classmethod
    def of(cls, user: Any) -> "Actor":
        if user is None:
            return SYSTEM
        if isinstance(user, Actor):
            return user
        return cls(id=user.pk, label=user.email)


SYSTEM = Actor(id=None, label="system")


def record(
    *,
    actor: Any,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    client_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. Must run inside the transaction making the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change")
    who = Actor.of(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        if client_id is None:
            client_id = getattr(obj, "client_id", None)
    head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
    event_id = head.last_event_id + 1
    occurred = timezone.now()
    data = canonical_json({"before": before, "after": after})
    digest = chain_hash(
        head.last_hash,
        event_id,
        occurred.isoformat(),
        who.id,
        who.label,
        action,
        object_type,
        str(object_id),
        client_id,
        data,
    )
    event = AuditEvent.objects.create(
        id=event_id,
        occurred_at=occurred,
        actor_id=who.id,
        actor_label=who.label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        client_id=client_id,
        data=data,
        prev_hash=head.last_hash,
        hash=digest,
    )
    AuditHead.objects.filter(id=1).update(last_event_id=event_id, last_hash=digest)
    return event
