"""Appending to the audit trail. Called inside the transaction of the change it records."""

import hashlib
import json
from datetime import date, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .actors import Actor, SystemActor
from .models import AuditAction, AuditEvent, AuditHead

GENESIS = "0" * 64
_DECLARED = frozenset(AuditAction)


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


def _who(actor: Actor) -> tuple[int | None, str]:
    """The actor's id and label as the audit row stores them: a user by id and email, a
    system actor by its label alone."""
    if isinstance(actor, SystemActor):
        return None, actor.value
    if isinstance(actor, AbstractBaseUser):
        return actor.pk, actor.get_username()
    raise TypeError(f"audit.record needs a user or a SystemActor as the actor, not {actor!r}")


def record(
    *,
    actor: Actor,
    action: AuditAction,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    client_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. Must run inside the transaction making the change.

    An action not declared in `AuditAction`, or no actor, is refused before anything is
    written: the trail names every change and who made it.
    """
    if action not in _DECLARED:
        raise ValueError(f"undeclared audit action {action!r}: add it to AuditAction")
    actor_id, actor_label = _who(actor)
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change")
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
        actor_id,
        actor_label,
        str(action),
        object_type,
        str(object_id),
        client_id,
        data,
    )
    event = AuditEvent.objects.create(
        id=event_id,
        occurred_at=occurred,
        actor_id=actor_id,
        actor_label=actor_label,
        action=str(action),
        object_type=object_type,
        object_id=str(object_id),
        client_id=client_id,
        data=data,
        prev_hash=head.last_hash,
        hash=digest,
    )
    AuditHead.objects.filter(id=1).update(last_event_id=event_id, last_hash=digest)
    return event
